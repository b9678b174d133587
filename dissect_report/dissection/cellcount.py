"""A fused CPU kernel for the statistics pass: upsample, bin and count in one loop.

Usage::

    from dissect_report.dissection.cellcount import count_pixels_cpu, available
    if available():
        spoilt, resolved = count_pixels_cpu(acts, labels, s, e1, inv_w, counts, has_bad)

:meth:`dissect_report.dissection.stats.LayerStats._count_cells` evaluates the bilinear upsampling by an
even factor ``s`` cell by cell, bins every value and counts ``(unit, bin, label)`` keys with
about twenty tensor operations, each a pass over every value. Under ``--policy iqr`` (resolve
level 0) nearly every cell holds a value to resolve, and those passes cost 5x the quantile
policy's. This kernel does the same arithmetic in one compiled loop (numba, no fused
multiply-add: every step is the same float32 IEEE operation in the same order), so the counts
are identical to the tensor path's (``tests/unit/test_cellcount.py`` compares both on random
data, edges hit exactly, NaN and infinities included).

It runs unit by unit over the image's pixel rows, so the compiler vectorizes the arithmetic:

- each source row is first interpolated along x once (``g[j] * a[r, c0] + f[j] * a[r, c1]``,
  the tensor path's ``top`` / ``bot``), then each pixel row blends two of them along y;
- a pixel whose cell has its four corners finite and below ``e1`` lands in bin 0, whatever
  the blend gives (a bilinear value never exceeds its largest corner, but its float32 rounding
  can, by an ulp), as in the tensor path; pixel rows whose cells are all like that are skipped;
- a value's bin is computed without branches (``edge = t * w + e1`` equals the tensor path's
  ``t / inv_w + e1`` bit for bit: ``w = 1 / inv_w`` is an exact power of two), and counted
  into a small per-unit histogram kept in two copies (even and odd columns), so that runs of
  equal keys do not wait on each other's stores; bin 0 is dropped when the unit is added.

Without numba (``available()`` is False) the tensor path runs; on a GPU it always does.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)

numba: Any
try:  # numba is a dependency; a platform without its wheels falls back to the tensor path
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

_COPIES = 2  # histogram copies, by pixel column parity (a power of two)


def available() -> bool:
    """Whether the fused kernel can run (numba imports)."""
    return numba is not None


def _kernel(
    a: np.ndarray,  # (m, u, h, w) float32
    labels: np.ndarray,  # (m, h*s, w*s) int16 (int32 past 32767 concepts), each in [0, C)
    f: np.ndarray,  # (s,) float32, (k + 0.5) / s
    g: np.ndarray,  # (s,) float32, 1 - f
    e1: np.ndarray,  # (u,) float32
    width: np.ndarray,  # (u,) float32, the bin width, a power of two: exactly 1 / inv_w
    inv_w: np.ndarray,  # (u,) float32
    counts: np.ndarray,  # (u, B, C) int32, bins 1.. added to in place
    spoilt: np.ndarray,  # (u,) int64, non-finite values (in evaluated cells), added to
    resolved: np.ndarray,  # (u,) int64, values counted (bin >= 1), added to
    has_bad: bool,  # the batch holds non-finite activations (else an overflow bins on top)
) -> None:
    m, uc, h, w = a.shape
    s = f.shape[0]
    half = s // 2
    rows, cols = h * s, w * s
    nb = counts.shape[1]
    cc = counts.shape[2]
    zero = np.float32(0.0)
    ninf = np.float32(-np.inf)
    tmax = np.float32(nb - 2)
    one = np.int32(1)
    nil = np.int32(0)
    ncc = np.int32(cc)
    # Each source row interpolated along x over the padded width (cell cj, fraction j at
    # cj * s + j, between source columns max(cj - 1, 0) and min(cj, w - 1): replicate
    # padding); pixel column x sits at x + s/2. below: 1 where both source values are below e1.
    across = np.empty((h, (w + 1) * s), dtype=np.float32)
    below = np.empty((h, (w + 1) * s), dtype=np.int32)
    row_below = np.empty(h, dtype=np.bool_)  # the whole source row below e1
    keys = np.empty(cols, dtype=np.int32)
    hist = np.empty(_COPIES * nb * cc, dtype=np.int64)
    for u in range(uc):
        lo = e1[u]
        iw = inv_w[u]
        wu = width[u]
        bad = 0
        hist[:] = 0
        for n in range(m):
            au = a[n, u]
            for r in range(h):
                all_below = True
                for cj in range(w + 1):
                    p0 = au[r, max(cj - 1, 0)]
                    p1 = au[r, min(cj, w - 1)]
                    # finite and below e1 (NaN compares False, -inf is excluded): evaluated
                    lw = (p0 < lo) & (p1 < lo) & (p0 > ninf) & (p1 > ninf)
                    all_below = all_below & lw
                    flag = np.int32(lw)
                    for j in range(s):
                        across[r, cj * s + j] = g[j] * p0 + f[j] * p1
                        below[r, cj * s + j] = flag
                row_below[r] = all_below
            lab = labels[n]
            for y in range(rows):
                ci = (y + half) // s
                r0 = max(ci - 1, 0)
                r1 = min(ci, h - 1)
                if row_below[r0] and row_below[r1]:
                    continue  # every cell of this pixel row: four corners below e1, bin 0
                i = (y + half) % s
                gi = g[i]
                fi = f[i]
                ly = lab[y]
                a0 = across[r0, half : half + cols]
                a1 = across[r1, half : half + cols]
                b0 = below[r0, half : half + cols]
                b1 = below[r1, half : half + cols]
                if has_bad:
                    for x in range(cols):
                        v = gi * a0[x] + fi * a1[x]
                        live = one - (b0[x] & b1[x])
                        fin = np.isfinite(v)
                        bad += 0 if fin else int(live)
                        live = live if fin else nil
                        t = np.floor((v - lo) * iw)
                        t = t if t >= zero else zero  # below e1 (or NaN): bin 0 below
                        t = t if t <= tmax else tmax
                        k = np.int32(t) + one
                        k = k - one if not (v >= t * wu + lo) else k  # rounded onto an edge
                        keys[x] = k * live * ncc + np.int32(ly[x])
                else:
                    for x in range(cols):
                        v = gi * a0[x] + fi * a1[x]
                        live = one - (b0[x] & b1[x])
                        t = np.floor((v - lo) * iw)
                        t = t if t >= zero else zero
                        t = t if t <= tmax else tmax
                        k = np.int32(t) + one
                        k = k - one if not (v >= t * wu + lo) else k
                        keys[x] = k * live * ncc + np.int32(ly[x])
                for x in range(cols):
                    hist[(x & (_COPIES - 1)) * (nb * cc) + keys[x]] += 1
        total = 0
        for b in range(1, nb):  # bin 0 is not split by concept: dropped
            for c in range(cc):
                both = 0
                for q in range(_COPIES):
                    both += hist[q * nb * cc + b * cc + c]
                counts[u, b, c] += both
                total += both
        resolved[u] += total
        spoilt[u] += bad


_compiled = None


def _get() -> object:
    global _compiled
    if _compiled is None:
        assert numba is not None
        _compiled = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")(_kernel)
    return _compiled


def fractions(s: int) -> tuple[np.ndarray, np.ndarray]:
    """The bilinear weights of an even factor ``s``: ``f = (k + 0.5) / s`` and ``g = 1 - f``."""
    f = (torch.arange(s, dtype=torch.float32) + 0.5) / s
    return f.numpy(), (1.0 - f).numpy()


def count_pixels_cpu(
    a: torch.Tensor,
    labels: torch.Tensor,
    s: int,
    e1: torch.Tensor,
    inv_w: torch.Tensor,
    counts: torch.Tensor,
    has_bad: bool,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Add the resolved ``(unit, bin, label)`` counts of ``a`` to ``counts`` in place.

    ``a`` ``(m, u, h, w)`` float32 CPU activations, ``labels`` ``(m, h*s, w*s)`` int64 in
    ``[0, C)``, ``e1`` / ``inv_w`` ``(u,)`` float32, ``counts`` ``(u, B, C)`` int32 CPU (a
    view of the accumulator). Returns per unit ``(u,)`` int64: the non-finite values inside
    the image (counted only when ``has_bad``, as the tensor path) and the values counted;
    None (nothing counted) when a bin width is not an exact power of two, for the tensor path.
    """
    width = 1.0 / inv_w
    if not bool((width * inv_w == 1.0).all()):  # pragma: no cover - edges make powers of two
        return None
    concepts = counts.shape[2]
    if labels.numel() and not (int(labels.min()) >= 0 and int(labels.max()) < concepts):
        raise ValueError(f"labels outside [0, {concepts})")
    f, g = fractions(s)
    spoilt = np.zeros(a.shape[1], dtype=np.int64)
    resolved = np.zeros(a.shape[1], dtype=np.int64)
    kernel = _get()
    kernel(  # type: ignore[operator]
        a.contiguous().numpy(),
        # the narrowest labels: a unit's pass reads them all again
        labels.to(torch.int16 if concepts <= 2**15 else torch.int32).contiguous().numpy(),
        f,
        g,
        e1.contiguous().numpy(),
        width.contiguous().numpy(),
        inv_w.contiguous().numpy(),
        counts.numpy(),
        spoilt,
        resolved,
        has_bad,
    )
    return spoilt, resolved


def _mask_kernel(
    a: np.ndarray,  # (m, u, h, w) float32
    f: np.ndarray,  # (s,) float32
    g: np.ndarray,  # (s,) float32
    thr: np.ndarray,  # (u,) float32
    out: np.ndarray,  # (u, (h+1)*s, (w+1)*s) int64, added to: samples where v >= thr
) -> None:
    m, uc, h, w = a.shape
    s = f.shape[0]
    top = np.empty(s, dtype=np.float32)
    bot = np.empty(s, dtype=np.float32)
    for n in range(m):
        for u in range(uc):
            t = thr[u]
            for ci in range(h + 1):
                r0 = max(ci - 1, 0)
                r1 = min(ci, h - 1)
                for cj in range(w + 1):
                    c0 = max(cj - 1, 0)
                    c1 = min(cj, w - 1)
                    p00 = a[n, u, r0, c0]
                    p01 = a[n, u, r0, c1]
                    p10 = a[n, u, r1, c0]
                    p11 = a[n, u, r1, c1]
                    if p00 < t and p01 < t and p10 < t and p11 < t:
                        continue  # a bilinear value never exceeds its largest corner
                    for j in range(s):
                        top[j] = g[j] * p00 + f[j] * p01
                        bot[j] = g[j] * p10 + f[j] * p11
                    for i in range(s):
                        gi = g[i]
                        fi = f[i]
                        for j in range(s):
                            v = gi * top[j] + fi * bot[j]
                            if v >= t and np.isfinite(v):
                                out[u, ci * s + i, cj * s + j] += 1


_compiled_mask = None


def mask_counts_cpu(a: torch.Tensor, s: int, thresholds: torch.Tensor) -> np.ndarray:
    """``(u, h*s, w*s)`` int64: per pixel, the samples of ``a`` ``(m, u, h, w)`` whose bilinear
    upsampling by the even factor ``s`` (exactly :func:`~dissect_report.dissection.stats.
    bilinear_upsample`) is finite and ``>= thresholds`` ``(u,)`` there."""
    global _compiled_mask
    if _compiled_mask is None:
        assert numba is not None
        _compiled_mask = numba.njit(cache=True, nogil=True, error_model="numpy")(_mask_kernel)
    m, uc, h, w = a.shape
    f, g = fractions(s)
    out = np.zeros((uc, (h + 1) * s, (w + 1) * s), dtype=np.int64)
    _compiled_mask(  # type: ignore[operator]
        a.contiguous().numpy(), f, g, thresholds.contiguous().numpy(), out
    )
    return out[:, s // 2 : s // 2 + h * s, s // 2 : s // 2 + w * s]

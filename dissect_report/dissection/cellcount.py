"""A fused CPU kernel for the statistics pass: upsample, bin and count in one loop.

Usage::

    from dissect_report.dissection.cellcount import count_cells_cpu, available
    if available():
        spoilt, resolved = count_cells_cpu(acts, cells, s, e1, inv_w, counts, has_bad)

:meth:`dissect_report.dissection.stats.LayerStats._count_cells` evaluates the bilinear upsampling by an
even factor ``s`` cell by cell, bins every value and counts ``(unit, bin, label)`` keys with
about twenty tensor operations, each a pass over every value. Under ``--policy iqr`` (resolve
level 0) nearly every cell holds a value to resolve, and those passes cost 5x the quantile
policy's. This kernel does the same arithmetic in one loop per cell (compiled by numba, no
fused multiply-add: every step is the same float32 IEEE operation in the same order), skips a
cell only when its four corners are finite and below ``e1`` (a bilinear value never exceeds
its largest corner), and adds to the counts in place. The counts are identical to the tensor
path's (``tests/unit/test_cellcount.py`` compares both, edges hit exactly included).

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


def available() -> bool:
    """Whether the fused kernel can run (numba imports)."""
    return numba is not None


def _kernel(
    a: np.ndarray,  # (m, u, h, w) float32
    cells: np.ndarray,  # (m, (h+1)*(w+1), s*s) int32, label C = outside the image
    f: np.ndarray,  # (s,) float32, (k + 0.5) / s
    g: np.ndarray,  # (s,) float32, 1 - f
    e1: np.ndarray,  # (u,) float32
    inv_w: np.ndarray,  # (u,) float32, a power of two
    counts: np.ndarray,  # (u, B, C) int32, added to in place
    spoilt: np.ndarray,  # (u,) int64, non-finite values inside the image, added to
    resolved: np.ndarray,  # (u,) int64, values counted (bin >= 1, inside), added to
    has_bad: bool,  # the batch holds non-finite activations (else an overflow bins on top)
) -> None:
    m, uc, h, w = a.shape
    s = f.shape[0]
    nb = counts.shape[1]
    concepts = counts.shape[2]
    top = np.empty(s, dtype=np.float32)
    bot = np.empty(s, dtype=np.float32)
    one = np.float32(1.0)
    for n in range(m):
        for u in range(uc):
            lo = e1[u]
            iw = inv_w[u]
            for ci in range(h + 1):
                r0 = max(ci - 1, 0)  # replicate padding: row ci of the padded map
                r1 = min(ci, h - 1)
                for cj in range(w + 1):
                    c0 = max(cj - 1, 0)
                    c1 = min(cj, w - 1)
                    p00 = a[n, u, r0, c0]
                    p01 = a[n, u, r0, c1]
                    p10 = a[n, u, r1, c0]
                    p11 = a[n, u, r1, c1]
                    # finite and below e1 (NaN compares False, so it is evaluated)
                    if p00 < lo and p01 < lo and p10 < lo and p11 < lo:
                        continue
                    lbl = cells[n, ci * (w + 1) + cj]
                    for j in range(s):
                        top[j] = g[j] * p00 + f[j] * p01
                        bot[j] = g[j] * p10 + f[j] * p11
                    for i in range(s):
                        gi = g[i]
                        fi = f[i]
                        for j in range(s):
                            label = lbl[i * s + j]
                            v = gi * top[j] + fi * bot[j]
                            if has_bad and not np.isfinite(v):
                                if label < concepts:
                                    spoilt[u] += 1
                                continue
                            if v < lo or label >= concepts:
                                continue  # bin 0 or outside the image: not split by concept
                            t = np.floor((v - lo) * iw)
                            if t > nb - 2:
                                t = np.float32(nb - 2)
                            b = t + one
                            edge = (b - one) / iw + lo
                            if v < edge:
                                b = b - one
                            k = int(b)
                            if k >= 1:
                                counts[u, k, label] += 1
                                resolved[u] += 1


_compiled = None


def _get() -> object:
    global _compiled
    if _compiled is None:
        assert numba is not None
        _compiled = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")(_kernel)
    return _compiled


def count_cells_cpu(
    a: torch.Tensor,
    cells: torch.Tensor,
    s: int,
    e1: torch.Tensor,
    inv_w: torch.Tensor,
    counts: torch.Tensor,
    has_bad: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Add the resolved ``(unit, bin, label)`` counts of ``a`` to ``counts`` in place.

    ``a`` ``(m, u, h, w)`` float32 CPU activations, ``cells`` ``(m, (h+1)(w+1), s*s)`` int32
    labels in cell order (:func:`dissect_report.dissection.stats._label_cells`), ``e1`` / ``inv_w``
    ``(u,)`` float32, ``counts`` ``(u, B, C)`` int32 CPU (a view of the accumulator). Returns
    per unit ``(u,)`` int64: the non-finite values inside the image (counted only when
    ``has_bad``, as the tensor path) and the values counted.
    """
    f = ((torch.arange(s, dtype=torch.float32) + 0.5) / s).numpy()
    g = (1.0 - torch.from_numpy(f)).numpy()
    spoilt = np.zeros(a.shape[1], dtype=np.int64)
    resolved = np.zeros(a.shape[1], dtype=np.int64)
    kernel = _get()
    kernel(  # type: ignore[operator]
        a.contiguous().numpy(),
        cells.contiguous().numpy(),
        f,
        g,
        e1.contiguous().numpy(),
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
    f = ((torch.arange(s, dtype=torch.float32) + 0.5) / s).numpy()
    g = (1.0 - torch.from_numpy(f)).numpy()
    out = np.zeros((uc, (h + 1) * s, (w + 1) * s), dtype=np.int64)
    _compiled_mask(  # type: ignore[operator]
        a.contiguous().numpy(), f, g, thresholds.contiguous().numpy(), out
    )
    return out[:, s // 2 : s // 2 + h * s, s // 2 : s // 2 + w * s]

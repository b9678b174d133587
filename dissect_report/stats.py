"""The one-pass, mergeable statistics of one layer: joint histograms and top-k samples.

Usage::

    from dissect_report.stats import LayerStats, calibrate_edges
    edges = calibrate_edges(calibration_acts, bins=256, resolve_level=0.9)   # (U, B+1)
    acc = LayerStats(edges, concepts=13, top_k=12)
    for acts, labels, ids in batches:      # (n, U, h, w) float, (n, S, S) int64, (n,) int64
        acc.add(acts, labels, ids)
    state = acc.state()                    # LayerState; state_a.merge(state_b) adds shards

Per unit, bin 0 is ``(-inf, e1)`` with ``e1`` the unit's calibration quantile at
``resolve_level``; bins ``1..B-2`` are uniform ``[e, e + w)`` with ``w`` a power of two (so
every edge is exact in float32), and bin ``B-1`` is ``[top, inf)``. Only pixels in bins
``>= 1`` are split by concept; that is where the speed comes from, because activations are
upsampled (bilinear, ``align_corners=False``) only inside cells where a corner reaches ``e1``:
a bilinear value never exceeds the largest of its four source values.

Counts are integers, so adding states in any order, from any batching, sharding or resume,
gives identical results. Top-k ties are broken by sample id for the same reason.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dissect_report.errors import ReportError

_PAD_ID = np.iinfo(np.int64).max  # fills top-k slots before k samples were seen
_CHUNK_ELEMENTS = 1 << 24  # upsampled elements per chunk: bounds memory at any batch size


@dataclass(frozen=True)
class LayerState:
    """The raw mergeable state (the keys of ``stats.npz``)."""

    edges: np.ndarray  # (U, B+1) float64
    counts: np.ndarray  # (U, B, C) int64
    unit_hist: np.ndarray  # (U, B) int64
    concept_totals: np.ndarray  # (C,) int64
    topk_values: np.ndarray  # (U, K) float64
    topk_ids: np.ndarray  # (U, K) int64
    nonfinite: int
    samples: int

    @property
    def units(self) -> int:
        return int(self.edges.shape[0])

    def merge(self, other: LayerState) -> LayerState:
        """The state of both passes together (exact; order does not matter)."""
        if self.edges.shape != other.edges.shape or not np.array_equal(self.edges, other.edges):
            raise ReportError("cannot merge statistics made with different bin edges")
        if self.counts.shape != other.counts.shape or self.topk_ids.shape != other.topk_ids.shape:
            raise ReportError("cannot merge statistics of different shapes")
        values, ids = merge_topk(
            np.concatenate([self.topk_values, other.topk_values], axis=1),
            np.concatenate([self.topk_ids, other.topk_ids], axis=1),
            self.topk_ids.shape[1],
        )
        return LayerState(
            edges=self.edges,
            counts=self.counts + other.counts,
            unit_hist=self.unit_hist + other.unit_hist,
            concept_totals=self.concept_totals + other.concept_totals,
            topk_values=values,
            topk_ids=ids,
            nonfinite=self.nonfinite + other.nonfinite,
            samples=self.samples + other.samples,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "edges": self.edges,
            "counts": self.counts,
            "unit_hist": self.unit_hist,
            "concept_totals": self.concept_totals,
            "topk_values": self.topk_values,
            "topk_ids": self.topk_ids,
            "nonfinite": np.array(self.nonfinite, dtype=np.int64),
            "samples": np.array(self.samples, dtype=np.int64),
        }

    @classmethod
    def from_arrays(
        cls, data: dict[str, np.ndarray] | np.lib.npyio.NpzFile, where: str = ""
    ) -> LayerState:
        try:
            return cls(
                edges=np.asarray(data["edges"], dtype=np.float64),
                counts=np.asarray(data["counts"], dtype=np.int64),
                unit_hist=np.asarray(data["unit_hist"], dtype=np.int64),
                concept_totals=np.asarray(data["concept_totals"], dtype=np.int64),
                topk_values=np.asarray(data["topk_values"], dtype=np.float64),
                topk_ids=np.asarray(data["topk_ids"], dtype=np.int64),
                nonfinite=int(data["nonfinite"]),
                samples=int(data["samples"]),
            )
        except KeyError as exc:
            raise ReportError(f"statistics {where!r} lack key {exc.args[0]!r}") from None

    @classmethod
    def load(cls, path: str | Path) -> LayerState:
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls.from_arrays(data, str(path))
        except (OSError, ValueError) as exc:
            raise ReportError(f"cannot read statistics {str(path)!r}: {exc}") from None

    def topk(self) -> list[list[tuple[int, float]]]:
        """Per unit, the (sample id, peak) pairs actually seen, best first."""
        return [
            [(int(i), float(v)) for i, v in zip(ids, vals, strict=True) if i != _PAD_ID]
            for ids, vals in zip(self.topk_ids, self.topk_values, strict=True)
        ]


def merge_topk(values: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``k`` best per row: highest value first, ties by lower sample id."""
    order = np.lexsort((ids, -values), axis=-1)[:, :k]
    return np.take_along_axis(values, order, 1), np.take_along_axis(ids, order, 1)


def _exact_pow2(x: float) -> float:
    return math.ldexp(1.0, math.ceil(math.log2(x)))


def _unit_rows(acts: torch.Tensor) -> np.ndarray:
    x = acts.detach().to(torch.float64).transpose(0, 1).reshape(acts.shape[1], -1).numpy()
    return np.where(np.isfinite(x), x, np.nan)


def _interp_matrix(n: int, size: int) -> torch.Tensor:
    """``(size, n)``: row ``Y`` holds the weights of 1-D linear upsampling at pixel ``Y``."""
    eye = torch.eye(n).unsqueeze(1)  # (n, 1, n): one impulse per row
    return F.interpolate(eye, size=size, mode="linear", align_corners=False)[:, 0].T


def calibrate_edges(
    acts: torch.Tensor,
    bins: int,
    resolve_level: float,
    size: tuple[int, int] | None = None,
    stride: int = 4,
) -> np.ndarray:
    """Per-unit bin edges ``(U, bins+1)`` from calibration activations ``(M, U, h, w)``.

    Every shard calls this on the same calibration samples, so every shard gets the same
    edges. ``e1`` is the ``resolve_level`` quantile of the activations as the pass sees them:
    upsampled to ``size`` (every ``stride``-th pixel), since upsampling lowers the peaks.
    Bins ``1..bins-2`` are uniform with a power-of-two width aligned to a multiple of it, so
    each edge is exact in float32 and a value's bin is found by one multiplication.
    """
    x = _unit_rows(acts)
    units = x.shape[0]
    seen = x
    if size is not None and tuple(size) != tuple(acts.shape[2:]):
        # Every stride-th pixel of the bilinear upsampling, as two small matrix products.
        wy = _interp_matrix(acts.shape[2], size[0])[::stride]
        wx = _interp_matrix(acts.shape[3], size[1])[::stride]
        seen = _unit_rows(torch.matmul(torch.matmul(wy, acts.float()), wx.T))
    edges = np.empty((units, bins + 1), dtype=np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN units
        q = np.nanquantile(seen, resolve_level, axis=1, method="lower")
        lo = np.nanmin(x, axis=1)
        hi = np.nanmax(x, axis=1)
    for u in range(units):
        e1, low, high = float(q[u]), float(lo[u]), float(hi[u])
        if not math.isfinite(e1):
            e1, low, high = 0.0, 0.0, 1.0
        if e1 <= low:  # a spike at the minimum (ReLU zeros): keep it out of the resolved bins
            e1 = float(np.nextafter(np.float32(low), np.float32(np.inf)))
        span = high - e1
        if not span > 0:
            span = max(abs(e1), 1.0) * 1e-3
        width = _exact_pow2(span * 1.1 / (bins - 2))
        if e1 != 0.0:  # keep |e1| / width < 2**15 so every edge has an exact float32
            width = max(width, math.ldexp(1.0, math.frexp(abs(e1))[1] - 15))
        width = max(width, math.ldexp(1.0, -100))
        start = math.ceil(e1 / width) * width
        edges[u, 0] = -np.inf
        edges[u, 1:bins] = start + width * np.arange(bins - 1)
        edges[u, bins] = np.inf
    assert np.array_equal(edges.astype(np.float32).astype(np.float64), edges)
    return edges


class LayerStats:
    """Accumulates one layer's :class:`LayerState` over batches (see the module docstring)."""

    def __init__(self, edges: np.ndarray, concepts: int, top_k: int) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        units, nb = self.edges.shape
        self.units, self.bins, self.concepts, self.top_k = units, nb - 1, concepts, top_k
        e32 = torch.from_numpy(self.edges.astype(np.float32))
        self._edges32 = e32.reshape(-1).contiguous()  # (U*(B+1),) for gathers
        self._e1 = e32[:, 1].contiguous()
        self._inv_w = (1.0 / (e32[:, 2] - e32[:, 1])).contiguous()  # powers of two: exact
        self._counts = torch.zeros(units * self.bins * concepts, dtype=torch.int64)
        self._low = torch.zeros(units, dtype=torch.int64)  # pixels in bin 0
        self._concept_totals = torch.zeros(concepts, dtype=torch.int64)
        self._topk_values = np.full((units, top_k), -np.inf)
        self._topk_ids = np.full((units, top_k), _PAD_ID, dtype=np.int64)
        self.nonfinite = 0
        self.samples = 0

    @classmethod
    def from_state(cls, state: LayerState) -> LayerStats:
        acc = cls(state.edges, state.counts.shape[2], state.topk_ids.shape[1])
        acc._counts += torch.from_numpy(state.counts.reshape(-1).copy())
        acc._low += torch.from_numpy(state.unit_hist[:, 0].copy())
        acc._concept_totals += torch.from_numpy(state.concept_totals.copy())
        acc._topk_values = state.topk_values.copy()
        acc._topk_ids = state.topk_ids.copy()
        acc.nonfinite, acc.samples = state.nonfinite, state.samples
        return acc

    def state(self) -> LayerState:
        counts = self._counts.view(self.units, self.bins, self.concepts).numpy().copy()
        unit_hist = counts.sum(axis=2)
        unit_hist[:, 0] += self._low.numpy()
        return LayerState(
            edges=self.edges,
            counts=counts,
            unit_hist=unit_hist,
            concept_totals=self._concept_totals.numpy().copy(),
            topk_values=self._topk_values.copy(),
            topk_ids=self._topk_ids.copy(),
            nonfinite=self.nonfinite,
            samples=self.samples,
        )

    @torch.no_grad()
    def add(self, acts: torch.Tensor, labels: torch.Tensor, ids: torch.Tensor) -> None:
        """Add a batch: activations ``(n, U, h, w)``, labels ``(n, S, T)``, sample ids ``(n,)``."""
        acts = acts.detach().to("cpu", torch.float32).contiguous()
        labels = labels.detach().to("cpu", torch.int64).contiguous()
        n, units, h, w = acts.shape
        assert units == self.units and labels.shape[0] == n and ids.shape[0] == n
        finite = torch.isfinite(acts)
        bad = int(finite.numel() - int(finite.sum()))
        self.nonfinite += bad
        self.samples += n
        self._concept_totals += torch.bincount(labels.reshape(-1), minlength=self.concepts)
        self._add_topk(torch.where(finite, acts, -math.inf).amax(dim=(2, 3)), ids)
        S, T = labels.shape[1:]
        per_sample = units * S * T
        step = max(1, _CHUNK_ELEMENTS // per_sample)
        for i in range(0, n, step):
            a, lab = acts[i : i + step], labels[i : i + step]
            if (h, w) == (S, T):
                vals, unit, lbl, nfpix = self._resolve_same(a, lab, bad > 0)
            elif (s := even_factor(h, w, (S, T))) is not None:
                vals, unit, lbl, nfpix = self._resolve_cells(a, lab, s, bad > 0)
            else:  # any other size ratio: upsample everything, then as if same size
                up = F.interpolate(a, size=(S, T), mode="bilinear", align_corners=False)
                vals, unit, lbl, nfpix = self._resolve_same(up, lab, bad > 0)
            self._bin_and_count(vals, unit, lbl)
            resolved = torch.bincount(unit, minlength=units)
            self._low += a.shape[0] * S * T - resolved - nfpix

    def _add_topk(self, peaks: torch.Tensor, ids: torch.Tensor) -> None:
        values = np.concatenate([self._topk_values, peaks.to(torch.float64).numpy().T], axis=1)
        all_ids = np.concatenate(
            [self._topk_ids, np.broadcast_to(ids.numpy().astype(np.int64), (self.units, len(ids)))],
            axis=1,
        )
        self._topk_values, self._topk_ids = merge_topk(values, all_ids, self.top_k)

    def _resolve_same(
        self, a: torch.Tensor, lab: torch.Tensor, has_bad: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        n, units, h, w = a.shape
        keep = a >= self._e1.view(1, units, 1, 1)
        nfpix = torch.zeros(units, dtype=torch.int64)
        if has_bad:
            fin = torch.isfinite(a)
            keep &= fin
            nfpix = (~fin).sum(dim=(0, 2, 3))
        flat = keep.view(-1).nonzero().squeeze(1)
        vals = a.view(-1)[flat]
        pix = flat % (h * w)
        rest = flat // (h * w)
        unit = rest % units
        lbl = lab.view(-1)[(rest // units) * (h * w) + pix]
        return vals, unit, lbl, nfpix

    def _resolve_cells(
        self, a: torch.Tensor, lab: torch.Tensor, s: int, has_bad: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Bilinear upsampling by an even factor ``s``, evaluated only in candidate cells.

        With replicate padding, the upsampled image is a grid of ``(h+1, w+1)`` cells of
        ``s x s`` pixels, each interpolating its 4 corners with the same fractions
        ``(k + 0.5) / s``, cropped by ``s/2`` at the borders (this equals
        ``F.interpolate(..., align_corners=False)`` up to float32 rounding; see
        :func:`bilinear_upsample` for the exact dense equivalent).
        """
        n, units, h, w = a.shape
        S, T = h * s, w * s
        pad = F.pad(a, (1, 1, 1, 1), mode="replicate")  # (n, U, h+2, w+2)
        # A bilinear value never exceeds its largest corner: a cell matters only if some
        # corner reaches e1 (or is not finite, to count what it spoils).
        high = pad >= self._e1.view(1, units, 1, 1)
        if has_bad:
            high |= ~torch.isfinite(pad)
        high = high[..., :, :-1] | high[..., :, 1:]
        high = high[..., :-1, :] | high[..., 1:, :]  # (n, U, h+1, w+1)
        cand = high.reshape(-1).nonzero().squeeze(1)
        cj = cand % (w + 1)
        rest = cand // (w + 1)
        ci = rest % (h + 1)
        rest = rest // (h + 1)
        unit_c = rest % units
        sample_c = rest // units
        base = ((sample_c * units + unit_c) * (h + 2) + ci) * (w + 2) + cj
        flat = pad.reshape(-1)
        p00, p01 = flat[base], flat[base + 1]
        p10, p11 = flat[base + w + 2], flat[base + w + 3]
        f = (torch.arange(s, dtype=torch.float32) + 0.5) / s
        g = 1.0 - f
        top = g * p00[:, None] + f * p01[:, None]  # (K, s) along x
        bot = g * p10[:, None] + f * p11[:, None]
        v = g.view(1, s, 1) * top[:, None, :] + f.view(1, s, 1) * bot[:, None, :]  # (K, s, s)
        keep = v >= self._e1[unit_c].view(-1, 1, 1)
        # Border cells hang s/2 pixels over the image: mask those rows / columns out.
        offs = torch.arange(s) + (s // 2 - s)
        row_ok = (torch.arange(h + 1)[:, None] * s + offs >= 0) & (
            torch.arange(h + 1)[:, None] * s + offs < S
        )  # (h+1, s)
        col_ok = (torch.arange(w + 1)[:, None] * s + offs >= 0) & (
            torch.arange(w + 1)[:, None] * s + offs < T
        )
        edge = (ci == 0) | (ci == h) | (cj == 0) | (cj == w)
        if bool(edge.any()):
            border = edge.nonzero().squeeze(1)
            keep[border] &= row_ok[ci[border]][:, :, None] & col_ok[cj[border]][:, None, :]
        nfpix = torch.zeros(units, dtype=torch.int64)
        if has_bad:
            fin = torch.isfinite(v)
            keep &= fin
            valid = row_ok[ci][:, :, None] & col_ok[cj][:, None, :]
            bad_cells = ((~fin) & valid).sum(dim=(1, 2))
            nfpix = torch.bincount(unit_c, weights=bad_cells.double(), minlength=units).long()
        idx = keep.view(-1).nonzero().squeeze(1)
        vals = v.view(-1)[idx]
        cell = idx // (s * s)
        # Label index = the cell's top-left pixel + the pixel's offset inside the cell.
        lbase = (sample_c * S + ci * s + (s // 2 - s)) * T + cj * s + (s // 2 - s)
        inner = torch.arange(s)
        offset = (inner[:, None] * T + inner[None, :]).reshape(-1)
        lbl = lab.view(-1)[lbase[cell] + offset[idx % (s * s)]]
        return vals, unit_c[cell], lbl, nfpix

    def _bin_and_count(self, vals: torch.Tensor, unit: torch.Tensor, lbl: torch.Tensor) -> None:
        if vals.numel() == 0:
            return
        nb = self.bins
        b = torch.floor((vals - self._e1[unit]) * self._inv_w[unit]).long()
        b.clamp_(0, nb - 2)
        b += 1
        # The edges are exact and 1/w is a power of two, so only the subtraction rounds, and
        # only upwards onto an edge: one exact comparison corrects it.
        b -= (vals < self._edges32[unit * (nb + 1) + b]).long()
        self._counts += torch.bincount(
            (unit * nb + b) * self.concepts + lbl, minlength=self._counts.numel()
        )


def even_factor(h: int, w: int, size: tuple[int, int]) -> int | None:
    """The upsampling factor when ``size`` is an even multiple of ``(h, w)``, else None."""
    S, T = size
    if S % h == 0 and T % w == 0 and S // h == T // w and (S // h) % 2 == 0:
        return S // h
    return None


def bilinear_upsample(acts: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Dense bilinear upsampling with exactly the rounding of the statistics pass.

    For even factors this is the cell formula of :meth:`LayerStats._resolve_cells` (equal to
    ``F.interpolate(..., align_corners=False)`` within float32 rounding); otherwise it is
    ``F.interpolate``. Use it to reproduce a unit's thresholded mask exactly.
    """
    n, units, h, w = acts.shape
    if (h, w) == tuple(size):
        return acts
    s = even_factor(h, w, size)
    if s is None:
        return F.interpolate(acts, size=size, mode="bilinear", align_corners=False)
    pad = F.pad(acts, (1, 1, 1, 1), mode="replicate")
    f = (torch.arange(s, dtype=acts.dtype) + 0.5) / s
    g = 1.0 - f
    corners = [pad[..., :-1, :-1], pad[..., :-1, 1:], pad[..., 1:, :-1], pad[..., 1:, 1:]]
    p00, p01, p10, p11 = (c[..., None, None] for c in corners)
    top = g * p00 + f * p01  # (n, U, h+1, w+1, 1, s) along x
    bot = g * p10 + f * p11
    v = g.view(s, 1) * top + f.view(s, 1) * bot  # (n, U, h+1, w+1, s, s)
    v = v.permute(0, 1, 2, 4, 3, 5).reshape(n, units, (h + 1) * s, (w + 1) * s)
    return v[..., s // 2 : s // 2 + h * s, s // 2 : s // 2 + w * s]


def downsample_labels(labels: torch.Tensor, size: tuple[int, int], concepts: int) -> torch.Tensor:
    """The most frequent label per block (ties: lowest index): ``--downsample-segmentation``."""
    n, S, T = labels.shape
    h, w = size
    if (h, w) == (S, T):
        return labels
    if S % h or T % w:
        return F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()
    onehot = F.one_hot(labels, concepts).permute(0, 3, 1, 2).float()
    votes = F.avg_pool2d(onehot, (S // h, T // w))
    return votes.argmax(dim=1)

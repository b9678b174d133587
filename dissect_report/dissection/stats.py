"""The one-pass, mergeable statistics of one layer: joint histograms and top-k samples.

Usage::

    from dissect_report.dissection.stats import LayerStats, calibrate_edges
    edges = calibrate_edges(calibration_acts, bins=256, resolve_level=0.9)   # (U, B+1)
    acc = LayerStats(edges, concepts=13, top_k=12, device="cpu")   # or the activations' device
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

The state also keeps every unit's peak activation on a fixed subset of at most
:data:`PEAK_SAMPLES` samples: those with the smallest :func:`sample_hash` of their id. The
subset is a uniform random sample that depends only on the ids seen, so it merges exactly
(keep the smallest hashes) and its size does not grow with the run (``U x 1024`` float32 on
the host: 2 MB at 512 units); the site draws each unit's examples from several activation
bands out of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dissect_report.dissection import cellcount
from dissect_report.dissection.calibration import calibrate_edges
from dissect_report.errors import ReportError

__all__ = [
    "LayerState",
    "LayerStats",
    "bilinear_upsample",
    "calibrate_edges",
    "downsample_labels",
    "even_factor",
    "merge_topk",
    "merge_topk_tensors",
    "PEAK_SAMPLES",
    "merge_peaks",
    "sample_hash",
]

_PAD_ID = np.iinfo(np.int64).max  # fills top-k slots before k samples were seen
_CHUNK_ELEMENTS = 1 << 22  # values per chunk: bounds the temporaries (and stays near cache)
PEAK_SAMPLES = 1024  # samples whose peak activation is kept for every unit (2 MB at 512 units)


def sample_hash(ids: np.ndarray) -> np.ndarray:
    """splitmix64 of each sample id: ``(n,) int64 -> (n,) uint64``; orders the peak subset.

    Usage: ``sample_hash(np.arange(4))``.
    """
    z = np.asarray(ids, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def merge_peaks(ids: np.ndarray, peaks: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``keep`` samples of smallest hash: ids ``(n,)``, peaks ``(U, n)`` -> ``(keep,)``, ``(U, keep)``.

    Pads (``_PAD_ID``) sort last and stay pads, so a run with fewer samples keeps them all.
    """
    real = ids != _PAD_ID
    order = np.lexsort((ids, sample_hash(ids), ~real))[:keep]
    order = order[real[order]]
    out_ids = np.full(keep, _PAD_ID, dtype=np.int64)
    out_peaks = np.full((peaks.shape[0], keep), np.nan, dtype=np.float32)
    out_ids[: len(order)] = ids[order]
    out_peaks[:, : len(order)] = peaks[:, order]
    return out_ids, out_peaks


_INT32_MAX = 2**31 - 1


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
    peak_ids: np.ndarray  # (M,) int64, the peak subset's sample ids by hash (pads last)
    peaks: np.ndarray  # (U, M) float32, each unit's peak activation on those samples
    # (C, S, T) int64: pixels of each concept at each label position over all samples (where
    # concepts sit: the position-only baseline of a label); None in reports made before it.
    label_map: np.ndarray | None = None

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
        peak_ids, peaks = merge_peaks(
            np.concatenate([self.peak_ids, other.peak_ids]),
            np.concatenate([self.peaks, other.peaks], axis=1),
            max(len(self.peak_ids), len(other.peak_ids)),
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
            peak_ids=peak_ids,
            peaks=peaks,
            label_map=(
                self.label_map + other.label_map
                if self.label_map is not None
                and other.label_map is not None
                and self.label_map.shape == other.label_map.shape
                else None
            ),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        extra = {} if self.label_map is None else {"label_map": self.label_map}
        return {
            **extra,
            "edges": self.edges,
            "counts": self.counts,
            "unit_hist": self.unit_hist,
            "concept_totals": self.concept_totals,
            "topk_values": self.topk_values,
            "topk_ids": self.topk_ids,
            "nonfinite": np.array(self.nonfinite, dtype=np.int64),
            "samples": np.array(self.samples, dtype=np.int64),
            "peak_ids": self.peak_ids,
            "peaks": self.peaks,
        }

    @classmethod
    def from_arrays(
        cls, data: dict[str, np.ndarray] | np.lib.npyio.NpzFile, where: str = ""
    ) -> LayerState:
        keys = set(data.files if hasattr(data, "files") else data.keys())
        units = np.asarray(data["edges"]).shape[0] if "edges" in keys else 0
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
                # Reports written before the peak subset existed read as an empty one.
                peak_ids=np.asarray(
                    data["peak_ids"] if "peak_ids" in keys else np.zeros(0), dtype=np.int64
                ),
                peaks=np.asarray(
                    data["peaks"] if "peaks" in keys else np.zeros((units, 0)), dtype=np.float32
                ),
                label_map=(
                    np.asarray(data["label_map"], dtype=np.int64) if "label_map" in keys else None
                ),
            )
        except KeyError as exc:
            raise ReportError(f"statistics {where!r} lack key {exc.args[0]!r}") from None

    def topk(self) -> list[list[tuple[int, float]]]:
        """Per unit, the (sample id, peak) pairs actually seen, best first.

        A sample where the unit was NaN/infinite everywhere (peak -inf) is no top sample.
        """
        return [
            [
                (int(i), float(v))
                for i, v in zip(ids, vals, strict=True)
                if i != _PAD_ID and math.isfinite(v)
            ]
            for ids, vals in zip(self.topk_ids, self.topk_values, strict=True)
        ]

    def peak_subset(self) -> tuple[np.ndarray, np.ndarray]:
        """The peak subset without pads: ids ``(m,)`` and peaks ``(U, m)``, m <= M."""
        real = self.peak_ids != _PAD_ID
        return self.peak_ids[real], self.peaks[:, real]


def merge_topk(values: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``k`` best per row: highest value first, ties by lower sample id."""
    order = np.lexsort((ids, -values), axis=-1)[:, :k]
    return np.take_along_axis(values, order, 1), np.take_along_axis(ids, order, 1)


class LayerStats:
    """Accumulates one layer's :class:`LayerState` over batches (see the module docstring).

    Every tensor lives on ``device`` (the activations' device: ``cuda`` keeps the counts on
    the GPU) and :meth:`state` copies them back once. The same code runs on any device, so
    the CPU tests exercise the GPU path; counts are integers and the float steps are single
    IEEE operations (no fused multiply-add), so the tables are identical on every device.

    Memory model (one layer, ``U`` units, ``B`` bins, ``C`` concepts): ``4 U B C`` bytes of
    int32 counts while it accumulates (plus ``8 U B C`` int64 on the host once a cell could
    pass 2**31, i.e. after 2**31 / (S T) samples of S x T labels), ``8 U B C`` more while
    :meth:`state` returns the int64 tables; per batch at most ``_CHUNK_ELEMENTS`` upsampled
    values are resolved at a time, counted into a histogram of only the chunk's units.
    """

    def __init__(
        self,
        edges: np.ndarray,
        concepts: int,
        top_k: int,
        device: str | torch.device = "cpu",
        peak_samples: int = PEAK_SAMPLES,
        fused: bool | None = None,
    ) -> None:
        # The fused CPU kernel (dissect_report.dissection.cellcount) when numba imports; False: tensors.
        self.fused = cellcount.available() if fused is None else fused
        self.edges = np.asarray(edges, dtype=np.float64)
        self.device = torch.device(device)
        units, nb = self.edges.shape
        self.units, self.bins, self.concepts, self.top_k = units, nb - 1, concepts, top_k
        e32 = torch.from_numpy(self.edges.astype(np.float32)).to(self.device)
        self._edges32 = e32.reshape(-1).contiguous()  # (U*(B+1),) for gathers
        self._e1 = e32[:, 1].contiguous()
        self._inv_w = (1.0 / (e32[:, 2] - e32[:, 1])).contiguous()  # powers of two: exact
        # int32 is exact while no cell can pass 2**31: _spill takes them over before that.
        self._counts = torch.zeros(units * self.bins * concepts, dtype=torch.int32, device=device)
        self._spill: np.ndarray | None = None  # int64 host counts of earlier batches
        self._bound = 0  # an upper bound of any int32 cell
        self._low = torch.zeros(units, dtype=torch.int64, device=device)  # pixels in bin 0
        self._concept_totals = torch.zeros(concepts, dtype=torch.int64, device=device)
        self._label_map: torch.Tensor | None = None  # (C, S, T) int64, at the first batch
        self._topk_values = torch.full((units, top_k), -math.inf, device=device)
        self._topk_ids = torch.full((units, top_k), _PAD_ID, dtype=torch.int64, device=device)
        # The peak subset stays on the host: it is small and merged by a sort of ids.
        self._peak_ids = np.full(peak_samples, _PAD_ID, dtype=np.int64)
        self._peaks = np.full((units, peak_samples), np.nan, dtype=np.float32)
        self.nonfinite = 0
        self.samples = 0

    @classmethod
    def from_state(cls, state: LayerState, device: str | torch.device = "cpu") -> LayerStats:
        acc = cls(
            state.edges,
            state.counts.shape[2],
            state.topk_ids.shape[1],
            device,
            max(len(state.peak_ids), PEAK_SAMPLES),
        )
        acc._peak_ids, acc._peaks = merge_peaks(
            np.concatenate([acc._peak_ids, state.peak_ids]),
            np.concatenate([acc._peaks, state.peaks], axis=1),
            len(acc._peak_ids),
        )
        peak = int(state.counts.max()) if state.counts.size else 0
        if peak <= _INT32_MAX // 2:
            acc._counts += torch.from_numpy(state.counts.reshape(-1).astype(np.int32)).to(device)
            acc._bound = peak
        else:
            acc._spill = state.counts.reshape(-1).copy()
        acc._low += torch.from_numpy(state.unit_hist[:, 0].copy()).to(device)
        acc._concept_totals += torch.from_numpy(state.concept_totals.copy()).to(device)
        if state.label_map is not None:
            acc._label_map = torch.from_numpy(state.label_map.copy()).to(device)
        acc._topk_values = torch.from_numpy(state.topk_values.astype(np.float32)).to(device)
        acc._topk_ids = torch.from_numpy(state.topk_ids.copy()).to(device)
        acc.nonfinite, acc.samples = state.nonfinite, state.samples
        return acc

    @property
    def state_bytes(self) -> int:
        """Bytes this accumulator holds (counts, spill, top-k, totals, the peak subset)."""
        tensors = (self._counts, self._low, self._concept_totals, self._topk_values, self._topk_ids)
        held = sum(t.numel() * t.element_size() for t in tensors)
        held += self._peaks.nbytes + self._peak_ids.nbytes
        return held + (self._spill.nbytes if self._spill is not None else 0)

    def state(self) -> LayerState:
        counts = self._counts.cpu().numpy().astype(np.int64)
        if self._spill is not None:
            counts += self._spill
        counts = counts.reshape(self.units, self.bins, self.concepts)
        unit_hist = counts.sum(axis=2)
        unit_hist[:, 0] += self._low.cpu().numpy()
        return LayerState(
            edges=self.edges,
            counts=counts,
            unit_hist=unit_hist,
            concept_totals=self._concept_totals.cpu().numpy().copy(),
            topk_values=self._topk_values.cpu().numpy().astype(np.float64),
            topk_ids=self._topk_ids.cpu().numpy().copy(),
            nonfinite=self.nonfinite,
            samples=self.samples,
            peak_ids=self._peak_ids.copy(),
            peaks=self._peaks.copy(),
            label_map=None if self._label_map is None else self._label_map.cpu().numpy().copy(),
        )

    @torch.no_grad()
    def add(self, acts: torch.Tensor, labels: torch.Tensor, ids: torch.Tensor) -> None:
        """Add a batch: activations ``(n, U, h, w)``, labels ``(n, S, T)``, sample ids ``(n,)``."""
        acts = acts.detach().to(self.device, torch.float32).contiguous()
        labels = labels.detach().to(self.device, torch.int64).contiguous()
        ids = ids.to(self.device, torch.int64)
        n, units, h, w = acts.shape
        assert units == self.units and labels.shape[0] == n and ids.shape[0] == n
        S, T = labels.shape[1:]
        if self._bound + n * S * T > _INT32_MAX:  # a cell gains at most n*S*T per batch
            self._spill_counts()
        self._bound += n * S * T
        peaks, bad = _peaks(acts)
        self.nonfinite += bad
        self.samples += n
        self._concept_totals += torch.bincount(labels.reshape(-1), minlength=self.concepts)
        self._add_label_map(labels)
        self._add_topk(peaks, ids)
        self._add_peaks(peaks, ids)
        # Chunks of units (all samples) when a unit's batch fits, else of samples, one unit at
        # a time: the temporaries and the histogram of the chunk stay near _CHUNK_ELEMENTS.
        per_unit = n * S * T
        unit_step = max(1, min(units, _CHUNK_ELEMENTS // per_unit))
        sample_step = n if unit_step > 1 else max(1, _CHUNK_ELEMENTS // (S * T))
        s = even_factor(h, w, (S, T))
        if s is not None and self._count_fused(acts, labels, s, bad > 0):
            return
        for i in range(0, n, sample_step):
            lab = labels[i : i + sample_step]
            # Labels in the layout of the values (cells of s x s for an even factor), as int32,
            # with concept index C ("outside the image") where a border cell overhangs.
            cells = _label_cells(lab, s, self.concepts) if s else lab.reshape(len(lab), 1, -1)
            for u0 in range(0, units, unit_step):
                u1 = min(units, u0 + unit_step)
                a = acts[i : i + sample_step, u0:u1]
                if s is not None:
                    self._count_cells(a, cells, s, u0, u1, bad > 0)
                    continue
                if (h, w) != (S, T):  # any other size ratio: upsample everything
                    a = F.interpolate(a, size=(S, T), mode="bilinear", align_corners=False)
                v = a.reshape(a.shape[0], u1 - u0, S * T)
                unit = torch.arange(u1 - u0, dtype=torch.int32, device=v.device).view(1, -1, 1)
                self._count(v, cells.int(), unit, u0, u1, v.shape[0] * S * T, bad > 0)

    def _count_fused(self, acts: torch.Tensor, labels: torch.Tensor, s: int, has_bad: bool) -> bool:
        """The whole batch through the fused CPU kernel (:mod:`.cellcount`); False: not run.

        It needs no temporaries of the batch's size, so it takes every unit and sample at once.
        """
        if not (self.fused and acts.device.type == "cpu"):
            return False
        n, units, h, w = acts.shape
        view = self._counts.view(units, self.bins, self.concepts)
        out = cellcount.count_pixels_cpu(acts, labels, s, self._e1, self._inv_w, view, has_bad)
        if out is None:
            return False
        spoilt, resolved = out
        self._low += torch.from_numpy(n * h * s * w * s - spoilt - resolved)
        return True

    def _count_cells(
        self, a: torch.Tensor, cells: torch.Tensor, s: int, u0: int, u1: int, has_bad: bool
    ) -> None:
        """Bilinear upsampling by an even factor ``s``, evaluated only in candidate cells.

        With replicate padding, the upsampled image is a grid of ``(h+1, w+1)`` cells of
        ``s x s`` pixels, each interpolating its 4 corners with the same fractions
        ``(k + 0.5) / s``, cropped by ``s/2`` at the borders (``cells`` labels the overhang
        "outside"). This equals ``F.interpolate(..., align_corners=False)`` up to float32
        rounding; :func:`bilinear_upsample` is the exact dense equivalent. A bilinear value
        never exceeds its largest corner, so a cell matters only if a corner reaches ``e1``
        (or is not finite, to count what it spoils); when most do, every cell is evaluated and
        the others' pixels are dropped to bin 0 all the same (float32 rounding can lift a
        value one ulp above its largest corner), so the counts never depend on that choice.
        The fused CPU kernel (:func:`.cellcount.count_pixels_cpu`) counts exactly the same.
        """
        m, uc, h, w = a.shape
        dev = a.device
        pad = F.pad(a, (1, 1, 1, 1), mode="replicate")  # (m, uc, h+2, w+2)
        high = pad >= self._e1[u0:u1].view(1, uc, 1, 1)
        if has_bad:
            high |= ~torch.isfinite(pad)
        high = high[..., :, :-1] | high[..., :, 1:]
        high = high[..., :-1, :] | high[..., 1:, :]  # (m, uc, h+1, w+1)
        f = (torch.arange(s, dtype=torch.float32, device=dev) + 0.5) / s
        g = 1.0 - f
        corners = (pad[..., :-1, :-1], pad[..., :-1, 1:], pad[..., 1:, :-1], pad[..., 1:, 1:])
        cand = high.reshape(-1).nonzero().squeeze(1)
        if 2 * cand.numel() > high.numel():  # most cells: all of them, without gathers
            p00, p01, p10, p11 = (c.reshape(m, uc, -1, 1) for c in corners)
            # Cells that are no candidates count as "outside" (bin 0): the float32 blend of
            # four corners just below e1 can round up onto it, and must count as if skipped.
            outside = torch.tensor(self.concepts, dtype=cells.dtype, device=dev)
            lbl = torch.where(high.view(m, uc, -1, 1), cells.view(m, 1, -1, s * s), outside)
            unit = torch.arange(uc, dtype=torch.int32, device=dev).view(1, uc, 1, 1)
        else:
            p00, p01, p10, p11 = (c.reshape(-1)[cand].view(-1, 1) for c in corners)
            cell = cand % ((h + 1) * (w + 1))
            rest = cand // ((h + 1) * (w + 1))
            unit = (rest % uc).int().view(-1, 1)
            lbl = cells.view(m * (h + 1) * (w + 1), s * s)[(rest // uc) * (h + 1) * (w + 1) + cell]
        top = g * p00 + f * p01  # (..., s) along x
        bot = g * p10 + f * p11
        v = g.view(s, 1) * top[..., None, :] + f.view(s, 1) * bot[..., None, :]  # (..., s, s)
        self._count(v.flatten(-2), lbl, unit, u0, u1, m * h * s * w * s, has_bad)

    def _count(
        self,
        v: torch.Tensor,
        lbl: torch.Tensor,
        unit: torch.Tensor,
        u0: int,
        u1: int,
        pixels: int,
        has_bad: bool,
    ) -> None:
        """Count values ``v`` (float32) by (unit, bin, label) into the state.

        ``lbl`` (int32; C means outside the image) and ``unit`` (int32, the unit's index in
        ``u0..u1``) broadcast to ``v``. Every unit of the chunk covers ``pixels`` image pixels:
        those not resolved here (below e1, in cells not evaluated, not finite) go to bin 0.
        """
        nb, c1, uc = self.bins, self.concepts + 1, u1 - u0
        e1 = self._e1[u0:u1][unit.long()]
        inv_w = self._inv_w[u0:u1][unit.long()]
        low = torch.full((uc,), pixels, dtype=torch.int64, device=v.device)
        if has_bad:  # not finite: counted apart, and binned below e1 (dropped)
            fin = torch.isfinite(v)
            spoilt = (~fin) & (lbl < self.concepts)
            low -= torch.bincount(torch.broadcast_to(unit, v.shape)[spoilt], minlength=uc)
            v = torch.where(fin, v, -math.inf)
        b = torch.sub(v, e1).mul_(inv_w).floor_().clamp_(0, nb - 2).add_(1)
        # The edges are exact, 1/w is a power of two and edge b = e1 + w (b - 1) is exact, so
        # only the subtraction rounds, and only upwards onto an edge: one comparison corrects
        # it. Values below e1 land in bin 0, which is not split by concept (dropped here).
        edge = (b - 1).div_(inv_w).add_(e1)
        b.sub_((v < edge).float())
        key = b.int().mul_(c1).add_(lbl).add_(unit * (nb * c1))
        hist = torch.bincount(key.view(-1), minlength=uc * nb * c1).view(uc, nb, c1)
        resolved = hist[:, 1:, : self.concepts]
        start, stop = u0 * nb * self.concepts, u1 * nb * self.concepts
        view = self._counts[start:stop].view(uc, nb, self.concepts)
        view[:, 1:] += resolved.to(torch.int32)
        self._low[u0:u1] += low - resolved.sum(dim=(1, 2))

    def _add_label_map(self, labels: torch.Tensor) -> None:
        n, S, T = labels.shape
        if self._label_map is None:
            self._label_map = torch.zeros(
                (self.concepts, S, T), dtype=torch.int64, device=labels.device
            )
        if tuple(self._label_map.shape[1:]) != (S, T):
            return  # sizes that change between batches are refused by the pass itself
        where = torch.arange(S * T, device=labels.device)
        keys = (labels.reshape(n, S * T) * (S * T) + where).reshape(-1)
        self._label_map += torch.bincount(keys, minlength=self.concepts * S * T).view(
            self.concepts, S, T
        )

    def _spill_counts(self) -> None:
        counts = self._counts.cpu().numpy().astype(np.int64)
        self._spill = counts if self._spill is None else self._spill + counts
        self._counts.zero_()
        self._bound = 0

    def _add_peaks(self, peaks: torch.Tensor, ids: torch.Tensor) -> None:
        if len(self._peak_ids) == 0:
            return
        self._peak_ids, self._peaks = merge_peaks(
            np.concatenate([self._peak_ids, ids.cpu().numpy().astype(np.int64)]),
            np.concatenate([self._peaks, peaks.to(torch.float32).cpu().numpy().T], axis=1),
            len(self._peak_ids),
        )

    def _add_topk(self, peaks: torch.Tensor, ids: torch.Tensor) -> None:
        values = torch.cat([self._topk_values, peaks.T], dim=1)
        all_ids = torch.cat([self._topk_ids, ids.expand(self.units, len(ids))], dim=1)
        self._topk_values, self._topk_ids = merge_topk_tensors(values, all_ids, self.top_k)


def _peaks(acts: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Each map's largest finite value ``(n, U)`` (-inf: none) and the non-finite values' count.

    ``amax`` / ``amin`` carry NaN and infinities through, so when both are finite every value
    is, and ``amax`` is the peak: one cheap reduction each instead of a mask of every value.
    """
    peaks = acts.amax(dim=(2, 3))
    if bool(torch.isfinite(peaks).all()) and bool(torch.isfinite(acts.amin(dim=(2, 3))).all()):
        return peaks, 0
    finite = torch.isfinite(acts)
    bad = int(finite.numel() - int(finite.sum()))
    return torch.where(finite, acts, -math.inf).amax(dim=(2, 3)), bad


def merge_topk_tensors(
    values: torch.Tensor, ids: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`merge_topk` on tensors of any device: two stable sorts, id then value."""
    by_id = torch.argsort(ids, dim=1, stable=True)
    values, ids = values.gather(1, by_id), ids.gather(1, by_id)
    by_value = torch.argsort(values, dim=1, descending=True, stable=True)[:, :k]
    return values.gather(1, by_value), ids.gather(1, by_value)


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


def _label_cells(labels: torch.Tensor, s: int, outside: int) -> torch.Tensor:
    """Labels ``(n, S, T)`` in cell order ``(n, (h+1)(w+1), s*s)`` int32 for factor ``s``.

    Cell ``(i, j)`` covers upsampled rows ``i*s - s/2 .. i*s + s/2 - 1`` (and columns alike);
    the pixels it hangs over the image's border get ``outside``.
    """
    n, S, T = labels.shape
    h, w = S // s, T // s
    grid = torch.full(
        (n, (h + 1) * s, (w + 1) * s), outside, dtype=torch.int32, device=labels.device
    )
    grid[:, s // 2 : s // 2 + S, s // 2 : s // 2 + T] = labels
    grid = grid.view(n, h + 1, s, w + 1, s).permute(0, 1, 3, 2, 4)
    return grid.reshape(n, (h + 1) * (w + 1), s * s)

"""Where a unit fires, and whether that alone explains its label (a position-only baseline).

Usage::

    from dissect_report.dissection.position import measure_positions, POSITION_LIFT
    masks = measure_positions(models, layers, batch_size=64, downsample=False)  # {layer: PairMasks}
    pos = masks["layer3"].position(layer.state, layer.scores)                  # a Position
    pos.mean_mask        # (U, S, T): share of samples where the unit's mask covers x
    pos.baseline_iou     # (U, C): IoU of a fixed mask at its mean position

A unit that fires along the image's border can reach the IoU floor for a concept that sits
near the border (door, roof) without seeing it. The baseline asks what position alone gets:
each unit's *mean mask* (per pixel, the share of samples where its thresholded mask covers it,
over the first ``samples`` samples, regenerated after the thresholds are known) gives a fixed
mask, the unit's ``k`` most-covered pixels with ``k`` the unit's own mask size per sample; the
same fixed mask on every sample of the run has, with concept ``c``, the IoU
``I / (k N + L_c - I)`` where ``I`` sums the run's label map (``LayerState.label_map``: pixels
of ``c`` at each position) over the fixed mask. A unit whose IoU with its best concept does not beat
:data:`POSITION_LIFT` times that baseline is explained by where it fires and is not labelled
(``flagged_units["position"]`` in the manifest). On the built-in world, where sky is drawn at
the top and grass at the bottom, many sky and grass units do no better than a fixed mask
there; the ones that follow the horizon sample by sample beat it and keep their label.

Under ``--policy iqr`` each unit x concept has its own threshold, so a concept that could
label the unit when a guard refuses its best one (:mod:`dissect_report.dissection.labels`) is
checked against a mean mask at that pair's own threshold: ``wanted`` pairs are measured too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from dissect_report.dissection import cellcount
from dissect_report.dissection.calibration import forward_traced
from dissect_report.dissection.stats import bilinear_upsample, even_factor
from dissect_report.progress import bar

if TYPE_CHECKING:
    from dissect_report.dissection.results import LayerResult
    from dissect_report.dissection.stats import LayerState
    from dissect_report.dissection.thresholds import UnitScores
    from dissect_report.models import Models

log = logging.getLogger(__name__)

POSITION = "position"  # the manifest's flagged_units key of units explained by position
POSITION_SAMPLES = 128  # samples whose masks make the mean mask (the first ones of the run)
POSITION_LIFT = 1.0  # a label must beat what its mean position alone reaches


@dataclass(frozen=True)
class Position:
    """One layer's mean masks and position-only baseline IoUs."""

    mean_mask: np.ndarray  # (U, S, T) float32 in [0, 1]
    baseline_iou: np.ndarray  # (U, C) float64
    samples: int  # samples the mean masks were measured on

    def explained(self, iou: np.ndarray, best: np.ndarray) -> np.ndarray:
        """(U,) bool: the unit's IoU with concept ``best[u]`` is within the baseline's reach."""
        rows = np.arange(len(best))
        return iou[rows, best] <= POSITION_LIFT * self.baseline_iou[rows, best]

    def explained_pairs(self, iou: np.ndarray) -> np.ndarray:
        """(U, C) bool: each pair's IoU is within its baseline's reach (False where the pair's
        baseline was not measured)."""
        with np.errstate(invalid="ignore"):
            explained: np.ndarray = iou <= POSITION_LIFT * self.baseline_iou
        return explained


def baseline_iou(
    mean_mask: np.ndarray, coverage: np.ndarray, label_map: np.ndarray, samples: int
) -> np.ndarray:
    """(U, C) IoU of each unit's fixed position mask with each concept over ``samples``.

    ``mean_mask`` (U, S, T); ``coverage`` (U,) the unit's mask share of all pixels;
    ``label_map`` (C, S, T) pixels of each concept at each position over the ``samples``
    samples. The fixed mask is the unit's ``round(coverage * S * T)`` most-covered pixels
    (ties: lower index).
    """
    units = mean_mask.shape[0]
    flat = mean_mask.reshape(units, -1)
    pixels = flat.shape[1]
    counts = label_map.reshape(label_map.shape[0], -1).astype(np.float64)  # (C, P)
    totals = counts.sum(axis=1)  # (C,)
    order = np.argsort(-flat, axis=1, kind="stable")
    keep = np.rint(np.clip(coverage, 0.0, 1.0) * pixels).astype(np.int64)
    fixed = np.zeros_like(flat, dtype=bool)
    ranks = np.arange(pixels)[None, :] < keep[:, None]
    np.put_along_axis(fixed, order, ranks, axis=1)
    inter = fixed.astype(np.float64) @ counts.T  # (U, C)
    size = (keep * samples).astype(np.float64)[:, None]
    union = size + totals[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@torch.no_grad()
def mean_masks(
    models: Models,
    layers: list[LayerResult],
    size: dict[str, tuple[int, int]],
    samples: int,
    batch_size: int,
    downsample: bool,
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, np.ndarray]:
    """Per layer ``(M, S, T)``: the share of samples ``0..samples-1`` where the mask of unit
    ``units[m]`` at ``thresholds[m]`` (``pairs[name] = (units, thresholds)``; default: every
    unit at its own threshold) covers each label pixel (upsampled as the pass does, finite).

    Under ``--downsample-segmentation`` the labels are at the layer's size: no upsampling.
    """
    names = [layer.name for layer in layers]
    if pairs is None:
        pairs = {
            layer.name: (np.arange(layer.state.units), layer.scores.threshold) for layer in layers
        }
    index = {name: torch.from_numpy(np.asarray(pairs[name][0], np.int64)) for name in names}
    sums = {
        name: torch.zeros((len(index[name]), *size[name]), dtype=torch.float64) for name in names
    }
    thresholds = {
        name: torch.from_numpy(np.asarray(pairs[name][1], np.float32)).view(1, -1, 1, 1)
        for name in names
    }
    progress = bar(total=samples, desc="positions", unit="sample")
    try:
        for start in range(0, samples, batch_size):
            ids = range(start, min(start + batch_size, samples))
            acts, _ = forward_traced(models, names, ids)
            for name in names:
                a = acts[name].detach().float().cpu().index_select(1, index[name])
                h, w = a.shape[2:]
                s = None if downsample else even_factor(h, w, size[name])
                if s is not None and cellcount.available():  # the pass's arithmetic, fused
                    sums[name] += torch.from_numpy(
                        cellcount.mask_counts_cpu(a, s, thresholds[name].view(-1))
                    )
                    continue
                for i in range(0, len(a), 8):  # a few samples at a time: the upsampled copy
                    chunk = a[i : i + 8]
                    if not downsample:
                        chunk = bilinear_upsample(chunk, size[name])
                    on = (chunk >= thresholds[name]) & torch.isfinite(chunk)
                    sums[name] += on.sum(dim=0, dtype=torch.float64)
            progress.update(len(ids))
    finally:
        progress.close()
    return {name: (s / samples).numpy().astype(np.float32) for name, s in sums.items()}


@dataclass(frozen=True)
class PairMasks:
    """One layer's mean masks of unit ``units[m]`` at its threshold edge ``bins[m]``."""

    units: np.ndarray  # (M,) int64, sorted with bins
    bins: np.ndarray  # (M,) int64
    masks: np.ndarray  # (M, S, T) float32
    samples: int

    def rows(self, units: np.ndarray, bins: np.ndarray) -> np.ndarray:
        """Row of each (unit, bin) pair (same shape as ``units``), -1 where not measured."""
        keys = self.units * (1 << 32) + self.bins
        want = np.asarray(units, np.int64) * (1 << 32) + np.asarray(bins, np.int64)
        at = np.clip(np.searchsorted(keys, want), 0, max(len(keys) - 1, 0))
        found = (keys[at] == want) if len(keys) else np.zeros(want.shape, bool)
        return np.where(found, at, -1)

    def position(self, state: LayerState, scores: UnitScores) -> Position:
        """The :class:`Position` of ``scores``: the mean mask at each unit's threshold, and
        each unit x concept baseline at the pair's own threshold (NaN where not measured)."""
        units = np.arange(state.units)
        own = self.rows(units, scores.bin)
        assert (own >= 0).all(), "every unit's own threshold is measured"
        assert state.label_map is not None
        total = float(state.concept_totals.sum())
        held = np.flip(np.cumsum(np.flip(state.unit_hist, 1), axis=1), 1)
        coverage = held[self.units, self.bins] / max(total, 1.0)
        base = baseline_iou(self.masks, coverage, state.label_map, state.samples)  # (M, C)
        bins = scores.bins()
        at = self.rows(np.repeat(units[:, None], bins.shape[1], axis=1), bins)  # (U, C)
        cols = np.arange(bins.shape[1])[None, :]
        pair = np.where(at >= 0, base[np.maximum(at, 0), cols], np.nan)
        return Position(mean_mask=self.masks[own], baseline_iou=pair, samples=self.samples)


def measure_positions(
    models: Models,
    layers: tuple[LayerResult, ...],
    batch_size: int,
    downsample: bool,
    wanted: dict[str, np.ndarray] | None = None,
) -> dict[str, PairMasks]:
    """Mean masks of every layer whose state has a label map: each unit at its own threshold
    and, for the ``(U, C)`` bool pairs ``wanted[name]``, at each pair's threshold."""
    todo = [layer for layer in layers if layer.state.label_map is not None]
    if not todo:
        return {}
    samples = min(POSITION_SAMPLES, min(layer.state.samples for layer in todo))
    size = {layer.name: tuple(layer.state.label_map.shape[1:]) for layer in todo}  # type: ignore[union-attr]
    pairs, chosen = {}, {}
    for layer in todo:
        scores, units = layer.scores, np.arange(layer.state.units)
        bins = scores.bins()
        want = (wanted or {}).get(layer.name, np.zeros(bins.shape, bool))
        u = np.concatenate([units, np.nonzero(want)[0]])
        b = np.concatenate([scores.bin, bins[want]])
        keys = np.unique(u.astype(np.int64) * (1 << 32) + b)
        chosen[layer.name] = (keys >> 32, keys & ((1 << 32) - 1))
        pairs[layer.name] = (chosen[layer.name][0], layer.state.edges[chosen[layer.name]])
    masks = mean_masks(models, todo, size, samples, batch_size, downsample, pairs)  # type: ignore[arg-type]
    return {
        name: PairMasks(units=u, bins=b, masks=masks[name], samples=samples)
        for name, (u, b) in chosen.items()
    }


__all__ = [
    "POSITION",
    "PairMasks",
    "POSITION_LIFT",
    "POSITION_SAMPLES",
    "Position",
    "baseline_iou",
    "measure_positions",
]

"""Where a unit fires, and whether that alone explains its label (a position-only baseline).

Usage::

    from dissect_report.dissection.position import measure_positions, POSITION_LIFT
    pos = measure_positions(models, layers, samples=256, batch_size=64)   # {layer name: Position}
    pos["layer3"].mean_mask        # (U, S, T): share of samples where the unit's mask covers x
    pos["layer3"].baseline_iou     # (U, C): IoU of a fixed mask at its mean position

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
        """(U,) bool: the unit's IoU with its best concept is within the baseline's reach."""
        rows = np.arange(len(best))
        return iou[rows, best] <= POSITION_LIFT * self.baseline_iou[rows, best]


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
) -> dict[str, np.ndarray]:
    """Per layer ``(U, S, T)``: the share of samples ``0..samples-1`` where each unit's mask
    (upsampled as the pass does, ``>=`` its threshold, finite) covers each label pixel.

    Under ``--downsample-segmentation`` the labels are at the layer's size: no upsampling.
    """
    names = [layer.name for layer in layers]
    sums = {
        layer.name: torch.zeros((layer.state.units, *size[layer.name]), dtype=torch.float64)
        for layer in layers
    }
    thresholds = {
        layer.name: torch.from_numpy(layer.scores.threshold.astype(np.float32)).view(1, -1, 1, 1)
        for layer in layers
    }
    progress = bar(total=samples, desc="positions", unit="sample")
    try:
        for start in range(0, samples, batch_size):
            ids = range(start, min(start + batch_size, samples))
            acts, _ = forward_traced(models, names, ids)
            for name in names:
                a = acts[name].detach().float().cpu()
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


def measure_positions(
    models: Models, layers: tuple[LayerResult, ...], batch_size: int, downsample: bool
) -> dict[str, Position]:
    """The :class:`Position` of every layer whose state has a label map."""
    todo = [layer for layer in layers if layer.state.label_map is not None]
    if not todo:
        return {}
    samples = min(POSITION_SAMPLES, min(layer.state.samples for layer in todo))
    size = {layer.name: tuple(layer.state.label_map.shape[1:]) for layer in todo}  # type: ignore[union-attr]
    masks = mean_masks(models, todo, size, samples, batch_size, downsample)  # type: ignore[arg-type]
    out = {}
    for layer in todo:
        state = layer.state
        assert state.label_map is not None
        total = float(state.concept_totals.sum())
        held = np.flip(np.cumsum(np.flip(state.unit_hist, 1), axis=1), 1)
        coverage = held[np.arange(state.units), layer.scores.bin] / max(total, 1.0)
        out[layer.name] = Position(
            mean_mask=masks[layer.name],
            baseline_iou=baseline_iou(masks[layer.name], coverage, state.label_map, state.samples),
            samples=samples,
        )
    return out


__all__ = [
    "POSITION",
    "POSITION_LIFT",
    "POSITION_SAMPLES",
    "Position",
    "baseline_iou",
    "measure_positions",
]

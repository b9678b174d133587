"""Which concept labels each unit: its top concept by IoU, if it passes every label guard.

Usage::

    from dissect_report.dissection.labels import label_units, refusals, next_passing
    layer = label_units(layer)              # scores.best: each unit's top concept
    layer = label_units(layer, fallback=True)  # --label-fallback: best concept that passes
    concept, reason = refusals(layer)       # (U,) the top concept a guard refused, and why
    reason[115]                             # 'mask too broad'
    next_passing(layer)[115]                # the next concept that passes (-1 where none)

GAN Dissection labels a unit with its best concept by IoU. The label guards (a mask over
nearly every pixel, an IoU at chance level, an IoU that a fixed mask at the unit's mean
position reaches: :func:`~dissect_report.dissection.thresholds.pair_guards`,
:mod:`~dissect_report.dissection.position`) can refuse that concept while another one, with its
own threshold and IoU over the floor, passes them all: the unit is then labelled with the best
concept that passes, at that concept's own threshold (its mask, IoU and IQR are the pair's).
That fallback is opt-in (``label_fallback``, ``--label-fallback``): on the built-in world it
labelled units at IoUs near the floor with concepts their images do not show (layer3 unit 6
"tree" at 0.044 while it fires on clouds), and its labels flipped between seeds. By default a
unit whose top concept a guard refuses stays unlabelled; either way the refused concept is
kept with its reason (units.parquet's ``refused_*`` columns).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from dissect_report.dissection.caveats import flagged_mask
from dissect_report.dissection.thresholds import CHANCE, TOO_BROAD, pair_guards

if TYPE_CHECKING:
    from dissect_report.dissection.results import LayerResult

POSITION_ONLY = "position alone"  # a fixed mask at the unit's mean position does as well
FLAGGED = "flagged"  # a non-finite or dead unit: never labelled
REFUSALS = (TOO_BROAD, CHANCE, POSITION_ONLY)  # the reasons a refused_reason can hold


def guards(layer: LayerResult) -> np.ndarray:
    """(U, C) str: ``""`` where the unit x concept passes every label guard, else the reason
    (:data:`~dissect_report.dissection.thresholds.BELOW_FLOOR`, ``TOO_BROAD``, ``CHANCE``,
    :data:`POSITION_ONLY` where its position baseline is measured and reaches it, or
    :data:`FLAGGED` for every concept of a flagged unit)."""
    out = pair_guards(layer.state, layer.scores, layer.iou_floor)
    if layer.position is not None:
        out[(out == "") & layer.position.explained_pairs(layer.scores.iou)] = POSITION_ONLY
    out[flagged_mask(layer.state)] = FLAGGED
    return out


def choose(iou: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """(U,) per unit the concept of highest IoU among ``ok`` (ties: lowest index), or its top
    concept by IoU where none is ``ok``."""
    masked = np.where(ok, iou, -np.inf)
    pick = np.argmax(masked, axis=1)
    return np.where(ok.any(axis=1), pick, np.argmax(iou, axis=1))


def label_units(layer: LayerResult, fallback: bool = False) -> LayerResult:
    """``layer`` with each unit reported as its top concept by IoU; with ``fallback``, as its
    best concept that passes the guards (its top concept where none does). The unit's
    threshold becomes that pair's own."""
    scores = layer.scores
    label = choose(scores.iou, guards(layer) == "") if fallback else scores.top
    relabelled = scores.relabel(label, layer.state.edges)
    return dataclasses.replace(layer, scores=relabelled)


def candidates(layer: LayerResult) -> np.ndarray:
    """(U, C) bool: the pairs that pass every guard but position (the ones that need a mean
    mask at their own threshold before they can label the unit)."""
    return pair_guards(layer.state, layer.scores, layer.iou_floor) == ""


def next_passing(layer: LayerResult) -> np.ndarray:
    """(U,) per unit whose top concept a guard refused: its best concept that passes every
    guard, else -1. Position is only known for the pairs measured (without the fallback, the
    top pairs): a concept whose position baseline was not measured counts as passing here,
    so ``--label-fallback``, which measures it, may pick a later concept."""
    ok = guards(layer) == ""
    refused, _ = refusals(layer)
    pick = choose(layer.scores.iou, ok)
    has = ok.any(axis=1) & (refused >= 0) & (pick != refused)
    return np.where(has, pick, -1)


def refusals(layer: LayerResult) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: its top concept by IoU where a guard refused it (at or over the floor), else
    -1; and the reason (:data:`REFUSALS`, ``""`` where none). A unit labelled with another
    concept, and an unlabelled one whose top concept a guard refused, both have one."""
    top = layer.scores.top
    rows = np.arange(len(top))
    reason = guards(layer)[rows, top]
    refused = np.isin(reason, REFUSALS)
    return np.where(refused, top, -1), np.where(refused, reason, "").astype(object)


__all__ = [
    "FLAGGED",
    "POSITION_ONLY",
    "REFUSALS",
    "candidates",
    "choose",
    "guards",
    "label_units",
    "next_passing",
    "refusals",
]

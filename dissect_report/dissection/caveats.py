"""What a dissection cannot say, said out loud: broken units and unreachable concepts.

Usage::

    from dissect_report.dissection.caveats import unit_flags, unreachable, caveat_lines
    flags = unit_flags(layer.state)        # {"non-finite": [0], "dead": [3]}
    unreachable(layer.state, concepts, "quantile", 0.99, 0.04)   # [("sky", 0.52, 0.019)]
    for line in caveat_lines(result): log.warning(line)

A unit whose activations are NaN or infinite everywhere ("non-finite") or constant ("dead")
has no region to compare with a concept: it is flagged and never labelled, whatever IoU the
arithmetic gives. With the quantile policy at level ``q`` every unit's region covers about
``1 - q`` of the pixels, so a concept covering a share ``c > (1 - q) / floor`` of them can
never reach the IoU floor (best possible ``(1 - q) / c``): the run says so and suggests
``--policy iqr``, whose thresholds follow the concept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dissect_report.render.fmt import few

if TYPE_CHECKING:
    from dissect_report.dissection.results import DissectResult, LayerResult
    from dissect_report.dissection.stats import LayerState

NON_FINITE = "non-finite"
DEAD = "dead"


def constant_units(peaks: np.ndarray) -> np.ndarray:
    """``(U,)`` bool: units whose finite peak activation is the same on every sample of
    ``peaks`` ``(U, N)``, or that have no finite peak at all (also when ``N`` is 0)."""
    finite = np.isfinite(peaks)
    hi = np.where(finite, peaks, -np.inf).max(axis=1, initial=-np.inf)
    lo = np.where(finite, peaks, np.inf).min(axis=1, initial=np.inf)
    return ~(hi > lo)


def unit_flags(state: LayerState) -> dict[str, list[int]]:
    """Units to flag: ``non-finite`` (no finite peak on any sample) and ``dead`` (constant:
    one histogram bin, and the same peak on every sample the pass kept)."""
    top = np.asarray(state.topk_values, dtype=np.float64)
    non_finite = ~np.isfinite(top).any(axis=1)
    one_bin = (np.asarray(state.unit_hist) > 0).sum(axis=1) <= 1
    same_peak = constant_units(np.asarray(state.peaks, dtype=np.float64).reshape(state.units, -1))
    dead = one_bin & same_peak & ~non_finite
    return {NON_FINITE: np.flatnonzero(non_finite).tolist(), DEAD: np.flatnonzero(dead).tolist()}


def flagged_mask(state: LayerState) -> np.ndarray:
    """``(U,)`` bool: the units :func:`unit_flags` flags."""
    mask = np.zeros(state.units, dtype=bool)
    for units in unit_flags(state).values():
        mask[units] = True
    return mask


def unreachable(
    state: LayerState, concepts: list[str], policy: str, level: float, floor: float
) -> list[tuple[str, float, float]]:
    """``(concept, pixel share, best possible IoU)`` of concepts the floor rules out.

    Only the quantile policy fixes the region's share (``1 - level``); other policies
    choose thresholds per concept, so nothing is ruled out in advance.
    """
    if policy != "quantile":
        return []
    totals = np.asarray(state.concept_totals, dtype=np.float64)
    if totals.sum() <= 0:
        return []
    region = 1.0 - level
    out = []
    for name, share in zip(concepts, totals / totals.sum(), strict=True):
        best = min(region, share) / max(region, share) if share > 0 else 0.0
        if share > 0 and best < floor:
            out.append((name, float(share), float(best)))
    return out


def non_finite_share(layer: LayerResult) -> float:
    """Share of the layer's activation values that were NaN or infinite in the pass."""
    values = layer.state.samples * int(np.prod(layer.shape))
    return layer.state.nonfinite / values if values else 0.0


def caveat_lines(result: DissectResult) -> list[str]:
    """One warning per layer with non-finite values or flagged units, one for the floor."""
    config = result.config
    lines = []
    for layer in result.layers:
        share = non_finite_share(layer)
        flags = unit_flags(layer.state)
        parts = []
        if share > 0:
            parts.append(f"{share:.1%} of its activation values are NaN or infinite")
        for kind, units in flags.items():
            if units:
                parts.append(f"{len(units)} {kind} unit(s) ({few(units)}) flagged, not labelled")
        if parts:
            lines.append(f"layer {layer.name}: " + "; ".join(parts))
    if result.layers:
        gone = unreachable(
            result.layers[0].state,
            list(result.concepts),
            config.policy,
            config.level,
            config.iou_floor,
        )
        if gone:
            shown = ", ".join(f"{n} ({s:.0%} of pixels, IoU <= {b:.3f})" for n, s, b in gone)
            labelled = sum(layer.interpretable for layer in result.layers)
            lines.append(
                f"at --policy quantile --level {config.level:g} a unit's region covers "
                f"{1 - config.level:.1%} of the pixels, so {shown} can never reach --iou-floor "
                f"{config.iou_floor:g}{' (0 units labelled)' if labelled == 0 else ''}; "
                "try --policy iqr"
            )
    return lines

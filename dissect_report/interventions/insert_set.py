"""The unit set insertion forces on: chosen for its measured effect, not for its IoU.

Usage::

    choice = choose_insert_set(models, "layer2", select, concept=3, iou_top=top, alpha=alpha,
                               level=levels, grid=3, patch=2, batch_size=16)
    choice.method, choice.units     # "optimized" and the top-n units by learned alpha, or "iou"
    choice.tried                    # [(method, n, success, added), ...] on the selection samples

The candidates are the top ``n`` units by the optimized set's learned alpha
(:func:`dissect_report.interventions.optimize.optimize_alpha`, the one optimizer of the
interventions; Paint's brushes share its alpha update) for ``n`` in :data:`SIZES` up to the
IoU-top set's size, and the IoU-top set itself. Each is inserted at the same lattice sites of
``select`` (samples of the dissection's seed that neither the optimizer trained on nor the
held-out measurement uses: :func:`~dissect_report.interventions.insertion.insertion_sites`, the
measurement ``intervene`` reports), and the one with the highest success (then most concept
added, then fewest units) is the set inserted. The held-out measurement then reports it beside
the IoU-top set on the same sites, so a choice that does not generalize shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dissect_report.interventions.heldout import HeldOut
from dissect_report.interventions.insertion import SUCCESS, insertion_sites
from dissect_report.interventions.optimize import alpha_order
from dissect_report.models import Models

# Top-n by learned alpha tried (capped at the IoU-top set's size). 8 never won on the built-in
# world's default concepts (16 selection samples) and costs a fourth of the selection.
SIZES = (16, 32)


@dataclass(frozen=True)
class InsertChoice:
    """The set to insert and what each candidate did on the selection samples."""

    method: str  # "optimized" or "iou"
    units: tuple[int, ...]
    tried: tuple[tuple[str, int, float, float], ...]  # (method, n, success, added)


def candidates(
    iou_top: Sequence[int], alpha: np.ndarray | None, sizes: Sequence[int] = SIZES
) -> list[tuple[str, tuple[int, ...]]]:
    """(method, units) to try: top-n by alpha for each size up to ``len(iou_top)``, the
    IoU-top set last. Without alpha only the IoU-top set."""
    top = tuple(int(u) for u in iou_top)
    if alpha is None or not top:
        return [("iou", top)]
    order = alpha_order(alpha)
    ns = sorted({min(n, len(top)) for n in sizes if n >= 1} | {len(top)})
    return [("optimized", tuple(order[:n])) for n in ns] + [("iou", top)]


def choose_insert_set(
    models: Models,
    layer: str,
    select: HeldOut,
    concept: int,
    iou_top: Sequence[int],
    alpha: np.ndarray | None,
    level: torch.Tensor,
    grid: int,
    patch: int,
    batch_size: int,
) -> InsertChoice:
    """The candidate with the best insertion success on ``select`` (see the module doc)."""
    options = candidates(iou_top, alpha)
    if len(options) == 1:
        return InsertChoice(options[0][0], options[0][1], ())
    tried = []
    best: tuple[tuple[float, float, int], str, tuple[int, ...]] | None = None
    for method, units in options:
        sites = insertion_sites(
            models, layer, select, concept, units, level, select.count, grid, patch, batch_size
        )
        added = np.array([s.added for s in sites]) if sites else np.zeros(0)
        success = float((added >= SUCCESS).mean()) if len(added) else float("nan")
        mean = float(added.mean()) if len(added) else float("nan")
        tried.append((method, len(units), success, mean))
        key = (np.nan_to_num(success, nan=-1.0), np.nan_to_num(mean, nan=-1.0), -len(units))
        if best is None or key > best[0]:
            best = (key, method, units)
    assert best is not None
    return InsertChoice(best[1], best[2], tuple(tried))

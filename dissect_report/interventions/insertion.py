"""Insertion with context: force a concept's units on in a patch where the concept is absent.

Usage::

    sites = insertion_sites(models, "layer4", held, concept=3, units=[7, 2], level=levels,
                            samples=16, grid=4, patch=8, batch_size=32)
    table = by_context(sites, concept_names)   # where insertion works: on buildings, not in sky

A site is (sample, row, col): the top-left corner of a ``patch`` x ``patch`` square of the
layer's feature map, on a ``grid`` x ``grid`` lattice. Sites where the segmenter already sees
the concept inside the patch are skipped. ``added`` = concept pixels in the whole edited image
minus those in the original, divided by the patch's area in image pixels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dissect_report.errors import ConfigError
from dissect_report.interventions.heldout import HeldOut
from dissect_report.models import Models
from dissect_report.modeltools.batches import concept_counts
from dissect_report.modeltools.edit import edit, insert
from dissect_report.modeltools.frozen import frozen
from dissect_report.reportdir.schema import InsertionRow

SUCCESS = 0.05  # a site "succeeds" when the concept grows by >= 5% of the patch area


@dataclass(frozen=True)
class Site:
    sample: int
    row: int
    col: int
    context: int  # concept index the segmenter saw most in the patch before
    added: float


def grid_positions(size: int, patch: int, grid: int) -> list[int]:
    """``grid`` evenly spaced top-left offsets of a ``patch`` inside ``size`` (deduplicated)."""
    if not 1 <= patch <= size:
        raise ConfigError(f"insertion patch {patch} must be between 1 and the layer size {size}")
    if grid < 1:
        raise ConfigError(f"insertion grid must be >= 1; got {grid}")
    if grid == 1:
        return [(size - patch) // 2]
    return sorted({round(i * (size - patch) / (grid - 1)) for i in range(grid)})


def image_box(
    row: int, col: int, patch: int, layer_hw: tuple[int, int], image_hw: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The patch's (top, bottom, left, right) in image pixels (covers every touched pixel)."""
    sy, sx = image_hw[0] / layer_hw[0], image_hw[1] / layer_hw[1]
    return (
        int(np.floor(row * sy)),
        int(np.ceil((row + patch) * sy)),
        int(np.floor(col * sx)),
        int(np.ceil((col + patch) * sx)),
    )


def candidate_sites(
    held: HeldOut, concept: int, samples: Sequence[int], grid: int, patch: int
) -> list[tuple[int, int, int, int]]:
    """(sample index, row, col, context) for every lattice site where ``concept`` is absent."""
    _, h, w = held.shape
    image_hw = (held.labels.shape[1], held.labels.shape[2])
    out = []
    for j in samples:
        for r in grid_positions(h, patch, grid):
            for c in grid_positions(w, patch, grid):
                t, b, left, right = image_box(r, c, patch, (h, w), image_hw)
                region = held.labels[j, t:b, left:right].flatten()
                if bool((region == concept).any()):
                    continue
                context = int(torch.bincount(region).argmax())
                out.append((j, r, c, context))
    return out


def insertion_sites(
    models: Models,
    layer: str,
    held: HeldOut,
    concept: int,
    units: Sequence[int],
    level: torch.Tensor,
    samples: int,
    grid: int,
    patch: int,
    batch_size: int,
) -> list[Site]:
    """Insert ``units`` at ``level`` at every candidate site, one edited image per site."""
    _, h, w = held.shape
    cands = candidate_sites(held, concept, range(min(samples, held.count)), grid, patch)
    n_concepts = len(models.concepts)
    sy, sx = held.labels.shape[1] / h, held.labels.shape[2] / w
    area = patch * sy * patch * sx
    sites: list[Site] = []
    with frozen(models.generator):
        for start in range(0, len(cands), batch_size):
            chunk = cands[start : start + batch_size]
            masks = models.place(torch.zeros(len(chunk), 1, h, w))
            for k, (_, r, c, _) in enumerate(chunk):
                masks[k, 0, r : r + patch, c : c + patch] = 1.0
            z = held.z[[j for j, *_ in chunk]]
            with edit(models.generator, layer, insert(list(units), level, region=masks)):
                labels = models.segment(models.generate(z))
            after = concept_counts(labels, n_concepts)[:, concept]
            for k, (j, r, c, ctx) in enumerate(chunk):
                gained = float(after[k] - held.counts[j, concept])
                sites.append(Site(held.ids[j], r, c, ctx, gained / area))
    return sites


def by_context(
    sites: Sequence[Site], concepts: Sequence[str], method: str = "iou"
) -> list[InsertionRow]:
    """Sites grouped by the concept that was there before, most sites first (``method``: the
    unit set inserted, ``optimized`` or ``iou``)."""
    groups: dict[int, list[float]] = {}
    for s in sites:
        groups.setdefault(s.context, []).append(s.added)
    order = Counter({k: len(v) for k, v in groups.items()})
    rows = []
    for ctx, n in sorted(order.items(), key=lambda kv: (-kv[1], kv[0])):
        added = np.array(groups[ctx])
        rows.append(
            InsertionRow(
                concepts[ctx], n, float(added.mean()), float((added >= SUCCESS).mean()), method
            )
        )
    return rows

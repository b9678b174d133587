"""Repair by ablation: switch the worst artifact units off and measure quality before/after.

Usage::

    rep = measure_repair(models, "layer4", units=[17, 3], seed=4, count=128, batch_size=32,
                         worst=6, reference_count=1024)
    rep.fsd_before, rep.fsd_after          # Frechet distance to real images (NaN without them)
    rep.realism_before, rep.realism_after  # mean discriminator logit (NaN without a D)

The repair samples are their own held-out set (not the samples that ranked the units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from dissect_report.artifacts.score import Scan, scan_samples
from dissect_report.interventions.bundle import ModelBundle, batches, frozen
from dissect_report.interventions.edit import ablate, edit
from dissect_report.interventions.pictures import tile_grid, to_uint8
from dissect_report.metrics import frechet_distance
from dissect_report.progress import bar


@dataclass(frozen=True)
class Repair:
    layer: str
    units: list[int]
    seed: int
    count: int
    fsd_before: float
    fsd_after: float
    realism_before: float
    realism_after: float
    worst_samples: list[int]
    picture: bytes | None  # before_after.png


def reference_features(
    models: ModelBundle, seed: int, count: int, batch_size: int
) -> np.ndarray | None:
    """Features of ``count`` real images from the model's reference, or None without one."""
    if models.reference is None:
        return None
    parts = []
    chunks = list(batches(range(count), batch_size))
    for chunk in bar(chunks, desc="real images", unit="batch", leave=False):
        parts.append(models.feature_fn(models.reference(seed, chunk).float()).numpy())
    return np.concatenate(parts)


def worst_samples(before: Scan, reference: np.ndarray | None, count: int) -> list[int]:
    """Lowest realism first; without a discriminator, farthest features from the reference mean."""
    if before.realism is not None:
        key = before.realism
    else:
        center = (reference if reference is not None else before.features).mean(0)
        key = -np.linalg.norm(before.features - center, axis=1)
    order = np.argsort(key, kind="stable")[:count]
    return [before.ids[i] for i in order]


def _picture(
    models: ModelBundle, layer: str, units: list[int], seed: int, ids: list[int]
) -> bytes | None:
    if not ids:
        return None
    z = models.latents(seed, ids)
    with frozen(models.generator):
        before = to_uint8(models.generate(z))
        with edit(models.generator, layer, ablate(units)):
            after = to_uint8(models.generate(z))
    return tile_grid([[before[k], after[k]] for k in range(len(ids))])


def measure_repair(
    models: ModelBundle,
    layer: str,
    units: list[int],
    seed: int,
    count: int,
    batch_size: int,
    worst: int,
    reference_count: int | None = None,
) -> Repair:
    """Quality of ``count`` samples before / after ablating ``units``.

    FSD compares them with ``reference_count`` real images (default: as many as samples);
    more real images make the reference's own sampling noise smaller.
    """
    before = scan_samples(models, layer, seed, count, batch_size, desc="repair: before")
    after = scan_samples(
        models, layer, seed, count, batch_size, ablate(units), desc="repair: after"
    )
    ref = reference_features(models, seed, reference_count or count, batch_size)
    nan = math.nan
    fsd_before = frechet_distance(before.features, ref) if ref is not None else nan
    fsd_after = frechet_distance(after.features, ref) if ref is not None else nan
    real_before = float(before.realism.mean()) if before.realism is not None else nan
    real_after = float(after.realism.mean()) if after.realism is not None else nan
    ids = worst_samples(before, ref, worst)
    return Repair(
        layer,
        list(units),
        seed,
        count,
        fsd_before,
        fsd_after,
        real_before,
        real_after,
        ids,
        _picture(models, layer, list(units), seed, ids),
    )


def strip(models: ModelBundle, seed: int, ids: list[int]) -> bytes:
    """One row of the given samples (a unit's top images), PNG."""
    with torch.no_grad():
        tiles = to_uint8(models.generate(models.latents(seed, ids)))
    return tile_grid([list(tiles)], scale=1)

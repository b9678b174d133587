"""Measure a repair set on held-out samples: the metric, the independent checks, the pictures.

Usage::

    refs = reference_sets(models, real, score_seed=3, repair_seed=4, count=1024, batch_size=32)
    rep = measure_repair(models, "layer4", [17, 3], seed=4, count=128, batch_size=32, worst=6,
                         metric="fsd", reference=refs.measure, max_label_change=0.1)
    rep.verdict.status, rep.rows          # "repaired" / "rejected"; every number with direction
    rep.before_png, rep.after_png         # the worst samples, unedited / edited, native scale

The repair samples are their own held-out set (not the samples that chose the units), and with
real images the FSD compares them with the other half of those images (see ``reference_sets``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dissect_report.artifacts.guard import decide, independent_checks, metric_row
from dissect_report.artifacts.real_images import RealImages
from dissect_report.artifacts.score import Scan, scan_samples
from dissect_report.images import tile_grid, to_uint8
from dissect_report.models import Models, to_numpy
from dissect_report.modeltools.batches import batches
from dissect_report.modeltools.edit import ablate, edit
from dissect_report.modeltools.frozen import frozen
from dissect_report.progress import bar
from dissect_report.reportdir.schema import ArtifactVerdict, RepairRow


@dataclass(frozen=True)
class ReferenceSets:
    """Features of real images: ``select`` for the screen, ``measure`` for the held-out check."""

    select: np.ndarray  # (N1, D) float64
    measure: np.ndarray  # (N2, D) float64, disjoint from ``select``
    info: dict[str, Any]  # what the manifest records


def _features(models: Models, images: Any, n: int, batch_size: int, desc: str) -> np.ndarray:
    parts = []
    chunks = list(batches(range(n), batch_size))
    for chunk in bar(chunks, desc=desc, unit="batch", leave=False):
        parts.append(to_numpy(models.feature_vectors(models.place(images(chunk), torch.float32))))
    return np.concatenate(parts)


def reference_sets(
    models: Models,
    real: RealImages | None,
    score_seed: int,
    repair_seed: int,
    count: int,
    batch_size: int,
) -> ReferenceSets | None:
    """The FSD references, or None without real images.

    Given real images (``--real-images``) are split by position: even ones for the screen and
    the greedy set, odd ones for the held-out measurement, so the measurement shares neither
    generated nor real samples with the selection. A model's own renderer of real images
    (``Models.reference``, the built-in world) gives ``count`` images per seed instead.
    """
    if real is not None:
        feats = _features(models, real.tensor, real.count, batch_size, "real images: features")
        info = {**real.describe(), "split": "even positions select, odd positions measure"}
        return ReferenceSets(feats[0::2], feats[1::2], info)
    if models.reference is None:
        return None
    ref = models.reference_images
    select = _features(
        models, lambda ids: ref(score_seed, ids), count, batch_size, "real images: select"
    )
    measure = _features(
        models, lambda ids: ref(repair_seed, ids), count, batch_size, "real images: measure"
    )
    info = {"kind": "renderer", "count": count, "seeds": [score_seed, repair_seed]}
    return ReferenceSets(select, measure, info)


@dataclass(frozen=True)
class Repair:
    """A repair set measured on ``count`` held-out samples of ``seed``."""

    layer: str
    units: list[int]  # the set judged (ablated in ``after``)
    seed: int
    count: int
    rows: list[RepairRow]  # the metric first, then the independent checks
    verdict: ArtifactVerdict
    worst_samples: list[int]
    before_png: bytes  # the worst samples unedited, one row, native scale
    after_png: bytes  # the same samples with ``units`` ablated

    def value(self, metric: str) -> RepairRow | None:
        return next((r for r in self.rows if r.metric == metric), None)


def worst_samples(before: Scan, reference: np.ndarray | None, count: int) -> list[int]:
    """Lowest realism first; without a discriminator, farthest features from the real mean."""
    if before.realism is not None:
        key = before.realism
    else:
        center = (reference if reference is not None else before.features).mean(0)
        key = -np.linalg.norm(before.features - center, axis=1)
    order = np.argsort(key, kind="stable")[:count]
    return [before.ids[i] for i in order]


def _pictures(
    models: Models, layer: str, units: list[int], seed: int, ids: list[int]
) -> tuple[bytes, bytes]:
    z = models.latents(ids, seed=seed)
    with frozen(models.generator):
        before = to_uint8(models.generate(z))
        with edit(models.generator, layer, ablate(units)):
            after = to_uint8(models.generate(z))
    return tile_grid([list(before)], scale=1), tile_grid([list(after)], scale=1)


def measure_repair(
    models: Models,
    layer: str,
    units: Sequence[int],
    seed: int,
    count: int,
    batch_size: int,
    worst: int,
    metric: str,
    reference: np.ndarray | None,
    max_label_change: float,
) -> Repair:
    """``units`` ablated on ``count`` held-out samples: metric, checks, verdict, pictures."""
    units = [int(u) for u in units]
    before = scan_samples(
        models, layer, seed, count, batch_size, desc="repair: before", labels=True
    )
    after = scan_samples(
        models, layer, seed, count, batch_size, ablate(units), desc="repair: after", labels=True
    )
    main = metric_row(metric, before, after, reference)
    checks = independent_checks(metric, before, after, models.concepts, max_label_change)
    ids = worst_samples(before, reference, max(worst, 1))
    before_png, after_png = _pictures(models, layer, units, seed, ids)
    return Repair(
        layer,
        units,
        seed,
        count,
        [main, *checks],
        decide(layer, units, main, checks),
        ids,
        before_png,
        after_png,
    )


def strip(models: Models, seed: int, ids: list[int]) -> bytes:
    """One row of the given samples (a unit's top images), PNG."""
    with frozen(models.generator):
        tiles = to_uint8(models.sample(ids, seed=seed))
    return tile_grid([list(tiles)], scale=1)

"""Ablation ACE: how much of a concept disappears when n of its top units are switched off.

Usage::

    ablator = Ablator(models, "layer4", held, batch_size=16)
    rows = ace_curve(ablator, concept=3, orderings={"iou": [7, 2, 9]}, random_orders=[perm])
    rows[0].ace          # drop in concept 3's pixel fraction when unit 7 is ablated

ACE(n) = fraction_before - fraction_after, the concept's pixel fraction over the held-out
samples (segmenter on the original vs the edited images). ACE is net: pixels of the concept
that disappear minus pixels that newly show it elsewhere. ``erased`` is the first part alone,
the share of the concept's original pixels no longer labeled with it (when an ablation pales
the whole sky, clouds can vanish where they were while new "cloud" appears around them).
Every ablation pass measures all concepts at once and is cached by unit set, so random
controls are shared across concepts.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np
import torch

from dissect_report.interventions.heldout import HeldOut
from dissect_report.models import Models, to_numpy
from dissect_report.modeltools.batches import batches, concept_counts
from dissect_report.modeltools.edit import ablate, edit
from dissect_report.modeltools.frozen import frozen
from dissect_report.reportdir.schema import AceRow


def unit_counts(n_max: int) -> list[int]:
    """1, 2, 4, ... below ``n_max``, then ``n_max`` itself."""
    ns, n = [], 1
    while n < n_max:
        ns.append(n)
        n *= 2
    if n_max >= 1:
        ns.append(n_max)
    return ns


def random_order(seed: int, trial: int, units: int) -> list[int]:
    """A permutation of the layer's units for one control trial (nested: first n = n random)."""
    rng = np.random.default_rng([seed, trial, zlib.crc32(b"random-control")])
    return [int(u) for u in rng.permutation(units)]


class Ablator:
    """Measures per-concept pixel totals of the held-out samples with a unit set ablated."""

    def __init__(self, models: Models, layer: str, held: HeldOut, batch_size: int) -> None:
        self.models, self.layer, self.held, self.batch_size = models, layer, held, batch_size
        n_concepts = len(models.concepts)
        unedited = (held.counts.sum(0), np.zeros(n_concepts, np.int64))
        self._cache: dict[frozenset[int], tuple[np.ndarray, np.ndarray]] = {frozenset(): unedited}
        self.passes = 0

    def _pass(self, units: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(C,) pixels per concept, and (C,) pixels that lost that label, with ``units`` off."""
        key = frozenset(int(u) for u in units)
        if key not in self._cache:
            self.passes += 1
            n_concepts = len(self.models.concepts)
            counts, lost = [], []
            with (
                frozen(self.models.generator),
                edit(self.models.generator, self.layer, ablate(sorted(key))),
            ):
                for chunk in batches(range(self.held.count), self.batch_size):
                    labels = self.models.segment(self.models.generate(self.held.z[chunk]))
                    before = self.held.labels[chunk]
                    counts.append(concept_counts(labels, n_concepts).sum(0))
                    gone = before[labels != before]
                    lost.append(to_numpy(torch.bincount(gone, minlength=n_concepts)))
            self._cache[key] = (np.sum(counts, axis=0), np.sum(lost, axis=0).astype(np.int64))
        return self._cache[key]

    def totals(self, units: Sequence[int]) -> np.ndarray:
        """(C,) pixels per concept over the held-out samples with ``units`` ablated (to 0)."""
        return self._pass(units)[0]

    def fraction(self, units: Sequence[int], concept: int) -> float:
        return float(self.totals(units)[concept]) / (self.held.count * self.held.pixels)

    def erased(self, units: Sequence[int], concept: int) -> float:
        """Share of the concept's original pixels no longer labeled with it (NaN if none)."""
        before = float(self.held.counts[:, concept].sum())
        return float(self._pass(units)[1][concept]) / before if before > 0 else math.nan


def _share(ace: float, before: float) -> float:
    return ace / before if before > 0 else math.nan


def ace_curve(
    ablator: Ablator,
    concept: int,
    orderings: dict[str, list[int]],
    random_orders: Sequence[list[int]],
    n_max: int,
) -> list[AceRow]:
    """ACE at n = 1, 2, 4, ..., n_max for each ordering (top-n units), plus random controls."""
    before = ablator.held.fraction(concept)
    rows: list[AceRow] = []
    for n in unit_counts(n_max):
        for method, order in orderings.items():
            units = order[:n]
            after = ablator.fraction(units, concept)
            rows.append(
                AceRow(
                    method,
                    n,
                    tuple(units),
                    1,
                    before,
                    after,
                    before - after,
                    0.0,
                    _share(before - after, before),
                    ablator.erased(units, concept),
                )
            )
        if random_orders:
            afters = np.array([ablator.fraction(order[:n], concept) for order in random_orders])
            aces = before - afters
            ace = float(aces.mean())
            rows.append(
                AceRow(
                    "random",
                    n,
                    tuple(random_orders[0][:n]),
                    len(random_orders),
                    before,
                    float(afters.mean()),
                    ace,
                    float(aces.std()),
                    _share(ace, before),
                    float(np.mean([ablator.erased(o[:n], concept) for o in random_orders])),
                )
            )
    return rows

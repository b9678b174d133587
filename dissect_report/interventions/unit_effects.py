"""Each labelled unit's own causal effect: its concept's pixels removed with it alone switched off.

Usage::

    rows = unit_effects(models, "layer2", held, report.unit_rows("layer2"), samples=16, batch_size=16)
    rows[0].unit, rows[0].concept, rows[0].share    # share of its concept removed (net)

The concept-level curves ablate sets of units; a unit page needs the unit's own number. For
every interpretable unit of the intervention layer (its label, from units.parquet), the unit
alone is set to 0 on the first ``samples`` held-out samples and the segmenter counts its
concept before and after: ``ace`` = drop in the concept's pixel fraction (net of new pixels),
``share`` = ``ace`` / fraction before, ``erased`` = share of the concept's original pixels no
longer labelled with it. One ablation pass per unit measures every concept at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from dissect_report.interventions.ace import Ablator
from dissect_report.interventions.heldout import HeldOut
from dissect_report.models import Models
from dissect_report.progress import bar
from dissect_report.reportdir.schema import UnitEffectRow, UnitRow


def first_samples(held: HeldOut, count: int) -> HeldOut:
    """The first ``count`` held-out samples (all of them when there are fewer)."""
    k = min(count, held.count)
    return replace(
        held, ids=held.ids[:k], z=held.z[:k], labels=held.labels[:k], counts=held.counts[:k]
    )


def unit_effects(
    models: Models,
    layer: str,
    held: HeldOut,
    units: Sequence[UnitRow],
    samples: int,
    batch_size: int,
) -> list[UnitEffectRow]:
    """One row per interpretable unit (units.parquet rows), in unit order; see the module doc."""
    names = models.concepts
    sub = first_samples(held, samples)
    ablator = Ablator(models, layer, sub, batch_size)
    labelled = sorted((r.unit, r.concept) for r in units if r.interpretable and r.concept in names)
    out = []
    for unit, concept in bar(labelled, desc="unit effects", unit="unit"):
        c = names.index(concept)
        before = sub.fraction(c)
        after = ablator.fraction([unit], c)
        ace = before - after
        out.append(
            UnitEffectRow(
                unit=unit,
                concept=concept,
                samples=sub.count,
                fraction_before=before,
                fraction_after=after,
                ace=ace,
                share=ace / before if before > 0 else math.nan,
                erased=ablator.erased([unit], c),
            )
        )
    return out

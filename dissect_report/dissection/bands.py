"""Which samples a unit's page shows: examples from several bands of its peak activation.

Usage::

    from dissect_report.dissection.bands import BANDS, choose_examples, samples_needed
    picks = choose_examples(layer.state, per_band=5)   # one list per unit
    samples_needed(BANDS[1])                           # 550: fewer leave 99-99.9% empty
    picks[7][0]      # ExampleRow(unit=7, band='top', slot=0, sample=1234, peak=5.81)

Top-k alone shows the few most extreme samples, which often look alike (or are the same
odd samples for many units). As feature dashboards do, a unit is also shown on samples
from lower bands of its own peak-activation distribution. "top" comes from the exact top-k;
the other bands are quantiles of the peak over the pass's fixed random subset of samples
(:attr:`~dissect_report.dissection.stats.LayerState.peaks`), which is exact when the run had fewer
samples than the subset holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dissect_report.dissection.stats import LayerState
from dissect_report.reportdir.schema import ExampleRow


@dataclass(frozen=True)
class Band:
    """A band of a unit's peak activation: ``lo <= quantile < hi`` (``top``: the top-k)."""

    key: str
    label: str
    lo: float
    hi: float


BANDS = (
    Band("top", "top", 1.0, 1.0),
    Band("p99", "99\u201399.9%", 0.99, 0.999),
    Band("p95", "95\u201399%", 0.95, 0.99),
    Band("typical", "typical (40\u201360%)", 0.40, 0.60),
)
PER_BAND = 5


def samples_needed(band: Band, per_band: int = PER_BAND) -> int:
    """The fewest samples at which ``band`` can hold a sample the ``top`` band does not show
    already (1 for ``top``): at 200 samples the 99–99.9% band is empty for every unit (it
    needs 550), which the CLI and the unit page say."""
    if band.key == "top":
        return 1
    m = 1
    while True:  # some i < m - per_band with lo <= (i + 0.5) / m < hi
        i = int(np.ceil(band.lo * m - 0.5))
        if i < m - per_band and (i + 0.5) / m < band.hi:
            return m
        m += 1


def choose_examples(state: LayerState, per_band: int = PER_BAND) -> list[list[ExampleRow]]:
    """Up to ``per_band`` samples per band for every unit, highest peak first in each band.

    Within a band the samples are spread evenly over its quantile range; a sample already
    shown in a higher band is not repeated. A band with no sample in it (a small run) is
    simply empty. Deterministic: ties in peak are ordered by sample id.
    """
    ids, peaks = state.peak_subset()
    out: list[list[ExampleRow]] = []
    for u, top in enumerate(state.topk()):
        chosen = [ExampleRow(u, "top", k, s, v) for k, (s, v) in enumerate(top[:per_band])]
        seen = {e.sample for e in chosen}
        p = peaks[u].astype(np.float64) if len(ids) else np.zeros(0)
        m = len(p)
        if m:
            p = np.where(np.isfinite(p), p, -np.inf)
            asc = np.lexsort((-ids, p))  # ascending peak; ties: higher id first, so the
            q = (np.arange(m) + 0.5) / m  # descending walk below meets lower ids first
            for band in BANDS[1:]:
                inside = asc[(q >= band.lo) & (q < band.hi)][::-1]
                inside = np.array(  # a sample where the unit was never finite shows nothing
                    [i for i in inside if int(ids[i]) not in seen and np.isfinite(p[i])], np.int64
                )
                if len(inside) == 0:
                    continue
                spread = np.linspace(0, len(inside) - 1, min(per_band, len(inside)))
                take = inside[np.unique(spread.round().astype(np.int64))]
                for k, i in enumerate(take):
                    chosen.append(ExampleRow(u, band.key, k, int(ids[i]), float(p[i])))
                    seen.add(int(ids[i]))
        out.append(chosen)
    return out

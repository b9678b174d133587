"""Which units make the images worse: ablate each alone, then build the repair set greedily.

Usage::

    judge = Judge.make(scan, reference)          # the quality metric on the scoring samples
    gains = screen(models, "layer4", scan, judge, units=[3, 17, 40], batch_size=32)
    units, steps = greedy_set(models, "layer4", scan, judge, gains, limit=4, min_gain=0.0,
                              batch_size=32)

The artifact score (:mod:`dissect_report.artifacts.score`) is a correlation: it says which
images a unit fires on, not what the unit does to them. The screen is the causal test: a unit
is an artifact unit when switching it off alone makes the generated images better by the
quality metric, on all scoring samples and on each half of them (even and odd sample
positions), so that one lucky half does not confirm it. The even half is measured first and
the odd half only for units that pass it. The metric is the Frechet distance of the samples'
features to real images (``--real-images``, or the built-in world's renderer), else the
discriminator's mean realism logit. Without either there is no quality metric and no screen:
a distance to the samples' own center measures diversity, not quality, and "repaired" the
DCGAN face generator by painting stripes over every face.
Units that each help can hurt together, so the repair set is grown one confirmed unit at a
time, best first, keeping a unit only if the set with it scores better than without.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from dissect_report.artifacts.score import Scan, interleave, scan_samples
from dissect_report.artifacts.settings import check_metric
from dissect_report.errors import ConfigError
from dissect_report.metrics import frechet_distance
from dissect_report.models import Models
from dissect_report.modeltools.edit import ablate
from dissect_report.progress import bar


@dataclass(frozen=True)
class Judge:
    """Scores a scan's samples: lower is better (FSD, or minus the mean realism logit)."""

    metric: str  # "fsd" or "realism"
    reference: np.ndarray | None  # real images' features (metric "fsd")
    baseline: float  # the metric on the unedited scoring samples

    @classmethod
    def make(cls, scan: Scan, reference: np.ndarray | None, metric: str = "auto") -> Judge | None:
        """``auto``: FSD with real images, else realism with a discriminator, else None.

        None means no quality metric: nothing can be screened or repaired (the stage says so).
        """
        if check_metric(metric) == "auto":
            if reference is not None:
                metric = "fsd"
            elif scan.realism is not None:
                metric = "realism"
            else:
                return None
        if metric == "fsd" and reference is None:
            raise ConfigError(
                "metric 'fsd' needs real images; give --real-images DIR (PNG/JPEG, .npz, .parquet)"
            )
        if metric == "realism" and scan.realism is None:
            raise ConfigError(
                "metric 'realism' needs a discriminator; give --discriminator pkg.module:make"
            )
        judge = cls(metric, reference, float("nan"))
        return replace(judge, baseline=judge.badness(scan))

    def badness(self, scan: Scan) -> float:
        """The metric on the scan's samples."""
        if self.metric == "fsd":
            assert self.reference is not None
            return frechet_distance(scan.features, self.reference)
        assert scan.realism is not None
        return -float(scan.realism.mean())


@dataclass(frozen=True)
class AblationGain:
    """How much ablating one unit alone improves the scoring samples (positive = better).

    The even half is measured first; a unit that does not improve it by more than
    ``min_gain`` cannot be confirmed, so the rest is not measured (NaN). That halves the cost
    of the screen for the many units whose removal only hurts.
    """

    unit: int
    gain: float  # on all scoring samples
    gain_even: float  # on the even sample positions only
    gain_odd: float  # on the odd ones
    badness: float  # the metric on all scoring samples with the unit ablated

    def confirmed(self, min_gain: float) -> bool:
        """Better by more than ``min_gain`` on all samples and on each half of them."""
        values = (self.gain, self.gain_even, self.gain_odd)
        return all(v == v for v in values) and min(values) > min_gain


def _scan(
    models: Models,
    layer: str,
    scan: Scan,
    units: Sequence[int],
    batch: int,
    ids: Sequence[int] | None = None,
) -> Scan:
    return scan_samples(
        models,
        layer,
        scan.seed,
        len(scan.ids),
        batch,
        ablate(list(units)),
        progress=False,
        ids=scan.ids if ids is None else ids,
    )


def screen(
    models: Models,
    layer: str,
    scan: Scan,
    judge: Judge,
    units: Sequence[int],
    batch_size: int,
    min_gain: float = 0.0,
) -> dict[int, AblationGain]:
    """Ablate each of ``units`` alone over the scoring samples and measure the improvement."""
    n = len(scan.ids)
    even_rows, odd_rows = np.arange(0, n, 2), np.arange(1, n, 2)
    even_before, odd_before = scan.rows(even_rows), scan.rows(odd_rows)
    base = (judge.baseline, judge.badness(even_before), judge.badness(odd_before))
    nan = float("nan")
    gains: dict[int, AblationGain] = {}
    for unit in bar(list(units), desc="artifact screen", unit="unit", leave=False):
        even = _scan(models, layer, scan, [unit], batch_size, even_before.ids)
        gain_even = base[1] - judge.badness(even)
        if not gain_even > min_gain:
            gains[int(unit)] = AblationGain(int(unit), nan, gain_even, nan, nan)
            continue
        odd = _scan(models, layer, scan, [unit], batch_size, odd_before.ids)
        after = interleave(even, odd)
        whole = judge.badness(after)
        gain_odd = base[2] - judge.badness(odd)
        gains[int(unit)] = AblationGain(int(unit), base[0] - whole, gain_even, gain_odd, whole)
    return gains


@dataclass(frozen=True)
class GreedyStep:
    """One try of the greedy repair: the set so far plus ``unit``, and whether it was kept."""

    unit: int
    badness: float  # the metric with the set so far plus this unit ablated
    kept: bool


def greedy_set(
    models: Models,
    layer: str,
    scan: Scan,
    judge: Judge,
    gains: dict[int, AblationGain],
    limit: int,
    min_gain: float,
    batch_size: int,
) -> tuple[list[int], list[GreedyStep]]:
    """The repair set: confirmed units, best gain first, each kept only if the set improves."""
    order = sorted(
        (g for g in gains.values() if g.confirmed(min_gain)), key=lambda g: (-g.gain, g.unit)
    )
    chosen: list[int] = []
    best = judge.baseline
    steps: list[GreedyStep] = []
    for g in order:
        if len(chosen) >= limit:
            break
        if chosen:
            value = judge.badness(_scan(models, layer, scan, [*chosen, g.unit], batch_size))
        else:
            value = g.badness  # the screen already measured this unit alone
        kept = best - value > min_gain
        steps.append(GreedyStep(g.unit, value, kept))
        if kept:
            chosen.append(g.unit)
            best = value
    return chosen, steps

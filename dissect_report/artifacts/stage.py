"""The artifact stage: rank units by their top images, screen them causally, repair by ablation.

Usage::

    from dissect_report.artifacts import ArtifactConfig, find_artifacts
    result = find_artifacts(ArtifactConfig(samples=256, repair_units=4), "report")
    result.units[0].unit                        # the worst unit by artifact score
    result.confirmed                            # units whose ablation alone helps (the screen)
    result.verdict.status, result.verdict.reason  # "repaired", "rejected", "none-confirmed"
                                                # or "no-metric", and why in one sentence
    result.verdict.units                        # the units the repair ablates (empty if none)
    result.repair.rows                          # metric + independent checks, held-out samples

With ``ArtifactConfig(real_images="faces/")`` the FSD compares with those real images.

Writes ``artifacts/`` and updates the manifest last (docs/report-format.md, "Artifacts").
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from dissect_report.artifacts.guard import no_metric, none_confirmed
from dissect_report.artifacts.real_images import RealImages, load_real_images
from dissect_report.artifacts.realism import as_logits
from dissect_report.artifacts.repair import (
    ReferenceSets,
    Repair,
    measure_repair,
    reference_sets,
    strip,
)
from dissect_report.artifacts.score import UnitScore, scan_samples, score_units
from dissect_report.artifacts.screen import AblationGain, GreedyStep, Judge, greedy_set, screen
from dissect_report.artifacts.settings import ArtifactConfig
from dissect_report.charts import horizontal_bar_chart
from dissect_report.errors import ConfigError, ReportError, user_code
from dissect_report.models import Models
from dissect_report.modeltools.frozen import frozen
from dissect_report.modeltools.reopen import open_with_models
from dissect_report.reportdir.atomic import write_bytes, write_json
from dissect_report.reportdir.report import Report
from dissect_report.reportdir.schema import (
    ARTIFACT_REPAIR,
    ARTIFACT_UNITS,
    ArtifactUnitRow,
    ArtifactVerdict,
    RepairDoc,
    RepairRow,
    RepairStep,
    to_table,
)
from dissect_report.reportdir.write import write_table
from dissect_report.swap import begin_section, publish_section, writes_section

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArtifactResult:
    report: Path
    layer: str
    units: tuple[UnitScore, ...]  # worst first
    metric: str  # what the screen and the repair set improve; "none" without a quality metric
    baseline: float  # the metric on the unedited scoring samples (NaN without one)
    gains: dict[int, AblationGain]  # the screened units
    confirmed: tuple[int, ...]  # screened units whose ablation alone helps, in score order
    steps: tuple[GreedyStep, ...]  # the greedy set's tries, in order
    repair: Repair | None  # the set measured on held-out samples (None if none was built)
    verdict: ArtifactVerdict  # repaired or not, and why
    settings: dict[str, Any]
    seconds: float
    candidates: tuple[int, ...] = ()  # the units screened, worst score first


@dataclass(frozen=True)
class ArtifactInputs:
    """What the stage works on, read and checked before anything is written: a bad image or
    a saturated sigmoid stops the stage there, leaving the report as it was."""

    layer: str
    score_seed: int  # the samples that score, screen and choose the set
    repair_seed: int  # the held-out samples that judge it
    models: Models  # with a discriminator that returns logits (a final sigmoid undone)
    real: RealImages | None  # ``config.real_images``, loaded
    discriminator_output: str | None  # how the discriminator's output was read (None: none)


@dataclass(frozen=True)
class Screening:
    """The measurements of :func:`screen_and_repair`."""

    scores: tuple[UnitScore, ...]  # worst first
    refs: ReferenceSets | None  # real images' features (None: no FSD)
    judge: Judge | None  # the quality metric (None: there is none)
    candidates: tuple[int, ...]
    gains: dict[int, AblationGain]
    steps: tuple[GreedyStep, ...]
    repair: Repair | None
    verdict: ArtifactVerdict


def choose_layer(report: Report, requested: str | None) -> str:
    """The requested layer, else the last dissected one (the finest of the usual choices).

    Its units are the fewest, so the causal screen can try every one of them; on the built-in
    world it is also where ablations improve the quality metric (see docs/report-format.md).
    """
    layer = report.check_layer(requested)
    return layer if layer is not None else report.layers[-1]


def _unit_labels(report: Report, layer: str) -> dict[int, tuple[str | None, float]]:
    try:
        rows = report.units_table(layer).to_pylist()
    except ReportError:
        return {}
    return {
        int(r["unit"]): (r["concept"], float(r["iou"]) if r["iou"] is not None else math.nan)
        for r in rows
    }


def unit_rows(
    result: ArtifactResult, labels: dict[int, tuple[str | None, float]]
) -> list[ArtifactUnitRow]:
    """The rows of ``artifacts/units.parquet``: each unit's score, its screen, its label."""
    repaired, rows = set(result.verdict.units), []
    for s in result.units:
        g = result.gains.get(s.unit)
        concept, iou = labels.get(s.unit, (None, math.nan))
        rows.append(
            ArtifactUnitRow(
                unit=s.unit, rank=s.rank, score=s.score, fsd=s.fsd, realism=s.realism,
                top_samples=tuple(s.top_samples),
                ablation_gain=g.gain if g is not None else math.nan,
                ablation_gain_even=g.gain_even if g is not None else math.nan,
                ablation_gain_odd=g.gain_odd if g is not None else math.nan,
                repaired=s.unit in repaired, concept=concept, iou=iou,
            )
        )  # fmt: skip
    return rows


def _metric_value(metric: str, badness: float) -> float:
    """The metric as reported (realism is a logit, higher is better; the judge negates it)."""
    return -badness if metric == "realism" else badness


def repair_doc(result: ArtifactResult) -> RepairDoc:
    """``artifacts/repair.json`` of a result."""
    rep = result.repair
    return RepairDoc(
        layer=result.layer,
        verdict=result.verdict,
        metric=result.metric,
        candidates=result.candidates,
        confirmed=result.confirmed,
        baseline=result.baseline,
        greedy=tuple(
            RepairStep(st.unit, _metric_value(result.metric, st.badness), st.kept)
            for st in result.steps
        ),
        metrics=tuple(rep.rows) if rep is not None else (),
        worst_samples=tuple(rep.worst_samples) if rep is not None else (),
    )


def _generator_size(models: Models, seed: int) -> tuple[int, int]:
    with frozen(models.generator):
        image = models.sample([0], seed=seed)
    return int(image.shape[2]), int(image.shape[3])


def _logit_discriminator(models: Models, seed: int) -> tuple[Models, str | None]:
    """The models with a discriminator that returns logits (a final sigmoid undone)."""
    if models.discriminator is None:
        return models, None
    with frozen(models.generator, models.discriminator):
        images = models.sample(range(2), seed=seed)
        with user_code("discriminator"):
            disc, how = as_logits(models.discriminator, models.discriminator_input(images))
    if how != "logits":
        log.warning("the discriminator ends in a sigmoid; its outputs are converted to logits")
    return replace(models, discriminator=disc), how


def read_inputs(config: ArtifactConfig, report: Report, models: Models) -> ArtifactInputs:
    """The layer, the seeds, the real images and a logit discriminator; a ConfigError when
    the seeds coincide or the requested metric has nothing to measure with."""
    layer = choose_layer(report, config.layer)
    seed = report.dissection_seed
    score_seed = seed + 2 if config.score_seed is None else config.score_seed
    repair_seed = seed + 3 if config.repair_seed is None else config.repair_seed
    if score_seed == repair_seed:
        raise ConfigError(
            f"score seed and repair seed are both {score_seed}; the repair needs its own samples"
        )
    real = None
    if config.real_images is not None:
        size = _generator_size(models, score_seed)
        real = load_real_images(config.real_images, size, config.reference_samples)
    models, d_output = _logit_discriminator(models, score_seed)
    if config.metric == "fsd" and real is None and models.reference is None:
        raise ConfigError(
            "metric 'fsd' needs real images; give --real-images DIR (PNG/JPEG, .npz, .parquet)"
        )
    if config.metric == "realism" and models.discriminator is None:
        raise ConfigError(
            "metric 'realism' needs a discriminator; give --discriminator pkg.module:make"
        )
    return ArtifactInputs(layer, score_seed, repair_seed, models, real, d_output)


def screen_and_repair(config: ArtifactConfig, inp: ArtifactInputs) -> Screening:
    """Score every unit, screen the worst causally, build the repair set and judge it on the
    held-out samples (no quality metric: the units are scored only)."""
    models, layer, batch = inp.models, inp.layer, config.batch_size
    scan = scan_samples(models, layer, inp.score_seed, config.samples, batch, desc="artifact scan")
    scores = tuple(score_units(scan, config.top_k))
    refs = reference_sets(
        models, inp.real, inp.score_seed, inp.repair_seed, config.reference_samples, batch
    )
    judge = Judge.make(scan, refs.select if refs is not None else None, config.metric)
    if judge is None:
        return Screening(scores, refs, None, (), {}, (), None, no_metric(layer))
    # Rank by score (a correlation), then test the worst candidates causally: only units
    # whose removal makes the scoring samples better can join the set (screen.py).
    scored = [s.unit for s in scores if not math.isnan(s.score)]  # dead units: no score
    candidates = scored[: config.candidates]
    gains = screen(models, layer, scan, judge, candidates, batch, config.min_gain)
    chosen, steps = greedy_set(
        models, layer, scan, judge, gains, config.repair_units, config.min_gain, batch
    )
    if not chosen:
        verdict = none_confirmed(layer, judge.metric, len(candidates))
        return Screening(scores, refs, judge, tuple(candidates), gains, tuple(steps), None, verdict)
    rep = measure_repair(
        models, layer, chosen, inp.repair_seed, config.repair_samples, batch,
        config.worst_samples, judge.metric, refs.measure if refs is not None else None,
        config.max_label_change,
    )  # fmt: skip
    return Screening(scores, refs, judge, tuple(candidates), gains, tuple(steps), rep, rep.verdict)


def _settings(
    config: ArtifactConfig, inp: ArtifactInputs, found: Screening, metric: str
) -> dict[str, Any]:
    """What the manifest's ``artifacts`` section records."""
    return {
        **asdict(config),
        "layer": inp.layer,
        "metric": metric,
        "score_seed": inp.score_seed,
        "repair_seed": inp.repair_seed,
        "features": inp.models.feature_kind(),
        "discriminator": inp.models.discriminator is not None,
        "discriminator_output": inp.discriminator_output,
        "reference": found.refs.info if found.refs is not None else None,
        "verdict": found.verdict.status,
    }


def write_artifacts(
    out: Path,
    result: ArtifactResult,
    rows: list[ArtifactUnitRow],
    strips: dict[int, bytes],
    chart_units: int,
) -> None:
    """Write the section's files into ``out`` (the new ``artifacts/``, not yet swapped in):
    the tables, the worst units' chart and strips of top images, repair.json, the pictures."""
    write_table(out / "units.parquet", to_table(rows, ArtifactUnitRow), ARTIFACT_UNITS, csv=True)
    worst = result.units[:chart_units]
    svg = horizontal_bar_chart(
        [f"unit {s.unit}" for s in worst],
        [s.score for s in worst],
        x_label="artifact score (higher = worse)",
        title=f"{result.layer}: worst units",
    )
    write_bytes(out / "scores.svg", svg.encode())
    for unit, png in strips.items():
        write_bytes(out / "units" / f"{unit}.png", png)
    rep = result.repair
    repair_rows = rep.rows if rep is not None else []
    write_table(out / "repair.parquet", to_table(repair_rows, RepairRow), ARTIFACT_REPAIR)
    write_json(out / "repair.json", repair_doc(result).to_json())
    if rep is not None:
        write_bytes(out / "before.png", rep.before_png)
        write_bytes(out / "after.png", rep.after_png)


@writes_section("artifacts")
def find_artifacts(
    config: ArtifactConfig, report: str | Path, models: Models | None = None
) -> ArtifactResult:
    """Score the units of one layer, repair the worst if a quality metric says so.

    Writes ``REPORT/artifacts/`` and the manifest's ``artifacts`` section. Without real images
    (``config.real_images`` or the model's renderer) and without a discriminator, units are
    scored and ranked but nothing is screened or repaired; the verdict says why.
    """
    start = time.perf_counter()
    opened, models = open_with_models(report, models)
    inp = read_inputs(config, opened, models)
    out = begin_section(opened.root, "artifacts")  # the old artifacts/ stays until the swap
    found = screen_and_repair(config, inp)
    judge = found.judge
    metric = judge.metric if judge is not None else "none"
    result = ArtifactResult(
        report=opened.root,
        layer=inp.layer,
        units=found.scores,
        metric=metric,
        baseline=_metric_value(metric, judge.baseline) if judge is not None else math.nan,
        gains=found.gains,
        confirmed=tuple(u for u in found.candidates if found.gains[u].confirmed(config.min_gain)),
        steps=found.steps,
        repair=found.repair,
        verdict=found.verdict,
        settings=_settings(config, inp, found, metric),
        seconds=0.0,
        candidates=found.candidates,
    )
    log.debug("%s", result.verdict.reason)  # the commands print the verdict once, in their summary
    rows = unit_rows(result, _unit_labels(opened, inp.layer))
    strips = {
        s.unit: strip(inp.models, inp.score_seed, s.top_samples)
        for s in found.scores[: config.show_units]
    }
    write_artifacts(out, result, rows, strips, max(config.show_units, 20))
    seconds = time.perf_counter() - start
    timings = {"artifacts_s": round(seconds, 3)}
    publish_section(
        opened.root, "artifacts", "artifacts", {"artifacts": result.settings, "timings": timings}
    )
    return replace(result, seconds=seconds)

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

import pyarrow as pa

from dissect_report.artifacts.guard import Verdict, no_metric, none_confirmed
from dissect_report.artifacts.real_images import load_real_images
from dissect_report.artifacts.realism import as_logits
from dissect_report.artifacts.repair import Repair, measure_repair, reference_sets, strip
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
from dissect_report.reportdir.schema import ARTIFACT_REPAIR, ARTIFACT_UNITS
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
    verdict: Verdict  # repaired or not, and why
    settings: dict[str, Any]
    seconds: float


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


def _units_table(
    scores: list[UnitScore],
    labels: dict[int, tuple[str | None, float]],
    repaired: set[int],
    gains: dict[int, AblationGain],
) -> pa.Table:
    def gain(field: str) -> pa.Array:
        values = [getattr(gains[s.unit], field) if s.unit in gains else math.nan for s in scores]
        return pa.array(values, pa.float64())

    return pa.table(
        {
            "unit": pa.array([s.unit for s in scores], pa.int32()),
            "rank": pa.array([s.rank for s in scores], pa.int32()),
            "score": pa.array([s.score for s in scores], pa.float64()),
            "fsd": pa.array([s.fsd for s in scores], pa.float64()),
            "realism": pa.array([s.realism for s in scores], pa.float64()),
            "top_samples": pa.array([s.top_samples for s in scores], pa.list_(pa.int64())),
            "ablation_gain": gain("gain"),
            "ablation_gain_even": gain("gain_even"),
            "ablation_gain_odd": gain("gain_odd"),
            "repaired": pa.array([s.unit in repaired for s in scores], pa.bool_()),
            "concept": pa.array(
                [labels.get(s.unit, (None, math.nan))[0] for s in scores], pa.string()
            ),
            "iou": pa.array(
                [labels.get(s.unit, (None, math.nan))[1] for s in scores], pa.float64()
            ),
        }
    )


def _metric_value(metric: str, badness: float) -> float:
    """The metric as reported (realism is a logit, higher is better; the judge negates it)."""
    return -badness if metric == "realism" else badness


def _repair_table(rep: Repair | None) -> pa.Table:
    rows = rep.rows if rep is not None else []
    return pa.table(
        {
            "metric": pa.array([r.name for r in rows], pa.string()),
            "label": pa.array([r.label for r in rows], pa.string()),
            "role": pa.array([r.role for r in rows], pa.string()),
            "before": pa.array([r.before for r in rows], pa.float64()),
            "after": pa.array([r.after for r in rows], pa.float64()),
            "lower_is_better": pa.array([r.lower_is_better for r in rows], pa.bool_()),
            "improved": pa.array([r.improved for r in rows], pa.bool_()),
            "passed": pa.array([r.passed for r in rows], pa.bool_()),
            "detail": pa.array([r.detail for r in rows], pa.string()),
        }
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
    report = opened.root
    layer = choose_layer(opened, config.layer)
    dissect_seed = opened.dissection_seed

    score_seed = dissect_seed + 2 if config.score_seed is None else config.score_seed
    repair_seed = dissect_seed + 3 if config.repair_seed is None else config.repair_seed
    if score_seed == repair_seed:
        raise ConfigError(
            f"score seed and repair seed are both {score_seed}; the repair needs its own samples"
        )
    # Everything the user gave is read before anything is written: a bad image or a saturated
    # sigmoid stops here, leaving the report as it was.
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

    out = begin_section(report, "artifacts")  # the old artifacts/ stays until the swap

    scan = scan_samples(
        models, layer, score_seed, config.samples, config.batch_size, desc="artifact scan"
    )
    scores = score_units(scan, config.top_k)
    refs = reference_sets(
        models, real, score_seed, repair_seed, config.reference_samples, config.batch_size
    )
    judge = Judge.make(scan, refs.select if refs is not None else None, config.metric)
    gains: dict[int, AblationGain] = {}
    candidates: list[int] = []
    steps: list[GreedyStep] = []
    rep: Repair | None = None
    if judge is None:
        verdict = no_metric(layer)
    else:
        # Rank by score (a correlation), then test the worst candidates causally: only units
        # whose removal makes the scoring samples better can join the set (screen.py).
        scored = [s.unit for s in scores if not math.isnan(s.score)]  # dead units: no score
        candidates = scored[: config.candidates]
        gains = screen(models, layer, scan, judge, candidates, config.batch_size, config.min_gain)
        chosen, steps = greedy_set(
            models, layer, scan, judge, gains, config.repair_units, config.min_gain,
            config.batch_size,
        )  # fmt: skip
        if chosen:
            rep = measure_repair(
                models,
                layer,
                chosen,
                repair_seed,
                config.repair_samples,
                config.batch_size,
                config.worst_samples,
                judge.metric,
                refs.measure if refs is not None else None,
                config.max_label_change,
            )
            verdict = rep.verdict
        else:
            verdict = none_confirmed(layer, judge.metric, len(candidates))
    confirmed = [u for u in candidates if gains[u].confirmed(config.min_gain)]
    metric = judge.metric if judge is not None else "none"
    baseline = _metric_value(metric, judge.baseline) if judge is not None else math.nan
    log.debug("%s", verdict.reason)  # the commands print the verdict once, in their summary

    labels = _unit_labels(opened, layer)
    table = _units_table(scores, labels, set(verdict.units), gains)
    write_table(out / "units.parquet", table, ARTIFACT_UNITS, csv=True)
    worst = scores[: max(config.show_units, 20)]
    svg = horizontal_bar_chart(
        [f"unit {s.unit}" for s in worst],
        [s.score for s in worst],
        x_label="artifact score (higher = worse)",
        title=f"{layer}: worst units",
    )
    write_bytes(out / "scores.svg", svg.encode())
    for s in scores[: config.show_units]:
        write_bytes(out / "units" / f"{s.unit}.png", strip(models, score_seed, s.top_samples))
    write_table(out / "repair.parquet", _repair_table(rep), ARTIFACT_REPAIR)
    write_json(
        out / "repair.json",
        {
            "layer": layer,
            "verdict": {
                "status": verdict.status,
                "repaired": verdict.repaired,
                "reason": verdict.reason,
                "enable": verdict.enable,
            },
            "units": list(verdict.units),
            "tried": list(verdict.tried),
            "metric": metric,
            "candidates": candidates,
            "confirmed": confirmed,
            "baseline": baseline,
            "greedy": [
                {"unit": st.unit, metric: _metric_value(metric, st.badness), "kept": st.kept}
                for st in steps
            ],
            "metrics": {
                r.name: {
                    "label": r.label,
                    "role": r.role,
                    "before": r.before,
                    "after": r.after,
                    "direction": r.direction,
                    "passed": r.passed,
                    "detail": r.detail,
                }
                for r in (rep.rows if rep is not None else [])
            },
            "worst_samples": rep.worst_samples if rep is not None else [],
        },
    )
    if rep is not None:
        write_bytes(out / "before.png", rep.before_png)
        write_bytes(out / "after.png", rep.after_png)

    settings = {
        **asdict(config),
        "layer": layer,
        "metric": metric,
        "score_seed": score_seed,
        "repair_seed": repair_seed,
        "features": models.feature_kind(),
        "discriminator": models.discriminator is not None,
        "discriminator_output": d_output,
        "reference": refs.info if refs is not None else None,
        "verdict": verdict.status,
    }
    seconds = time.perf_counter() - start
    publish_section(
        report,
        "artifacts",
        "artifacts",
        {"artifacts": settings, "timings": {"artifacts_s": round(seconds, 3)}},
    )
    return ArtifactResult(
        report,
        layer,
        tuple(scores),
        metric,
        baseline,
        gains,
        tuple(confirmed),
        tuple(steps),
        rep,
        verdict,
        settings,
        seconds,
    )

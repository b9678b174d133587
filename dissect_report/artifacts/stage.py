"""The artifact stage: rank units by their top images, screen them causally, repair by ablation.

Usage::

    from dissect_report.artifacts import ArtifactConfig, find_artifacts
    result = find_artifacts(ArtifactConfig(samples=256, repair_units=4), "report")
    result.units[0].unit                        # the worst unit by artifact score
    result.confirmed                            # units whose ablation alone helps (the screen)
    result.repair.units                         # the repair set, grown greedily from those
    result.repair.fsd_before, result.repair.fsd_after   # on separate held-out samples

Writes ``artifacts/`` and updates the manifest last (docs/report-format.md, "Artifacts").
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from dissect_report.artifacts.repair import Repair, measure_repair, reference_features, strip
from dissect_report.artifacts.score import UnitScore, scan_samples, score_units
from dissect_report.artifacts.screen import AblationGain, Judge, greedy_set, screen
from dissect_report.artifacts.settings import ArtifactConfig
from dissect_report.errors import ConfigError, ReportError
from dissect_report.interventions import reportio
from dissect_report.interventions.bundle import ModelBundle
from dissect_report.interventions.loading import open_report
from dissect_report.interventions.pictures import bar_chart

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArtifactResult:
    report: Path
    layer: str
    units: tuple[UnitScore, ...]  # worst first
    metric: str  # what the screen and the repair set improve
    gains: dict[int, AblationGain]  # the screened units
    confirmed: tuple[int, ...]  # screened units whose ablation alone helps, in score order
    repair: Repair
    settings: dict[str, Any]
    seconds: float


def choose_layer(manifest: dict[str, Any], requested: str | None) -> str:
    """The requested layer, else the last dissected one (the finest of the usual choices).

    Its units are the fewest, so the causal screen can try every one of them; on the built-in
    world it is also where ablations improve the quality metric (see docs/report-format.md).
    """
    names, layer = reportio.checked_layer(manifest, requested)
    return layer if layer is not None else names[-1]


def _unit_labels(
    report: Path, manifest: dict[str, Any], layer: str
) -> dict[int, tuple[str | None, float]]:
    try:
        rows = reportio.read_units(report, manifest, layer)
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


def _repair_table(rep: Repair) -> pa.Table:
    rows = []
    if math.isfinite(rep.fsd_before):
        rows.append(("fsd", rep.fsd_before, rep.fsd_after, rep.fsd_after < rep.fsd_before))
    if math.isfinite(rep.realism_before):
        rows.append(
            (
                "realism",
                rep.realism_before,
                rep.realism_after,
                rep.realism_after > rep.realism_before,
            )
        )
    return pa.table(
        {
            "metric": pa.array([r[0] for r in rows], pa.string()),
            "before": pa.array([r[1] for r in rows], pa.float64()),
            "after": pa.array([r[2] for r in rows], pa.float64()),
            "improved": pa.array([r[3] for r in rows], pa.bool_()),
        }
    )


def find_artifacts(
    config: ArtifactConfig, report: str | Path, models: ModelBundle | None = None
) -> ArtifactResult:
    """Score the units of one layer, repair the worst, write ``artifacts/`` and the manifest."""
    start = time.perf_counter()
    report, manifest, models = open_report(report, models)
    layer = choose_layer(manifest, config.layer)
    dissect_seed = reportio.dissection_seed(manifest)

    score_seed = dissect_seed + 2 if config.score_seed is None else config.score_seed
    repair_seed = dissect_seed + 3 if config.repair_seed is None else config.repair_seed
    if score_seed == repair_seed:
        raise ConfigError(
            f"score seed and repair seed are both {score_seed}; the repair needs its own samples"
        )

    reportio.update_manifest(report, {"sections": {"artifacts": False}})
    out = report / "artifacts"
    shutil.rmtree(out, ignore_errors=True)

    scan = scan_samples(
        models, layer, score_seed, config.samples, config.batch_size, desc="artifact scan"
    )
    scores = score_units(scan, config.top_k)
    # Rank by score (a correlation), then test the worst candidates causally: the repair
    # ablates only units whose removal makes the scoring samples better (artifacts/screen.py).
    reference = reference_features(models, score_seed, config.reference_samples, config.batch_size)
    judge = Judge.make(scan, reference, config.metric)
    candidates = [s.unit for s in scores[: config.candidates]]
    gains = screen(models, layer, scan, judge, candidates, config.batch_size, config.min_gain)
    confirmed = [u for u in candidates if gains[u].confirmed(config.min_gain)]
    repaired, steps = greedy_set(
        models, layer, scan, judge, gains, config.repair_units, config.min_gain, config.batch_size
    )
    if not repaired:
        log.info("no artifact unit confirmed on %s: no candidate's ablation improves it", layer)
    rep = measure_repair(
        models,
        layer,
        repaired,
        repair_seed,
        config.repair_samples,
        config.batch_size,
        config.worst_samples,
        config.reference_samples,
    )

    labels = _unit_labels(report, manifest, layer)
    reportio.write_parquet(
        out / "units.parquet", _units_table(scores, labels, set(repaired), gains), csv=True
    )
    worst = scores[: max(config.show_units, 20)]
    svg = bar_chart(
        [f"unit {s.unit}" for s in worst],
        [s.score for s in worst],
        x_label="artifact score (higher = worse)",
        title=f"{layer}: worst units",
    )
    reportio.write_bytes(out / "scores.svg", svg.encode())
    for s in scores[: config.show_units]:
        reportio.write_bytes(
            out / "units" / f"{s.unit}.png", strip(models, score_seed, s.top_samples)
        )
    reportio.write_parquet(out / "repair.parquet", _repair_table(rep))
    metrics: dict[str, dict[str, float]] = {}
    if math.isfinite(rep.fsd_before):
        metrics["fsd"] = {"before": rep.fsd_before, "after": rep.fsd_after}
    if math.isfinite(rep.realism_before):
        metrics["realism"] = {"before": rep.realism_before, "after": rep.realism_after}
    reportio.write_json(
        out / "repair.json",
        {
            "layer": layer,
            "units": repaired,
            "metric": judge.metric,
            "candidates": candidates,
            "confirmed": confirmed,
            "baseline": _metric_value(judge.metric, judge.baseline),
            "greedy": [
                {
                    "unit": st.unit,
                    judge.metric: _metric_value(judge.metric, st.badness),
                    "kept": st.kept,
                }
                for st in steps
            ],  # fmt: skip
            "metrics": metrics,
            "worst_samples": rep.worst_samples,
        },
    )
    if rep.picture is not None:
        reportio.write_bytes(out / "before_after.png", rep.picture)

    settings = {
        **asdict(config),
        "layer": layer,
        "metric": judge.metric,
        "score_seed": score_seed,
        "repair_seed": repair_seed,
        "features": models.feature_kind(),
        "discriminator": models.discriminator is not None,
        "reference": "builtin" if models.reference is not None else None,
    }
    seconds = time.perf_counter() - start
    reportio.update_manifest(
        report,
        {
            "sections": {"artifacts": True},
            "artifacts": settings,
            "timings": {"artifacts_s": round(seconds, 3)},
        },
    )
    log.debug(
        "artifacts on %s: repaired units %s; fsd %.3g -> %.3g, realism %.3g -> %.3g",
        layer,
        repaired,
        rep.fsd_before,
        rep.fsd_after,
        rep.realism_before,
        rep.realism_after,
    )
    return ArtifactResult(
        report, layer, tuple(scores), judge.metric, gains, tuple(confirmed), rep, settings, seconds
    )

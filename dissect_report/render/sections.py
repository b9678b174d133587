"""Read the optional Interventions and Artifacts sections of a report (docs/report-format.md).

Usage::

    from dissect_report.render.sections import load_interventions, load_artifacts
    iv = load_interventions(report_root, manifest)   # None when the report has none
    art = load_artifacts(report_root, manifest)

A section is read only when ``manifest.sections`` marks it complete.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dissect_report.errors import ReportError
from dissect_report.render.fmt import num
from dissect_report.reportdir.read import read_json, read_rows, read_table
from dissect_report.reportdir.schema import (
    CONCEPT_INDEX,
    ConceptIndexRow,
    InsertionRow,
    Manifest,
    R,
    UnitEffectRow,
)
from dissect_report.slug import slugify


def _rows(path: Path, required: tuple[str, ...], optional: bool = False) -> list[dict[str, Any]]:
    if optional and not path.is_file():
        return []
    return read_table(path, required).to_pylist()


def _typed_rows(path: Path, row_type: type[R]) -> list[R]:
    """The rows of an optional table (none when the file is absent)."""
    return read_rows(path, row_type) if path.is_file() else []


def _f(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass(frozen=True)
class ConceptIntervention(ConceptIndexRow):
    """One row of concepts/index.parquet plus the per-concept files that exist."""

    # (unit, alpha, IoU rank), best first
    optimized_units: tuple[tuple[int, float, int], ...] = field(kw_only=True)
    unit_ious: dict[int, tuple[float, int]] = field(kw_only=True)  # unit -> (IoU, its rank)
    insertion: tuple[InsertionRow, ...] = field(kw_only=True)
    has_ace_svg: bool = field(kw_only=True)
    has_compare_png: bool = field(kw_only=True)


@dataclass(frozen=True)
class Interventions:
    layer: str
    settings: dict[str, Any]
    concepts: tuple[ConceptIntervention, ...]
    unit_effects: dict[int, UnitEffectRow] = field(default_factory=dict)  # unit -> its own effect


@dataclass(frozen=True)
class ArtifactUnit:
    unit: int
    rank: int
    score: float
    fsd: float
    realism: float
    ablation_gain: float  # the causal screen's improvement when it alone is off (NaN: not screened)
    repaired: bool
    has_strip: bool
    # the screen's gain on the even half of the samples: measured first, the rest only when it
    # passes, so a screened unit that failed there has this and no ablation_gain
    gain_even: float = math.nan


def gain_text(u: ArtifactUnit) -> str:
    """The screen's gain: on all scoring samples, or on the even half where it stopped."""
    if u.ablation_gain == u.ablation_gain:
        return num(u.ablation_gain)
    if u.gain_even == u.gain_even:
        return f"{num(u.gain_even)} (even half)"  # the screen stopped there: not confirmed
    return ""  # not screened


@dataclass(frozen=True)
class RepairRow:
    metric: str
    before: float
    after: float
    improved: bool
    label: str = ""  # human words ("FSD to real images")
    role: str = "metric"  # "metric" (chose the repair set) or "check" (independent)
    lower_is_better: bool | None = None  # None: older reports without the direction
    passed: bool | None = None
    detail: str = ""


@dataclass(frozen=True)
class ArtifactVerdict:
    """What the stage concluded (repair.json ``verdict``; older reports: derived)."""

    status: str  # "repaired", "rejected", "none-confirmed", "no-metric" or "" (unknown)
    repaired: bool
    reason: str
    enable: str  # the flag that would make a repair possible
    tried: tuple[int, ...]  # the set the damage guard judged


@dataclass(frozen=True)
class Artifacts:
    layer: str
    settings: dict[str, Any]
    units: tuple[ArtifactUnit, ...]
    repair: tuple[RepairRow, ...]
    repaired_units: tuple[int, ...]
    metric: str  # what the causal screen improved ("" for reports without it)
    greedy: tuple[tuple[int, float, bool], ...]  # (unit, metric with it, kept), in order tried
    baseline: float  # the metric on the unedited scoring samples
    has_scores_svg: bool
    verdict: ArtifactVerdict | None = None
    before_size: tuple[int, int] | None = None  # before.png (width, height): native scale
    after_size: tuple[int, int] | None = None  # after.png: the same samples, repaired


def load_interventions(root: Path, manifest: Manifest) -> Interventions | None:
    """The interventions section, or None when ``sections.interventions`` is not true."""
    if not manifest.sections.get("interventions"):
        return None
    base = root / "concepts"
    concepts = []
    for row in read_rows(base / "index.parquet", ConceptIndexRow):
        slug = row.slug
        if slug != slugify(slug):
            raise ReportError(f"unsafe concept slug {slug!r} in {str(base / 'index.parquet')!r}")
        ins = _typed_rows(base / slug / "insertion.parquet", InsertionRow)
        optimized = _rows(base / slug / "optimized.parquet", ("unit", "alpha"), optional=True)
        ranking = _rows(base / slug / "ranking.parquet", ("unit", "iou", "iou_rank"), optional=True)
        concepts.append(
            ConceptIntervention(
                **{c.name: getattr(row, c.name) for c in CONCEPT_INDEX},
                optimized_units=tuple(
                    (int(r["unit"]), _f(r["alpha"]), int(r.get("iou_rank") or 0))
                    for r in optimized[: row.n_max]
                ),
                unit_ious={
                    int(r["unit"]): (_f(r["iou"]), int(r["iou_rank"]))
                    for r in (ranking or optimized)  # older reports: the optimized table's
                    if r.get("iou_rank") is not None and "iou" in r
                },
                insertion=tuple(ins),
                has_ace_svg=(base / slug / "ace.svg").is_file(),
                has_compare_png=(base / slug / "compare.png").is_file(),
            )
        )
    settings = dict(manifest.interventions)
    layer = str(settings.get("layer") or (concepts[0].layer if concepts else ""))
    own = _typed_rows(base / "units.parquet", UnitEffectRow)
    effects = {r.unit: r for r in own}
    return Interventions(layer, settings, tuple(concepts), effects)


def load_artifacts(root: Path, manifest: Manifest) -> Artifacts | None:
    """The artifacts section, or None when ``sections.artifacts`` is not true."""
    if not manifest.sections.get("artifacts"):
        return None
    base = root / "artifacts"
    units = tuple(
        ArtifactUnit(
            unit=int(r["unit"]),
            rank=int(r["rank"]),
            score=_f(r["score"]),
            fsd=_f(r.get("fsd")),
            realism=_f(r.get("realism")),
            ablation_gain=_f(r.get("ablation_gain")),
            gain_even=_f(r.get("ablation_gain_even")),
            repaired=bool(r.get("repaired")),
            has_strip=(base / "units" / f"{int(r['unit'])}.png").is_file(),
        )
        for r in _rows(base / "units.parquet", ("unit", "rank", "score"))
    )
    repair = tuple(
        RepairRow(
            str(r["metric"]),
            _f(r["before"]),
            _f(r["after"]),
            bool(r.get("improved")),
            str(r.get("label") or r["metric"]),
            str(r.get("role") or "metric"),
            None if r.get("lower_is_better") is None else bool(r["lower_is_better"]),
            None if r.get("passed") is None else bool(r["passed"]),
            str(r.get("detail") or ""),
        )
        for r in _rows(base / "repair.parquet", ("metric", "before", "after"), optional=True)
    )
    repaired: tuple[int, ...] = tuple(u.unit for u in units if u.repaired)
    metric, greedy, baseline = "", (), math.nan
    verdict = None
    if (base / "repair.json").is_file():
        try:
            doc = read_json(base / "repair.json")
            repaired = tuple(int(u) for u in doc.get("units", repaired))
            metric = str(doc.get("metric") or "")
            baseline = _f(doc.get("baseline"))
            greedy = tuple(
                (int(st["unit"]), _f(st.get(metric)), bool(st["kept"]))
                for st in doc.get("greedy") or ()
            )
            v = doc.get("verdict")
            if isinstance(v, dict):
                verdict = ArtifactVerdict(
                    status=str(v.get("status") or ""),
                    repaired=bool(v.get("repaired")),
                    reason=str(v.get("reason") or ""),
                    enable=str(v.get("enable") or ""),
                    tried=tuple(int(u) for u in doc.get("tried") or ()),
                )
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            raise ReportError(f"unreadable {str(base / 'repair.json')!r}: {exc}") from exc
    settings = dict(manifest.artifacts)
    return Artifacts(
        layer=str(settings.get("layer", "")),
        settings=settings,
        units=tuple(sorted(units, key=lambda u: u.rank)),
        repair=repair,
        repaired_units=repaired,
        metric=metric,
        greedy=greedy,
        baseline=baseline,
        has_scores_svg=(base / "scores.svg").is_file(),
        verdict=verdict,
        before_size=_png_size(base / "before.png"),
        after_size=_png_size(base / "after.png"),
    )


def _png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of an image, or None if it is missing (the page shows it at that size)."""
    if not path.is_file():
        return None
    from PIL import Image

    try:
        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except OSError as exc:
        raise ReportError(f"unreadable image {str(path)!r}: {exc}") from exc

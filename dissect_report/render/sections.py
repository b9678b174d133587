"""Read the optional Interventions and Artifacts sections of a report (docs/report-format.md).

Usage::

    from dissect_report.render.sections import load_interventions, load_artifacts
    iv = load_interventions(report_root, manifest)   # None when the report has none
    art = load_artifacts(report_root, manifest)

A section is read only when ``manifest.sections`` marks it complete.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dissect_report.errors import ReportError
from dissect_report.render.fmt import num
from dissect_report.reportdir.read import read_json_object, read_rows, read_table
from dissect_report.reportdir.schema import (
    ARTIFACT_UNITS,
    CONCEPT_INDEX,
    ArtifactUnitRow,
    ArtifactVerdict,
    ConceptIndexRow,
    InsertionRow,
    Manifest,
    OptimizedRow,
    R,
    RankingRow,
    RepairDoc,
    RepairRow,
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
class ArtifactUnit(ArtifactUnitRow):
    """One row of artifacts/units.parquet plus whether its strip of top images exists."""

    has_strip: bool = field(kw_only=True)


def gain_text(u: ArtifactUnitRow, compact: bool = False) -> str:
    """The screen's gain: on all scoring samples, or on the even half where it stopped
    (``compact``: marked with a dagger that the table's note explains, 2 digits)."""
    if u.ablation_gain == u.ablation_gain:
        return num(u.ablation_gain, 2) if compact else num(u.ablation_gain)
    if u.ablation_gain_even == u.ablation_gain_even:
        # the screen measured the even half first and stopped there: not confirmed
        if compact:
            return f"{num(u.ablation_gain_even, 2)}\u2020"
        return f"{num(u.ablation_gain_even)} (even half)"
    return ""  # not screened


@dataclass(frozen=True)
class Artifacts:
    layer: str
    settings: dict[str, Any]
    units: tuple[ArtifactUnit, ...]
    repair: tuple[RepairRow, ...]  # artifacts/repair.parquet
    doc: RepairDoc  # repair.json (older reports without it: the repair set from the table)
    has_scores_svg: bool
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
        optimized = _typed_rows(base / slug / "optimized.parquet", OptimizedRow)
        ranking = {
            r.unit: (r.iou, r.iou_rank)
            for r in _typed_rows(base / slug / "ranking.parquet", RankingRow)
        }
        concepts.append(
            ConceptIntervention(
                **{c.name: getattr(row, c.name) for c in CONCEPT_INDEX},
                optimized_units=tuple(
                    (r.unit, r.alpha, r.iou_rank) for r in optimized[: row.n_max]
                ),
                unit_ious=ranking
                or {  # older reports: the optimized table's
                    r.unit: (r.iou, r.iou_rank) for r in optimized if r.iou_rank > 0
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
            **{c.name: getattr(r, c.name) for c in ARTIFACT_UNITS},
            has_strip=(base / "units" / f"{r.unit}.png").is_file(),
        )
        for r in read_rows(base / "units.parquet", ArtifactUnitRow)
    )
    repair = tuple(
        replace(r, label=r.label or r.metric)
        for r in _typed_rows(base / "repair.parquet", RepairRow)
    )
    path = base / "repair.json"
    if path.is_file():
        doc = RepairDoc.from_json(read_json_object(path), str(path))
    else:  # older than repair.json: the repair set from the table
        repaired = tuple(u.unit for u in units if u.repaired)
        doc = RepairDoc(layer="", verdict=ArtifactVerdict("", repaired, repaired))
    settings = dict(manifest.artifacts)
    return Artifacts(
        layer=str(settings.get("layer", "")),
        settings=settings,
        units=tuple(sorted(units, key=lambda u: u.rank)),
        repair=repair,
        doc=doc,
        has_scores_svg=(base / "scores.svg").is_file(),
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

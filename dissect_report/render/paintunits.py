"""What the Paint page needs to paint with any units of its layer: labels, levels, page links.

Usage::

    from dissect_report.render.paintunits import unit_choices
    choices = unit_choices(Path("report"), "layer2", 256)
    choices.labels[17]        # "tree (IoU 0.052)" or "unlabelled (best: sky, IoU 0.012)"
    choices.levels[17]        # the level "add" forces unit 17 to (the interventions' levels)
    choices.href              # "../layers/layer2/units/{unit}/index.html"

Reads only the report: the layer's ``units.parquet`` and the interventions' per-unit insertion
levels (``concepts/<slug>/levels.parquet``; every concept's file holds all of the layer's units).
A unit takes the levels of its own best concept when that concept was intervened on (they
differ only under ``--insert-level concept_mean``), else those of the first concept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dissect_report.errors import ReportError
from dissect_report.reportdir.read import read_json, read_rows
from dissect_report.reportdir.schema import LevelRow, UnitRow


@dataclass(frozen=True)
class UnitChoices:
    labels: tuple[str, ...]
    levels: tuple[float, ...]
    href: str  # a unit page's address from paint/index.html, with "{unit}" in it
    level_note: str


def _levels(path: Path, units: int) -> np.ndarray:
    out = np.full(units, np.nan)
    for row in read_rows(path, LevelRow):
        if 0 <= row.unit < units:
            out[row.unit] = row.level
    return out


def unit_choices(report: Path, layer: str, units: int) -> UnitChoices:
    """Labels, insertion levels and page links of the ``units`` units of ``layer``."""
    manifest: dict[str, Any] = read_json(report / "manifest.json")
    entry = next((e for e in manifest.get("layers", []) if e.get("name") == layer), None)
    if entry is None:
        raise ReportError(f"paint.json names layer {layer!r}, which the manifest does not list")
    slug = str(entry.get("slug") or layer)
    rows = {r.unit: r for r in read_rows(report / "layers" / slug / "units.parquet", UnitRow)}
    labels = []
    for u in range(units):
        r = rows.get(u)
        if r is None:
            labels.append("not dissected")
        elif r.interpretable:
            labels.append(f"{r.concept} (IoU {r.iou:.3f})")
        else:
            labels.append(f"unlabelled (best: {r.concept}, IoU {r.iou:.3f})")
    concepts = [c for c in manifest.get("concepts", []) if "slug" in c]
    files = {
        str(c["name"]): report / "concepts" / str(c["slug"]) / "levels.parquet" for c in concepts
    }
    files = {name: path for name, path in files.items() if path.is_file()}
    if not files:
        raise ReportError("no concepts/<slug>/levels.parquet: run 'dissect-report intervene'")
    tables = {name: _levels(path, units) for name, path in files.items()}
    first = next(iter(tables.values()))
    levels = []
    for u in range(units):
        own = tables.get(str(rows[u].concept)) if u in rows else None
        value = own[u] if own is not None and np.isfinite(own[u]) else first[u]
        levels.append(float(value) if np.isfinite(value) else 0.0)
    policy = str(manifest.get("interventions", {}).get("insert_level", "quantile"))
    note = (
        "the activation level the Interventions page inserts at: a high quantile of the unit"
        if policy == "quantile"
        else f"the interventions' {policy} level of the unit's own concept where it was measured"
    )
    return UnitChoices(
        tuple(labels), tuple(levels), f"../layers/{slug}/units/{{unit}}/index.html", note
    )

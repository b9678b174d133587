"""Read a report directory (docs/report-format.md) into typed, validated records.

Usage::

    from dissect_report.render.report import load_report
    report = load_report(Path("report"))
    report.layers[0].units[7].concept        # 'tree'

Only what the site shows is loaded (``stats.npz``: just ``edges`` and ``unit_hist``).
Anything missing or malformed raises :class:`~dissect_report.errors.ReportError` naming it.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from dissect_report.errors import ReportError
from dissect_report.slug import slugify
from dissect_report.tables import read_parquet

SCHEMA_VERSION = 1
_UNIT_COLUMNS = (
    "unit",
    "threshold",
    "concept",
    "iou",
    "iqr",
    "interpretable",
    "top_samples",
    "top_concepts",
    "top_ious",
)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ConceptEntry(_Loose):
    name: str
    slug: str
    color: str = "#9e9e9e"


class LayerEntry(_Loose):
    name: str
    slug: str
    shape: list[int]
    units: int
    interpretable: int = 0
    concepts_covered: int = 0


class Manifest(_Loose):
    """The parts of manifest.json the site reads; other fields are kept as extras."""

    schema_version: int
    tool: dict[str, Any] = {}
    created: str | None = None
    command: str | None = None
    config: dict[str, Any] = {}
    model: dict[str, Any] = {}
    segmenter: dict[str, Any] = {}
    concepts: list[ConceptEntry]
    layers: list[LayerEntry]
    samples: dict[str, Any] = {}
    threshold: dict[str, Any] = {}
    nonfinite: dict[str, Any] = {}
    timings: dict[str, Any] = {}
    sections: dict[str, bool] = {}
    interventions: dict[str, Any] = {}
    artifacts: dict[str, Any] = {}

    @field_validator(
        "tool",
        "config",
        "model",
        "segmenter",
        "samples",
        "threshold",
        "nonfinite",
        "timings",
        "sections",
        "interventions",
        "artifacts",
        mode="before",
    )
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


@dataclass(frozen=True)
class UnitRow:
    """One row of units.parquet."""

    unit: int
    threshold: float
    concept: str
    iou: float
    iqr: float
    interpretable: bool
    top_samples: tuple[int, ...]
    top_concepts: tuple[str, ...]
    top_ious: tuple[float, ...]


@dataclass(frozen=True)
class LayerData:
    """A layer's manifest entry, its unit rows, IQR lookup and activation histograms."""

    entry: LayerEntry
    dir: Path
    units: tuple[UnitRow, ...]
    iqr: dict[tuple[int, str], float]
    edges: np.ndarray | None
    unit_hist: np.ndarray | None
    images: frozenset[str]  # file names present in units/ (some reports keep only strips)


@dataclass(frozen=True)
class Report:
    """A loaded report: manifest plus every layer's tables."""

    root: Path
    manifest: Manifest
    layers: tuple[LayerData, ...]


def _safe_slug(slug: str, what: str) -> str:
    if slug != slugify(slug) or slug in {".", ".."}:
        raise ReportError(f"unsafe {what} slug {slug!r} in manifest.json")
    return slug


def read_manifest(root: Path) -> Manifest:
    """Parse and validate ``root/manifest.json``."""
    path = root / "manifest.json"
    if not root.is_dir():
        raise ReportError(f"report directory not found: {str(root)!r}")
    if not path.is_file():
        raise ReportError(f"not a complete report (no manifest.json): {str(root)!r}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"unreadable manifest {str(path)!r}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ReportError(f"manifest {str(path)!r} is not a JSON object")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ReportError(
            f"unsupported report schema_version {version!r} in {str(path)!r}; "
            f"this renderer reads {SCHEMA_VERSION}"
        )
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ReportError(f"invalid manifest {str(path)!r}: {where}: {first['msg']}") from exc
    for layer in manifest.layers:
        _safe_slug(layer.slug, "layer")
    for concept in manifest.concepts:
        _safe_slug(concept.slug, "concept")
    return manifest


def _read_table(path: Path, columns: tuple[str, ...]) -> dict[str, list]:
    table = read_parquet(path, columns)
    return {c: table.column(c).to_pylist() for c in columns}


def _read_hist(path: Path, units: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not path.is_file():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as npz:
            edges, hist = np.asarray(npz["edges"], np.float64), np.asarray(npz["unit_hist"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # truncated too
        raise ReportError(f"unreadable stats {str(path)!r}: {exc}") from exc
    if edges.ndim != 2 or hist.shape != (units, edges.shape[1] - 1) or edges.shape[0] != units:
        raise ReportError(
            f"stats {str(path)!r}: edges {edges.shape} / unit_hist {hist.shape} "
            f"do not fit {units} units"
        )
    return edges, hist


def load_layer(root: Path, entry: LayerEntry) -> LayerData:
    """Load one layer's units.parquet, iou.parquet and histograms."""
    d = root / "layers" / entry.slug
    cols = _read_table(d / "units.parquet", _UNIT_COLUMNS)
    units = tuple(
        UnitRow(
            unit=int(cols["unit"][i]),
            threshold=float(cols["threshold"][i]),
            concept=str(cols["concept"][i]),
            iou=float(cols["iou"][i]),
            iqr=float(cols["iqr"][i]),
            interpretable=bool(cols["interpretable"][i]),
            top_samples=tuple(cols["top_samples"][i] or ()),
            top_concepts=tuple(cols["top_concepts"][i] or ()),
            top_ious=tuple(cols["top_ious"][i] or ()),
        )
        for i in range(len(cols["unit"]))
    )
    units = tuple(sorted(units, key=lambda r: r.unit))
    iou = _read_table(d / "iou.parquet", ("unit", "concept", "iqr"))
    iqr = {
        (int(u), str(c)): float(q)
        for u, c, q in zip(iou["unit"], iou["concept"], iou["iqr"], strict=True)
    }
    edges, hist = _read_hist(d / "stats.npz", len(units))
    images = frozenset(os.listdir(d / "units")) if (d / "units").is_dir() else frozenset()
    return LayerData(
        entry=entry, dir=d, units=units, iqr=iqr, edges=edges, unit_hist=hist, images=images
    )


def load_report(root: Path) -> Report:
    """Load the manifest and every layer of the report at ``root``."""
    root = Path(root)
    manifest = read_manifest(root)
    layers = tuple(load_layer(root, entry) for entry in manifest.layers)
    return Report(root=root, manifest=manifest, layers=layers)

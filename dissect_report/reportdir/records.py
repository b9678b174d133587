"""A report directory loaded into typed records, as the site needs it.

Usage::

    from dissect_report.reportdir.records import load_report
    report = load_report(Path("report"))
    report.layers[0].units[7].concept        # 'tree'

Only what the site shows is loaded (``stats.npz``: just ``edges`` and ``unit_hist``).
Anything missing or malformed raises :class:`~dissect_report.errors.ReportError` naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dissect_report.errors import ReportError
from dissect_report.reportdir.read import read_arrays, read_manifest, read_table
from dissect_report.reportdir.schema import POSITION_FILE, LayerEntry, Manifest

# The columns of units.parquet the site shows (top_activations is not shown).
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
_REFUSED_COLUMNS = ("refused_concept", "refused_iou", "refused_reason")  # newer reports only


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
    # The better-scoring concept a label guard refused, its IoU and the guard ("mask too
    # broad", "chance level", "position alone"); "" / NaN where none (or an older report).
    refused_concept: str = ""
    refused_iou: float = float("nan")
    refused_reason: str = ""


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
    position: Position | None = None  # position.npz: where each unit fires (None: absent)


@dataclass(frozen=True)
class Position:
    """A layer's ``position.npz``: mean masks and position-only baseline IoUs."""

    mean_mask: np.ndarray  # (U, S, T) uint8: 255 x the share of samples the mask covers
    baseline_iou: np.ndarray  # (U, C) float64, concepts in the manifest's order
    samples: int
    lift: float


@dataclass(frozen=True)
class ReportData:
    """A loaded report: manifest plus every layer's tables (what the site shows)."""

    root: Path
    manifest: Manifest
    layers: tuple[LayerData, ...]


def _read_table(path: Path, columns: tuple[str, ...]) -> dict[str, list[Any]]:
    table = read_table(path, columns)
    return {c: table.column(c).to_pylist() for c in columns}


def _read_hist(path: Path, units: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not path.is_file():
        return None, None
    arrays = read_arrays(path, ("edges", "unit_hist"))
    edges, hist = np.asarray(arrays["edges"], np.float64), arrays["unit_hist"]
    if edges.ndim != 2 or hist.shape != (units, edges.shape[1] - 1) or edges.shape[0] != units:
        raise ReportError(
            f"stats {str(path)!r}: edges {edges.shape} / unit_hist {hist.shape} "
            f"do not fit {units} units"
        )
    return edges, hist


def _read_position(path: Path, units: int) -> Position | None:
    if not path.is_file():
        return None
    arrays = read_arrays(path, ("mean_mask", "baseline_iou", "samples", "lift"))
    mean, base = arrays["mean_mask"], np.asarray(arrays["baseline_iou"], np.float64)
    if mean.ndim != 3 or mean.shape[0] != units or base.ndim != 2 or base.shape[0] != units:
        raise ReportError(f"{str(path)!r}: mean masks {mean.shape} do not fit {units} units")
    return Position(mean, base, int(arrays["samples"]), float(arrays["lift"]))


def load_layer(root: Path, entry: LayerEntry) -> LayerData:
    """Load one layer's units.parquet, iou.parquet and histograms."""
    d = root / "layers" / entry.slug
    table = read_table(d / "units.parquet", _UNIT_COLUMNS)
    cols = {c: table.column(c).to_pylist() for c in _UNIT_COLUMNS}
    n = len(cols["unit"])
    refused = {  # older reports lack them: the row's defaults
        c: table.column(c).to_pylist() for c in _REFUSED_COLUMNS if c in table.column_names
    }
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
            **{c: v[i] for c, v in refused.items() if v[i] is not None},
        )
        for i in range(n)
    )
    units = tuple(sorted(units, key=lambda r: r.unit))
    iou = _read_table(d / "iou.parquet", ("unit", "concept", "iqr"))
    iqr = {
        (int(u), str(c)): float(q)
        for u, c, q in zip(iou["unit"], iou["concept"], iou["iqr"], strict=True)
    }
    edges, hist = _read_hist(d / "stats.npz", len(units))
    images = frozenset(  # a linked file is never published (render.files), so never shown
        n
        for n in (os.listdir(d / "units") if (d / "units").is_dir() else ())
        if not (d / "units" / n).is_symlink()
    )
    return LayerData(
        entry=entry,
        dir=d,
        units=units,
        iqr=iqr,
        edges=edges,
        unit_hist=hist,
        images=images,
        position=_read_position(d / POSITION_FILE, len(units)),
    )


def load_report(root: Path) -> ReportData:
    """Load the manifest and every layer of the report at ``root``."""
    root = Path(root)
    manifest = read_manifest(root)
    layers = tuple(load_layer(root, entry) for entry in manifest.layers)
    return ReportData(root=root, manifest=manifest, layers=layers)

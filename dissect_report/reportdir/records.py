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

import numpy as np

from dissect_report.errors import ReportError
from dissect_report.reportdir.read import read_arrays, read_manifest, read_rows
from dissect_report.reportdir.schema import POSITION_FILE, IouRow, LayerEntry, Manifest, UnitRow


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
    units = tuple(sorted(read_rows(d / "units.parquet", UnitRow), key=lambda r: r.unit))
    iqr = {(r.unit, r.concept): r.iqr for r in read_rows(d / "iou.parquet", IouRow)}
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

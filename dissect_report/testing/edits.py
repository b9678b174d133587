"""Plant differences in a report (for tests of compare, the plugin and the site).

Usage::

    from dissect_report.testing.edits import drop_units, edit_iou, edit_manifest, edit_units
    edit_units(report, "layer2", 3, concept="door", iou=0.31)     # a label change
    edit_iou(report, "layer2", 4, "grass", iou=0.5)
    drop_units(report, "layer2", {5})
    edit_manifest(report, **{"samples.seed": 2})

Tables are read and rewritten as their row types (:class:`~dissect_report.reportdir.schema.UnitRow`,
:class:`~dissect_report.reportdir.schema.IouRow`; ``units.csv`` follows ``units.parquet``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from dissect_report.reportdir.atomic import write_json
from dissect_report.reportdir.read import read_json_object, read_rows
from dissect_report.reportdir.schema import IOU, MANIFEST, UNITS, IouRow, UnitRow, to_table
from dissect_report.reportdir.write import write_table


def _write_units(path: Path, rows: list[UnitRow]) -> None:
    write_table(path, to_table(rows, UnitRow), UNITS, csv=True)


def _write_iou(path: Path, rows: list[IouRow]) -> None:
    write_table(path, to_table(rows, IouRow), IOU)


def edit_units(report: str | Path, layer: str, unit: int, **values: Any) -> None:
    """Overwrite columns of one row of ``layers/<layer>/units.parquet`` (and units.csv)."""
    path = Path(report) / "layers" / layer / "units.parquet"
    rows = read_rows(path, UnitRow)
    _write_units(path, [replace(r, **values) if r.unit == unit else r for r in rows])


def edit_iou(report: str | Path, layer: str, unit: int, concept: str, **values: Any) -> None:
    """Overwrite ``iou``/``iqr`` of one (unit, concept) row of ``iou.parquet``."""
    path = Path(report) / "layers" / layer / "iou.parquet"
    rows = read_rows(path, IouRow)
    at = next(i for i, r in enumerate(rows) if r.unit == unit and r.concept == concept)
    rows[at] = replace(rows[at], **values)
    _write_iou(path, rows)


def drop_units(report: str | Path, layer: str, units: set[int]) -> None:
    """Remove units from both tables of a layer (their images stay)."""
    base = Path(report) / "layers" / layer
    _write_units(
        base / "units.parquet",
        [r for r in read_rows(base / "units.parquet", UnitRow) if r.unit not in units],
    )
    _write_iou(
        base / "iou.parquet",
        [r for r in read_rows(base / "iou.parquet", IouRow) if r.unit not in units],
    )


def edit_manifest(report: str | Path, **dotted: Any) -> None:
    """Set manifest values by dotted key: ``edit_manifest(r, **{"samples.seed": 2})``.

    Written as given, not validated: tests plant broken manifests with it too.
    """
    path = Path(report) / MANIFEST
    manifest = read_json_object(path)
    for key, value in dotted.items():
        *parents, last = key.split(".")
        node = manifest
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    write_json(path, manifest)

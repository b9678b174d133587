"""Plant differences in a report (for tests of compare, the plugin and the site).

Usage::

    from dissect_report.testing.edits import drop_units, edit_iou, edit_manifest, edit_units
    edit_units(report, "layer2", 3, concept="door", iou=0.31)     # a label change
    edit_iou(report, "layer2", 4, "grass", iou=0.5)
    drop_units(report, "layer2", {5})
    edit_manifest(report, **{"samples.seed": 2})

Tables are read and rewritten through :mod:`dissect_report.reportdir` with the columns of
:mod:`dissect_report.reportdir.schema` (``units.csv`` follows ``units.parquet``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from dissect_report.reportdir.atomic import write_json
from dissect_report.reportdir.read import read_json_object, read_table
from dissect_report.reportdir.schema import IOU, MANIFEST, UNITS, Column, arrow_schema
from dissect_report.reportdir.write import write_table


def _rewrite(
    path: Path, columns: tuple[Column, ...], table: dict[str, list[Any]], csv: bool
) -> None:
    write_table(path, pa.table(table, schema=arrow_schema(columns)), columns, csv=csv)


def edit_units(report: str | Path, layer: str, unit: int, **values: Any) -> None:
    """Overwrite columns of one row of ``layers/<layer>/units.parquet`` (and units.csv)."""
    path = Path(report) / "layers" / layer / "units.parquet"
    table = read_table(path).to_pydict()
    row = table["unit"].index(unit)
    for column, value in values.items():
        table[column][row] = value
    _rewrite(path, UNITS, table, csv=True)


def edit_iou(report: str | Path, layer: str, unit: int, concept: str, **values: Any) -> None:
    """Overwrite ``iou``/``iqr`` of one (unit, concept) row of ``iou.parquet``."""
    path = Path(report) / "layers" / layer / "iou.parquet"
    table = read_table(path).to_pydict()
    pairs = zip(table["unit"], table["concept"], strict=True)
    row = next(i for i, (u, c) in enumerate(pairs) if u == unit and c == concept)
    for column, value in values.items():
        table[column][row] = value
    _rewrite(path, IOU, table, csv=False)


def drop_units(report: str | Path, layer: str, units: set[int]) -> None:
    """Remove units from both tables of a layer (their images stay)."""
    for name, columns, csv in (("units.parquet", UNITS, True), ("iou.parquet", IOU, False)):
        path = Path(report) / "layers" / layer / name
        table = read_table(path).to_pydict()
        keep = [i for i, u in enumerate(table["unit"]) if u not in units]
        _rewrite(path, columns, {k: [v[i] for i in keep] for k, v in table.items()}, csv)


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

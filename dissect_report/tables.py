"""Read a report's Parquet tables with one clear error for every way they can be wrong.

Usage::

    from dissect_report.tables import read_parquet
    table = read_parquet(report / "layers" / "layer3" / "units.parquet", ("unit", "iou"))
    rows = table.to_pylist()
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dissect_report.errors import ReportError


def read_parquet(path: Path, required: tuple[str, ...] = ()) -> pa.Table:
    """The table at ``path``; a missing or corrupt file or a missing column is a ReportError."""
    if not path.is_file():
        raise ReportError(f"missing table {str(path)!r}")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise ReportError(f"cannot read table {str(path)!r}: {exc}") from None
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise ReportError(f"table {str(path)!r} lacks column(s) {', '.join(missing)}")
    return table

"""Atomic file writes: a temp file in the same folder, then a rename.

Usage::

    from dissect_report.reportdir.atomic import atomic_path, write_json, write_parquet, write_text
    write_text(Path("report/layers/l/concepts.svg"), svg)
    write_parquet(Path("report/concepts/index.parquet"), table, csv=True)   # + index.csv
    with atomic_path(Path("report/layers/l/big.parquet")) as tmp:
        pq.write_table(table, tmp)

A killed process leaves either the old file or none, never a truncated one. Files get the
usual permissions under the umask (``mkstemp`` alone makes them private), since reports and
sites are made to be shared. These are the only file writers of a report: every stage and
the synthetic reports of :mod:`dissect_report.testing` write through them.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as None: JSON has no NaN; readers read null as "not measured"."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def write_json(path: Path, obj: Any) -> None:
    """Indented JSON (keys in insertion order), NaN/inf written as null."""
    write_text(path, json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub: allow_pickle
    write_bytes(path, buf.getvalue())


def csv_bytes(table: pa.Table) -> bytes:
    """The table as CSV, list columns joined with ';' (floats as ``repr``, exact)."""
    cols = {}
    for name in table.column_names:
        col = table[name]
        if pa.types.is_list(col.type):
            cols[name] = pa.array(
                [
                    ";".join(repr(v) if isinstance(v, float) else str(v) for v in (row or ()))
                    for row in col.to_pylist()
                ],
                pa.string(),
            )
        else:
            cols[name] = col
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(cols), buf)
    return buf.getvalue()


def write_parquet(path: Path, table: pa.Table, *, csv: bool = False) -> None:
    """Atomic Parquet; with ``csv``, also ``path.with_suffix('.csv')`` (see :func:`csv_bytes`)."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    if csv:
        write_bytes(path.with_suffix(".csv"), csv_bytes(table))

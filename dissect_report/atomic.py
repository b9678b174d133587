"""Atomic file writes: a temp file in the same folder, then a rename.

Usage::

    from dissect_report.atomic import atomic_path, write_bytes, write_text
    write_text(Path("report/layers/l/units.csv"), text)
    with atomic_path(Path("report/layers/l/units.parquet")) as tmp:
        pq.write_table(table, tmp)

A killed process leaves either the old file or none, never a truncated one. Files get the
usual permissions under the umask (``mkstemp`` alone makes them private), since reports and
sites are made to be shared.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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

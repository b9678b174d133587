"""One writer per report: a file lock beside the output directory (``filelock``).

Usage::

    from dissect_report.outlock import locked
    with locked("report", "dissect-report run --out report"):
        ...   # a second process on the same --out gets ReportLocked naming this one

The lock is ``<parent>/.<name>.lock`` next to the report (not inside it, so an empty or
missing report directory stays empty or missing): an advisory ``flock`` held for the
command's life, with the holder (pid, host, command, start time) written into the file for
the refusal message. The kernel drops a ``flock`` when its process dies, so a run killed
with SIGKILL leaves no lock that blocks ``--resume``; only its stale note remains, and the
next holder overwrites it. The file is removed when the holder releases it (filelock
retries a lock on an inode that was unlinked meanwhile).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from dissect_report.errors import ReportError, ReportLocked

log = logging.getLogger(__name__)


def lock_path(out: str | Path) -> Path:
    """``report`` -> ``.report.lock`` in the same parent directory."""
    target = Path(os.path.abspath(out))
    return target.parent / f".{target.name or 'root'}.lock"


def holder(path: Path) -> str:
    """Who holds the lock at ``path``, in words (from the note the holder wrote)."""
    try:
        note = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {note['pid']} on {note['host']} ({note['command']}, since {note['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def locked(out: str | Path, command: str) -> Iterator[Path]:
    """Hold the lock of report ``out`` for the block; refuse at once if another process does.

    Raises :class:`~dissect_report.errors.ReportLocked` (one line, naming the holder).
    """
    path = lock_path(out)
    probe = path.parent
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise ReportError(f"cannot write report {str(out)!r}: {str(probe)!r} is not a directory")
    created = []  # parents made for the lock file, deepest first: removed again if left empty
    parent = path.parent
    while not parent.exists():
        created.append(parent)
        parent = parent.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        # filelock also times out when the lock file cannot be made at all (a read-only or
        # virtual file system): that is no other writer, so say what really failed
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o644))
        except OSError as exc:
            for made in created:
                with suppress(OSError):
                    made.rmdir()
            raise ReportError(
                f"cannot write report {str(out)!r}: cannot create its lock file "
                f"{str(path)!r} ({exc.strerror or exc})"
            ) from None
        raise ReportLocked(
            f"report {str(out)!r} is being written by {holder(path)}; "
            "wait for it to finish (or stop it), then retry"
        ) from None
    try:
        note = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": dt.datetime.now().replace(microsecond=0).isoformat(sep=" "),
        }
        with open(path, "w", encoding="utf-8") as f:  # the locked inode itself: no rename
            f.write(json.dumps(note) + "\n")
        yield path
    finally:
        with suppress(OSError):
            path.unlink()
        lock.release()
        for made in created:
            with suppress(OSError):  # only if the run left it empty
                made.rmdir()

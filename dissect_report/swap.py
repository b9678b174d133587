"""Replace a report's section only when its new version is complete ("write beside, swap").

Usage::

    from dissect_report.swap import check_schema, staged_section
    check_schema(report)                       # a newer report is refused, never rewritten
    with staged_section(report, "concepts") as new:
        write_everything_into(new)             # report/.concepts.new/
    # only now: report/concepts is the new one; then update the manifest

If the block raises (a bad flag, a failing model, a full disk), the new files are removed
and the old section and manifest are untouched. The swap is two renames (old aside, new in)
and a removal of the old; a run killed between them is repaired by the next
:func:`staged_section` or :func:`recover` (the old section comes back if the new one had
not moved in yet).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from dissect_report.errors import ReportError, SchemaError
from dissect_report.reportdir.read import read_json
from dissect_report.reportdir.schema import MANIFEST, MIGRATIONS, SCHEMA_VERSION
from dissect_report.reportdir.write import update_manifest

F = TypeVar("F", bound=Callable[..., Any])
# The manifest versions this version reads and may add to (older ones are migrated on read).
KNOWN_SCHEMAS = frozenset({SCHEMA_VERSION, *MIGRATIONS})


def check_schema(report: str | Path) -> None:
    """Refuse a report whose manifest has a schema_version this version does not know.

    A newer report would be rewritten in the old layout and lose what it held; so every
    command that adds to a report calls this before it writes anything.
    """
    try:
        raw = read_json(Path(report) / MANIFEST)
    except ReportError:
        return  # a missing or unreadable manifest is the reader's error to report
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version not in KNOWN_SCHEMAS:
        known = ", ".join(map(str, sorted(KNOWN_SCHEMAS)))
        raise SchemaError(
            f"report {str(report)!r} has schema_version {version!r}; this dissect-report "
            f"(which reads {known}) will not rewrite it: use the version that made it"
        )


def _paths(report: Path, name: str) -> tuple[Path, Path, Path]:
    return report / name, report / f".{name}.new", report / f".{name}.old"


def recover(report: str | Path, name: str) -> None:
    """Finish or roll back a swap of section ``name`` that a killed run left halfway."""
    final, new, old = _paths(Path(report), name)
    if old.exists():
        if final.exists():  # the new section was in place: only the old one's removal was left
            shutil.rmtree(old)
        else:  # killed between the two renames: the old section comes back
            os.replace(old, final)
    if new.exists():  # an unfinished new section is worth nothing
        shutil.rmtree(new)


def begin_section(report: str | Path, name: str) -> Path:
    """Check the report, repair a half-done swap, and return an empty ``report/.name.new/``."""
    report = Path(report)
    if not report.is_dir():
        raise ReportError(f"report {str(report)!r} is not a directory")
    check_schema(report)
    recover(report, name)
    _, new, _ = _paths(report, name)
    new.mkdir()
    return new


def commit_section(report: str | Path, name: str) -> None:
    """Swap ``report/.name.new/`` in as ``report/name`` (the old one goes)."""
    final, new, old = _paths(Path(report), name)
    if final.exists():
        os.replace(final, old)
    os.replace(new, final)
    shutil.rmtree(old, ignore_errors=True)


def publish_section(
    report: str | Path, name: str, flag: str, changes: dict[str, Any] | None = None
) -> None:
    """The one commit of every stage: swap ``report/.name.new/`` in and mark it done.

    Usage: ``publish_section(report, "concepts", "interventions", {"interventions": settings})``.
    The manifest's ``sections.flag`` goes false, the section is swapped in, then the manifest
    gets ``sections.flag`` true with ``changes``. Killed between these three steps, the manifest
    says "not done" and ``--resume`` redoes the stage.
    """
    report = Path(report)
    update_manifest(report, {"sections": {flag: False}})
    commit_section(report, name)
    update_manifest(report, {"sections": {flag: True}, **(changes or {})})


def abort_section(report: str | Path, name: str) -> None:
    """Drop an unfinished ``report/.name.new/``; the old section stays as it was."""
    _, new, _ = _paths(Path(report), name)
    shutil.rmtree(new, ignore_errors=True)


def writes_section(name: str) -> Callable[[F], F]:
    """Decorate a stage ``fn(config, report, ...)`` that calls :func:`begin_section`:
    whatever it raises, its unfinished section is dropped and the report left as it was."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def run(config: Any, report: str | Path, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(config, report, *args, **kwargs)
            except BaseException:
                abort_section(report, name)
                raise

        return run  # type: ignore[return-value]

    return decorate


@contextmanager
def staged_section(report: str | Path, name: str) -> Iterator[Path]:
    """Yield an empty ``report/.name.new/``; swap it in as ``report/name`` if the block succeeds."""
    new = begin_section(report, name)
    try:
        yield new
    except BaseException:
        abort_section(report, name)
        raise
    commit_section(report, name)


def remove_stale_builds(report: str | Path) -> None:
    """Drop the site build folders (``.site.build-*``) a killed render left in ``report``.

    Call it only while holding the report's lock: then no other render is building there.
    """
    for stale in Path(report).glob(".site.build-*"):
        shutil.rmtree(stale, ignore_errors=True)

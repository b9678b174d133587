"""File helpers for the renderer: what a site may ship, copied, never linked.

Usage::

    from dissect_report.render.files import confine, copy_file, copy_tree
    confine(Path("report"))            # ReportError if a needed path leads outside the report
    copy_tree(Path("report/layers/l"), Path("site/layers/l"), (".png",), Path("report"))

A site is published, zipped and edited; a report is received from others. So a site holds
copies (a hard link would let an in-place edit of ``site/manifest.json`` change the report),
and nothing reached through a symbolic link: a received report (zip and tar keep links)
must not publish the receiver's own files.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from dissect_report.errors import ReportError

log = logging.getLogger(__name__)

# The parts of a report the site reads or ships (the rest is never looked at).
PUBLISHED = ("manifest.json", "layers", "samples", "concepts", "artifacts", "paint")
# Files render reads to build pages: reached through a link, their contents would be shown.
READ_SUFFIXES = (".parquet", ".json", ".npz", ".npy", ".csv", ".svg")


def _needed_dir(parts: tuple[str, ...]) -> bool:
    """A directory the pages are built from: a top-level part, a layer, a concept, units/."""
    top = parts[0]
    return (
        len(parts) == 1
        or (top in ("layers", "concepts") and len(parts) == 2)
        or (top == "layers" and len(parts) == 3 and parts[2] == "units")
        or (top == "artifacts" and len(parts) == 2 and parts[1] == "units")
    )


def confine(root: Path) -> None:
    """Refuse a report whose published parts lead outside it through a symbolic link.

    A linked directory the site is built from (``samples/``, ``layers/<slug>/``,
    ``concepts/``, ...) or a linked table is a :class:`ReportError` naming it; a linked file
    or directory deeper down is only skipped when shipping (:func:`copy_tree` warns).
    """
    for rel, path in _links(root):
        needed = (path.is_dir() and _needed_dir(rel.parts)) or rel.suffix in READ_SUFFIXES
        if needed:
            raise ReportError(
                f"report path {rel.as_posix()!r} is a symbolic link"
                f"{_leads(root, path)}; render publishes only files inside the report: "
                "copy the files in place of the link"
            )


def _leads(root: Path, path: Path) -> str:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return " to outside the report"
    return ""


def _links(root: Path) -> list[tuple[Path, Path]]:
    """Every symbolic link among the published parts of ``root`` (not followed)."""
    found = []
    for name in PUBLISHED:
        top = root / name
        if top.is_symlink():
            found.append((Path(name), top))
            continue
        if not top.is_dir():
            continue
        for here, dirs, names in os.walk(top):
            for entry in sorted(dirs + names):
                path = Path(here) / entry
                if path.is_symlink():
                    found.append((path.relative_to(root), path))
    return found


def copy_file(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` (a new file: editing one never changes the other)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def copy_tree(src: Path, dst: Path, suffixes: tuple[str, ...], root: Path) -> int:
    """Copy every regular file under ``src`` ending in one of ``suffixes``; returns the count.

    Symbolic links (files or directories) are skipped with one warning per skipped path,
    named relative to the report ``root``.
    """
    count = 0
    if src.is_symlink() or not src.is_dir():
        return 0
    for here, dirs, names in os.walk(src):
        base = Path(here)
        for d in [d for d in dirs if (base / d).is_symlink()]:
            skipped(base / d, root)
        dirs[:] = sorted(d for d in dirs if not (base / d).is_symlink())
        target = dst / base.relative_to(src)
        wanted = []
        for name in sorted(names):
            if not name.endswith(suffixes):
                continue
            if (base / name).is_symlink():
                skipped(base / name, root)
            elif (base / name).is_file():
                wanted.append(name)
        if wanted:
            target.mkdir(parents=True, exist_ok=True)  # once per folder, not per file
        for name in wanted:
            shutil.copyfile(base / name, target / name)
            count += 1
    return count


def skipped(path: Path, root: Path) -> None:
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = path.name
    log.warning("not published: %s is a symbolic link%s", rel, _leads(root, path))


def dir_bytes(path: Path, suffixes: tuple[str, ...] | None = None) -> int:
    """Sum of file sizes under ``path`` (apparent size), optionally only some suffixes."""
    total = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            if suffixes is None or name.endswith(suffixes):
                total += (Path(root) / name).stat().st_size
    return total

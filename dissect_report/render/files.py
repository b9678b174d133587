"""Small file helpers for the renderer: cheap copies of images (atomic writes: reportdir.atomic).

Usage::

    from dissect_report.render.files import link_or_copy
    link_or_copy(Path("report/layers/l/units/3.png"), Path("site/layers/l/units/3.png"))
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (no bytes copied), falling back to a copy across devices."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def link_tree(src: Path, dst: Path, suffixes: tuple[str, ...]) -> int:
    """Link every file under ``src`` whose name ends in one of ``suffixes``; returns the count.

    Symbolic links are skipped so that a report cannot pull files from outside itself.
    """
    count = 0
    if not src.is_dir():
        return 0
    for root, dirs, names in os.walk(src):
        dirs[:] = [d for d in dirs if not (Path(root) / d).is_symlink()]
        target = dst / Path(root).relative_to(src)
        wanted = [n for n in names if n.endswith(suffixes) and not (Path(root) / n).is_symlink()]
        if wanted:
            target.mkdir(parents=True, exist_ok=True)  # once per folder, not per file
        for name in wanted:
            try:
                os.link(Path(root) / name, target / name)
            except OSError:
                shutil.copyfile(Path(root) / name, target / name)
            count += 1
    return count


def dir_bytes(path: Path, suffixes: tuple[str, ...] | None = None) -> int:
    """Sum of file sizes under ``path`` (apparent size), optionally only some suffixes."""
    total = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            if suffixes is None or name.endswith(suffixes):
                total += (Path(root) / name).stat().st_size
    return total

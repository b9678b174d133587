"""Which report files travel with the site: exactly those that its pages reference.

Usage::

    from dissect_report.render.shipping import page_references, ship_referenced
    refs = page_references(site_dir)                      # every file a page links or shows
    ship_referenced(site_dir, {"layers/layer3": report / "layers/layer3"}, refs)

The site's pages are built first; then every ``src``, ``href`` and ``data-dr-full`` of every
HTML page is resolved against the page, and the report files among them are linked into the
site. A file no page names (a unit's strip PNG kept for goldens, its full grid, a sample a
budget leaves out) never reaches the site, so a zipped site carries only what it shows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote

from dissect_report.render.files import copy_file, skipped

_ATTR = re.compile(r'(?:src|href|data-dr-full)="([^"]+)"')
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def html_files(site_dir: Path) -> Iterable[Path]:
    for root, _dirs, names in os.walk(site_dir):
        for name in names:
            if name.endswith(".html"):
                yield Path(root) / name


def references(html: str) -> Iterable[str]:
    """The relative file references of one page (no fragments, queries or schemes)."""
    for raw in _ATTR.findall(html):
        if raw.startswith(("#", "/", "//")) or _SCHEME.match(raw):
            continue
        path = unquote(raw.split("#", 1)[0].split("?", 1)[0].replace("&amp;", "&"))
        if path:
            yield path


def page_references(site_dir: Path) -> set[str]:
    """Site-relative POSIX paths of every file some page of ``site_dir`` references."""
    root = site_dir.resolve()
    out: set[str] = set()
    for page in html_files(root):
        base = page.parent
        for ref in set(references(page.read_text(encoding="utf-8", errors="replace"))):
            target = os.path.normpath(base / ref)
            rel = os.path.relpath(target, root)
            if not rel.startswith(".."):
                out.add(Path(rel).as_posix())
    return out


def ship_referenced(
    site_dir: Path, sources: Mapping[str, Path], refs: Iterable[str], root: Path
) -> set[str]:
    """Copy each referenced file found under a source folder into ``site_dir``.

    ``sources`` maps a site-relative folder (``layers/layer3``) to the report folder it comes
    from. Copies, not hard links (editing the site never changes the report); a symbolic link
    on the way is skipped with a warning naming it relative to the report ``root``. Returns the
    site-relative paths copied.
    """
    shipped: set[str] = set()
    for folder in sources.values():
        _warn_links(folder, root)
    for ref in sorted(refs):
        for prefix, folder in sources.items():
            if not ref.startswith(prefix + "/"):
                continue
            src = folder / ref[len(prefix) + 1 :]
            if _link_on_the_way(src, folder) is not None:
                pass  # warned about once by _warn_links
            elif not (site_dir / ref).exists() and src.is_file():
                copy_file(src, site_dir / ref)
                shipped.add(ref)
            break
    return shipped


def _warn_links(folder: Path, root: Path) -> None:
    """One warning per symbolic link under ``folder``: it is never published."""
    if folder.is_symlink() or not folder.is_dir():
        return
    for here, dirs, names in os.walk(folder):
        base = Path(here)
        for name in sorted([*dirs, *names]):
            if (base / name).is_symlink():
                skipped(base / name, root)
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]


def _link_on_the_way(path: Path, folder: Path) -> Path | None:
    """``path`` or the folder between it and ``folder`` that is a symbolic link, if any."""
    current = path
    while current != folder and current != current.parent:
        if current.is_symlink():
            return current
        current = current.parent
    return folder if folder.is_symlink() else None

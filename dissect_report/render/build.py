"""Run MkDocs (Material) on the generated pages, in-process.

Usage::

    from dissect_report.render.build import NavEntry, build_mkdocs
    build_mkdocs(pages, work_dir, site_dir, site_name="model", layers=[], concepts=[], sections=[])

``pages`` maps docs-relative paths to Markdown; they and the scaffold (CSS, JS) reach MkDocs
from memory through :class:`~dissect_report.render.plugin.PagesPlugin`.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dissect_report.errors import ReportError
from dissect_report.render.fmt import yaml_str
from dissect_report.render.pages import write_mkdocs_yml

SCAFFOLD = Path(__file__).resolve().parent.parent / "site"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NavEntry:
    """A nav line: an already HTML-escaped title and a docs-relative path."""

    title: str
    path: str


def _nav(entries: Sequence[NavEntry]) -> list[dict[str, str]]:
    return [{"title": yaml_str(e.title), "path": yaml_str(e.path)} for e in entries]


def build_mkdocs(
    pages: dict[str, str],
    work_dir: Path,
    site_dir: Path,
    *,
    site_name: str,
    layers: Sequence[NavEntry],
    concepts: Sequence[NavEntry],
    sections: Sequence[NavEntry],
    compare: Sequence[str] = (),
    files: Mapping[str, Path] | None = None,
) -> None:
    """Write mkdocs.yml into ``work_dir`` and build ``pages`` into ``site_dir``.

    ``files``: more files copied into the site as they are (site path -> source).
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    from dissect_report.render.plugin import PagesPlugin

    docs = work_dir / "docs"  # empty: pages and files come from memory (PagesPlugin)
    docs.mkdir(parents=True, exist_ok=True)
    assets = {
        path.relative_to(SCAFFOLD).as_posix(): path
        for path in sorted((SCAFFOLD / "assets").rglob("*"))
        if path.is_file()
    }
    assets.update(files or {})
    config_file = work_dir / "mkdocs.yml"
    write_mkdocs_yml(
        config_file,
        site_name=yaml_str(site_name),
        docs_dir=json.dumps(str(docs)),
        site_dir=json.dumps(str(site_dir)),
        overrides=json.dumps(str(SCAFFOLD / "overrides")),
        layers=_nav(layers),
        concepts=_nav(concepts),
        sections=_nav(sections),
        compare=[json.dumps(path) for path in compare],
    )
    mk_log = logging.getLogger("mkdocs")
    level = mk_log.level
    # MkDocs reports every page at INFO; our own log line says what happened.
    mk_log.setLevel(max(logging.WARNING, logging.getLogger().getEffectiveLevel()))
    try:
        config = load_config(config_file=str(config_file))
        config.plugins["dissect-report/pages"] = PagesPlugin(pages, assets)
        build(config)
    except MkDocsException as exc:
        raise ReportError(f"mkdocs build failed: {exc}") from exc
    finally:
        mk_log.setLevel(level)
    _prune_theme_assets(site_dir)


def _prune_theme_assets(site_dir: Path) -> None:
    """Drop theme files an offline English site never loads: source maps, lunr languages,
    the sitemaps (no ``site_url``: no crawler can use them) and Material's default favicon
    (the pages use the logo)."""
    js = site_dir / "assets" / "javascripts"
    shutil.rmtree(js / "lunr", ignore_errors=True)  # only fetched for non-English search
    for name in ("sitemap.xml", "sitemap.xml.gz", "assets/images/favicon.png"):
        (site_dir / name).unlink(missing_ok=True)
    if (site_dir / "assets" / "images").is_dir() and not any(
        (site_dir / "assets/images").iterdir()
    ):
        (site_dir / "assets" / "images").rmdir()
    for pattern in ("javascripts/**/*.map", "stylesheets/*.map"):
        for path in (site_dir / "assets").glob(pattern):
            path.unlink()

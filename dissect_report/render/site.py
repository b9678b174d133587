"""Render a report directory into a static, offline MkDocs site: the render stage.

Usage::

    from dissect_report.render import render_site
    result = render_site(Path("report"))            # -> report/site/index.html
    print(result.index, result.pages, result.seconds)

Reads only the report directory. The site is built beside its destination and swapped in
at the end, so an interrupted render leaves the previous site (or none) in place.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dissect_report import __version__
from dissect_report.errors import ReportError
from dissect_report.render.budget import Budget, ladder
from dissect_report.render.build import NavEntry, build_mkdocs
from dissect_report.render.builders import PAGE_BUILDERS, SiteInput
from dissect_report.render.context import Site
from dissect_report.render.files import confine, dir_bytes
from dissect_report.render.fmt import esc
from dissect_report.render.pages import render_pages
from dissect_report.render.portable import portable_manifest
from dissect_report.render.sections import load_artifacts, load_interventions
from dissect_report.render.shipcheck import check_counts, check_shipped
from dissect_report.render.shipping import page_references, ship_referenced
from dissect_report.render.sizes import SiteSizes, site_sizes
from dissect_report.reportdir.atomic import write_bytes
from dissect_report.reportdir.read import read_json_object
from dissect_report.reportdir.records import ReportData, load_report
from dissect_report.reportdir.schema import Manifest

log = logging.getLogger(__name__)
MARKER = ".dissect-report-site"
IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class RenderResult:
    """What :func:`render_site` built: where, how many pages, how long, how big."""

    site_dir: Path
    index: Path
    pages: int
    unit_pages: int
    seconds: float
    site_bytes: int
    image_bytes: int
    sizes: SiteSizes | None = None  # bytes by page kind (render/sizes.py)
    budget_note: str = ""  # what --max-site-mb left out ("" when nothing)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"dissect-report": __version__, "python": platform.python_version()}
    for dist in ("mkdocs", "mkdocs-material", "jinja2"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _check_out(out: Path) -> None:
    """Refuse to replace a directory that is not a site we built (or empty)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ReportError(f"--out {str(out)!r} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ReportError(
            f"refusing to overwrite {str(out)!r}: it is not empty and was not built by "
            "dissect-report render"
        )


def _swap_in(built: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(built, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _portable(report: ReportData) -> ReportData:
    raw = portable_manifest(report.manifest.model_dump(mode="json"), report.root)
    return dataclasses.replace(report, manifest=Manifest.model_validate(raw))


def _build(
    source: SiteInput, work: Path, built: Path, budget: Budget, shipped_manifest: dict[str, Any]
) -> int:
    """Build the site into ``built`` under ``budget``; returns the number of pages."""
    parts = [build(source, budget) for build in PAGE_BUILDERS]
    texts = render_pages(page for part in parts for page in part.pages)
    for part in parts:
        texts.update(part.markdown)
    m = source.site.report.manifest
    # Dozens of concept pages are fine in the nav; hundreds would bloat every page.
    concept_nav = [NavEntry(str(esc(c.name)), f"concepts/{c.slug}/index.md") for c in m.concepts]
    build_mkdocs(
        texts,
        work,
        built,
        site_name=str(esc(m.model.get("name", "dissect-report"))),
        layers=[NavEntry(str(esc(e.name)), f"layers/{e.slug}/index.md") for e in m.layers],
        concepts=concept_nav if len(concept_nav) <= 40 else [],
        sections=[entry for part in parts for entry in part.sections],
        compare=[path for part in parts for path in part.compare_nav],
        files={path: file for part in parts for path, file in part.assets.items()},
    )
    # The images and tables the pages reference travel inside the site (a zipped site
    # carries what it shows), nothing else: no strips kept for goldens, no stats.npz.
    # Copies, not hard links: editing the site in place must not change the report.
    sources = {prefix: folder for part in parts for prefix, folder in part.ships.items()}
    from_report = ship_referenced(built, sources, page_references(built), source.root)
    for part in parts:
        for path, data in part.files.items():
            write_bytes(built / path, data)
    write_bytes(
        built / "manifest.json",
        (json.dumps(shipped_manifest, indent=2, ensure_ascii=False) + "\n").encode(),
    )
    check_shipped(built, frozenset(from_report))
    (built / MARKER).write_text(f"dissect-report {__version__}\n", encoding="utf-8")
    return len(texts)


def _build_within(
    source: SiteInput,
    work: Path,
    steps: list[Budget],
    max_site_mb: float | None,
    shipped_manifest: dict[str, Any],
) -> tuple[Path, int, SiteSizes, Budget]:
    """Build with each budget of ``steps`` in turn until the site fits ``max_site_mb``.

    Returns the built folder, its page count, its sizes and the budget it was built with.
    """
    units = sum(len(layer.units) for layer in source.site.report.layers)
    for attempt, budget in enumerate(steps):
        built = work / f"site{attempt}"
        pages = _build(source, work, built, budget, shipped_manifest)
        sizes = site_sizes(built, units)
        if max_site_mb is None or sizes.total <= max_site_mb * 1e6:
            return built, pages, sizes, budget
        shutil.rmtree(built)
    log.warning(
        "the site is %.1f MB, over --max-site-mb %g even with only the top band",
        sizes.total / 1e6,
        max_site_mb,
    )
    # Rebuilt so that no page claims a budget it did not meet.
    budget = dataclasses.replace(budget, met=False)
    pages = _build(source, work, built, budget, shipped_manifest)
    return built, pages, site_sizes(built, units), budget


def render_site(
    report_dir: Path | str,
    out: Path | str | None = None,
    baseline: Path | str | None = None,
    max_site_mb: float | None = None,
    all_sample_pages: bool = False,
) -> RenderResult:
    """Render ``report_dir`` into ``out`` (default ``report_dir/site``); returns a summary.

    ``baseline``: a golden report to compare against; adds a Compare page (needs
    :mod:`dissect_report.compare`). ``max_site_mb``: a size budget; the site leaves out the
    zoom's full-size files, then example bands from the weakest up, until it fits
    (:mod:`dissect_report.render.budget`), and its unit pages say so. Sample pages are made for
    the samples of each unit's strongest bands (``all_sample_pages``: for every sample).
    """
    start = time.perf_counter()
    root = Path(report_dir).resolve()
    confine(root)  # a received report must not publish the receiver's files
    report = load_report(root)
    check_counts(report.manifest)
    # The site's manifest and pages carry no absolute path of the machine that made it.
    shipped_manifest = portable_manifest(read_json_object(root / "manifest.json"), root)
    report = _portable(report)
    out = Path(out) if out is not None else root / "site"
    out = out.resolve()
    _check_out(out)
    if baseline is not None and not (Path(baseline) / "manifest.json").is_file():
        raise ReportError(f"--baseline {str(baseline)!r} is not a report (no manifest.json)")
    site = Site(report)
    source = SiteInput(
        site,
        root,
        load_interventions(root, report.manifest),
        load_artifacts(root, report.manifest),
        _versions(),
        Path(baseline) if baseline is not None else None,
    )

    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        bands = [(b.key, b.label) for ex in site.examples.values() if ex for b in ex.bands]
        full = any(ex is not None and (ex.display_factor or 1) > 1 for ex in site.examples.values())
        steps = ladder(list(dict.fromkeys(bands)), max_site_mb, full, all_sample_pages)
        built, pages, sizes, budget = _build_within(
            source, work, steps, max_site_mb, shipped_manifest
        )
        if budget.note():
            log.info("site budget: %s", budget.note())
        _swap_in(built, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - start
    result = RenderResult(
        site_dir=out,
        index=out / "index.html",
        pages=pages,
        unit_pages=sum(len(layer.units) for layer in report.layers),
        seconds=seconds,
        site_bytes=sizes.total,
        image_bytes=dir_bytes(out / "layers", IMAGE_SUFFIXES)
        + dir_bytes(out / "concepts", IMAGE_SUFFIXES)
        + dir_bytes(out / "artifacts", IMAGE_SUFFIXES),
        sizes=sizes,
        budget_note=budget.note(),
    )
    log.debug("rendered %d pages into %s in %.1f s", pages, out, seconds)
    return result

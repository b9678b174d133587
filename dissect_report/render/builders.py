"""The site's page builders: each turns the loaded report into its part of the site.

Usage::

    from dissect_report.render.builders import PAGE_BUILDERS, SiteInput
    source = SiteInput(site, root, interventions, artifacts, versions, baseline=None)
    parts = [build(source, budget) for build in PAGE_BUILDERS]
    [page.path for part in parts for page in part.pages]   # "index.md", ..., "paint/index.md"

A builder is a function ``(SiteInput, Budget) -> SitePart``. A part holds pages to render
through templates, Markdown already written, the nav entries that lead to them, the files
MkDocs copies as they are, the report folders whose referenced files ship with the site, and
files written into the built site afterwards. :func:`~dissect_report.render.site.render_site`
merges the parts of every builder in :data:`PAGE_BUILDERS`, in order; a new kind of page is a
new builder there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from dissect_report.compare import compare_reports
from dissect_report.compare.model import Comparison
from dissect_report.render.budget import Budget
from dissect_report.render.build import NavEntry
from dissect_report.render.comparepage import compare_pages
from dissect_report.render.context import Page, Site
from dissect_report.render.paintpage import paint_page
from dissect_report.render.sections import Artifacts, Interventions
from dissect_report.render.sitepages import iter_pages


@dataclass(frozen=True)
class SiteInput:
    """The loaded report that every builder reads (plus the golden report to compare with)."""

    site: Site
    root: Path
    interventions: Interventions | None
    artifacts: Artifacts | None
    versions: dict[str, str]  # the renderer's package versions, for the Run page
    baseline: Path | None = None

    @cached_property
    def comparison(self) -> Comparison | None:
        """The report against ``baseline`` (compared once, however often the site is built)."""
        return compare_reports(self.baseline, self.root) if self.baseline is not None else None


@dataclass(frozen=True)
class SitePart:
    """One builder's pages and files."""

    pages: tuple[Page, ...] = ()  # rendered through their templates
    markdown: Mapping[str, str] = field(default_factory=dict)  # docs path -> Markdown
    sections: tuple[NavEntry, ...] = ()  # top-level nav entries
    compare_nav: tuple[str, ...] = ()  # the nav's "Compare" group
    assets: Mapping[str, Path] = field(default_factory=dict)  # site path -> a file MkDocs copies
    ships: Mapping[str, Path] = field(default_factory=dict)  # site prefix -> report folder
    files: Mapping[str, bytes] = field(default_factory=dict)  # site path -> written after MkDocs


PageBuilder = Callable[[SiteInput, Budget], SitePart]


def report_part(source: SiteInput, budget: Budget) -> SitePart:
    """The report's own pages: overview, run, concepts, sections, layers, units, samples."""
    report = source.site.report
    sections = [NavEntry("Run", "run/index.md"), NavEntry("Glossary", "glossary/index.md")]
    # The images and tables the pages reference travel inside the site, nothing else.
    ships = {f"layers/{layer.entry.slug}": layer.dir for layer in report.layers}
    ships["samples"] = source.root / "samples"
    if source.interventions is not None:
        sections.append(NavEntry("Interventions", "interventions/index.md"))
        ships["concepts"] = source.root / "concepts"
    if source.artifacts is not None:
        sections.append(NavEntry("Artifacts", "artifacts/index.md"))
        ships["artifacts"] = source.root / "artifacts"
    pages = iter_pages(source.site, source.interventions, source.artifacts, source.versions, budget)
    return SitePart(pages=tuple(pages), sections=tuple(sections), ships=ships)


def paint_part(source: SiteInput, budget: Budget) -> SitePart:
    """The Paint page and the scripts it loads (nothing without a ``paint/`` section)."""
    paint = paint_page(source.root)
    if paint is None:
        return SitePart()
    files = {f"paint/{name}": data for name, data in paint.files.items()}
    return SitePart(
        pages=(paint.page,), sections=(NavEntry("Paint", paint.page.path),), files=files
    )


def compare_part(source: SiteInput, budget: Budget) -> SitePart:
    """The Compare pages against the golden report (nothing without a baseline)."""
    if source.comparison is None:
        return SitePart()
    pages = compare_pages(source.comparison)
    return SitePart(markdown=pages.markdown, compare_nav=tuple(pages.markdown), assets=pages.strips)


PAGE_BUILDERS: tuple[PageBuilder, ...] = (report_part, paint_part, compare_part)

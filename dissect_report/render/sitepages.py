"""Every page of the site, in nav order: the view models paired with their templates.

Usage::

    from dissect_report.render.sitepages import iter_pages
    for page in iter_pages(Site(report), interventions, artifacts, versions):
        print(page.path, page.template)
"""

from __future__ import annotations

from collections.abc import Iterator

from markupsafe import Markup

from dissect_report.render import detail
from dissect_report.render.budget import Budget
from dissect_report.render.context import (
    Link,
    Page,
    Site,
    concept_index,
    overview,
    run_view,
)
from dissect_report.render.samplepage import sample_pages
from dissect_report.render.sections import Artifacts, Interventions
from dissect_report.render.unitpage import unit_pages


def iter_pages(
    site: Site,
    interventions: Interventions | None,
    artifacts: Artifacts | None,
    renderer_versions: dict[str, str],
    budget: Budget | None = None,
) -> Iterator[Page]:
    """Every page of the site, in nav order, followed by the unit pages.

    ``budget``: what a site size budget keeps (:mod:`dissect_report.render.budget`).
    """

    sections = [
        Link("concepts/index.html", Markup("Concepts")),
        Link("run/index.html", Markup("Run")),
    ]
    if interventions is not None:
        sections.append(Link("interventions/index.html", Markup("Interventions")))
    if artifacts is not None:
        sections.append(Link("artifacts/index.html", Markup("Artifacts")))
    yield Page("index.md", "overview.md.j2", overview(site, tuple(sections)))
    yield Page("run/index.md", "run.md.j2", run_view(site, renderer_versions))
    yield Page("concepts/index.md", "concepts.md.j2", concept_index(site))
    if interventions is not None:
        yield Page(
            "interventions/index.md",
            "interventions.md.j2",
            detail.interventions_view(site, interventions),
        )
    if artifacts is not None:
        yield Page("artifacts/index.md", "artifacts.md.j2", detail.artifacts_view(site, artifacts))
    for c in site.report.manifest.concepts:
        view = detail.concept_view(site, c.name, interventions)
        yield Page(f"concepts/{c.slug}/index.md", "concept.md.j2", view)
    for layer in site.report.layers:
        yield Page(
            f"layers/{layer.entry.slug}/index.md", "layer.md.j2", detail.layer_view(site, layer)
        )
    yield Page("glossary/index.md", "glossary.md.j2", None)
    paged = budget.paged_samples(site.examples) if budget is not None else None
    for layer in site.report.layers:
        ex = site.examples.get(layer.entry.name)
        for path, uview in unit_pages(
            site, layer, interventions, artifacts, ex, site.samples, budget, paged
        ):
            yield Page(path, "unit.md.j2", uview)
    if site.samples is not None:
        keep = budget.keep_bands if budget is not None else None
        for path, sview in sample_pages(site, site.samples, site.examples, keep, paged):
            yield Page(path, "sample.md.j2", sview)

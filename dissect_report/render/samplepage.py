"""View model of a sample page: one drawn sample and the units that fire most on it.

Usage::

    from dissect_report.render.samplepage import sample_pages
    for path, view in sample_pages(site, samples, examples_by_layer):
        ...   # "samples/1234/index.md", SampleView

The inverse of a unit page: the image and its segmentation, the concepts in it, per layer
the units whose peak activation on it is furthest above their own threshold, and the units
whose pages show it as an example. Units link here from their tiles; this page links back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from markupsafe import Markup

from dissect_report.render.context import (
    SHORT_REASON,
    Site,
    guard_reason,
    unit_href,
    unit_label,
)
from dissect_report.render.examples import Examples, Samples
from dissect_report.render.fmt import esc, num, pct, yaml_str

ROOT = "../../"  # from samples/<id>/index.html back to the site root


@dataclass(frozen=True)
class UnitHit:
    href: str
    unit: str
    label: Markup
    peak: str
    ratio: str
    dim: bool


@dataclass(frozen=True)
class UnitLink:
    href: str
    text: str
    dim: bool


@dataclass(frozen=True)
class ShownIn:
    """The units of one layer that show the sample in one of their bands."""

    layer: Markup
    band: Markup
    units: tuple[UnitLink, ...]


@dataclass(frozen=True)
class LayerHits:
    layer: Markup
    hits: tuple[UnitHit, ...]


@dataclass(frozen=True)
class ConceptArea:
    color: str
    link: Markup
    area: str


@dataclass(frozen=True)
class SampleView:
    title: Markup
    title_yaml: Markup
    image: str
    concepts: tuple[ConceptArea, ...]
    layers: tuple[LayerHits, ...]
    shown_in: tuple[ShownIn, ...]
    prev: str
    next: str
    segmentation: str = ""  # set when the image and its segmentation are separate files


def sample_pages(
    site: Site,
    samples: Samples,
    examples: dict[str, Examples | None],
    keep_bands: frozenset[str] | None = None,
    paged: frozenset[int] | None = None,
) -> Iterator[tuple[str, SampleView]]:
    """``(docs path, view)`` for every sample with an image in ``samples/``.

    ``keep_bands``: the bands a site size budget keeps; then only the samples that a unit page
    still shows get a page (None: every sample). ``paged``: the samples a budget gives a page
    (:meth:`dissect_report.render.budget.Budget.paged_samples`; None: all).
    """
    rows_by_layer = {
        layer.entry.name: {r.unit: r for r in layer.units} for layer in site.report.layers
    }
    slug = {layer.entry.name: layer.entry.slug for layer in site.report.layers}
    shown_by: dict[int, list[tuple[str, int, str, float]]] = {}
    for layer in site.report.layers:
        ex = examples.get(layer.entry.name)
        if ex is None:
            continue
        labels = {b.key: b.label for b in ex.bands}
        for unit, items in ex.by_unit.items():
            for s in items:
                if keep_bands is not None and s.band not in keep_bands:
                    continue
                shown_by.setdefault(s.sample, []).append(
                    (layer.entry.name, unit, labels.get(s.band, s.band), s.peak)
                )
    ids = sorted(samples.ids)
    if keep_bands is not None:
        ids = [i for i in ids if i in shown_by]
    if paged is not None:
        ids = [i for i in ids if i in paged]
    folder = site.report.root / "samples"
    files = frozenset(os.listdir(folder)) if folder.is_dir() else frozenset()
    band_rank: dict[str, int] = {}
    for ex in examples.values():
        if ex is not None:
            for i, b in enumerate(ex.bands):
                band_rank.setdefault(b.label, i)

    def hit(layer: str, unit: int, peak: float, extra: str) -> UnitHit:
        row = rows_by_layer.get(layer, {}).get(unit)
        label = (
            unit_label(row, site.floor, SHORT_REASON[guard_reason(site.layer_by_name[layer], row)])
            if row is not None
            else ""
        )
        return UnitHit(
            href=unit_href(slug.get(layer, layer), unit, ROOT),
            unit=f"{layer} #{unit}",
            label=esc(label),
            peak=num(peak),
            ratio=extra,
            dim=row is None or not row.interpretable,
        )

    for i, sample in enumerate(ids):
        title = esc(f"Sample {sample}")
        concepts = tuple(
            ConceptArea(
                color=site.concept_color.get(name, "#9e9e9e"),
                link=site.concept_link(name, ROOT),
                area=pct(area),
            )
            for name, area in zip(
                samples.concepts.get(sample, ()), samples.areas.get(sample, ()), strict=False
            )
        )
        by_layer: dict[str, list[UnitHit]] = {}
        for t in samples.top_units.get(sample, ()):
            ratio = f"{num(t.ratio)}\u00d7" if t.ratio == t.ratio else ""
            by_layer.setdefault(t.layer, []).append(hit(t.layer, t.unit, t.peak, ratio))
        layers = tuple(
            LayerHits(esc(layer.entry.name), tuple(by_layer[layer.entry.name]))
            for layer in site.report.layers
            if layer.entry.name in by_layer
        )
        # Every unit page that shows it, compactly: per layer, per band, unit links.
        groups: dict[tuple[str, str], list[UnitLink]] = {}
        for layer, unit, band, _peak in shown_by.get(sample, ()):
            row = rows_by_layer.get(layer, {}).get(unit)
            groups.setdefault((layer, band), []).append(
                UnitLink(
                    href=unit_href(slug.get(layer, layer), unit, ROOT),
                    text=f"#{unit}",
                    dim=row is None or not row.interpretable,
                )
            )
        order = {layer.entry.name: i for i, layer in enumerate(site.report.layers)}
        shown = tuple(
            ShownIn(esc(layer), esc(band), tuple(sorted(links, key=lambda x: int(x.text[1:]))))
            for (layer, band), links in sorted(
                groups.items(), key=lambda kv: (order.get(kv[0][0], 0), band_rank.get(kv[0][1], 9))
            )
        )
        yield (
            f"samples/{sample}/index.md",
            SampleView(
                title=title,
                title_yaml=yaml_str(title),
                # The lighter pair (a WebP photo, an exact PNG segmentation) when the report
                # has it; older reports: one PNG of both side by side.
                image=f"../{sample}.webp" if f"{sample}.webp" in files else f"../{sample}.png",
                segmentation=f"../{sample}-seg.png" if f"{sample}-seg.png" in files else "",
                concepts=concepts,
                layers=layers,
                shown_in=shown,
                prev=f"../{ids[i - 1]}/index.html" if i > 0 else "",
                next=f"../{ids[i + 1]}/index.html" if i + 1 < len(ids) else "",
            ),
        )

"""View model of a sample page: one drawn sample and the units that say what it contains.

Usage::

    from dissect_report.render.samplepage import sample_pages
    for path, view in sample_pages(site, samples, examples_by_layer):
        ...   # "samples/1234/index.md", SampleView

The inverse of a unit page: the image and its segmentation, the concepts in it, per layer
the units that say what it contains (:func:`rank_hits`), and the units whose pages show it as
an example. Units link here from their tiles; this page links back.

The units that fire most on a sample, by peak over threshold, are mostly broad unlabelled
ones that fire on every image: they say nothing about this one. So a layer's list puts the
labelled units whose concept is in the image first, then other labelled units, then the
unlabelled; within each, the units for which this image is most exceptional first: where
this image's peak ranks among the unit's peaks on the dissection's fixed subset of samples
(``peaks`` in stats.npz; a broad unit's peak on any one image is ordinary for it), else the
band of the unit's examples it appears in; then peak over threshold. The page says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from markupsafe import Markup

from dissect_report.render.context import (
    SHORT_REASON,
    Site,
    guard_reason,
    unit_href,
    unit_label,
)
from dissect_report.render.examples import Examples, Samples
from dissect_report.render.fmt import DASH, esc, num, pct, yaml_str
from dissect_report.reportdir.read import read_arrays
from dissect_report.reportdir.schema import UnitRow

ROOT = "../../"  # from samples/<id>/index.html back to the site root
HITS_PER_LAYER = 8
NAN = float("nan")
RANKING = (
    "Per layer, the units that say what this image contains: labelled units whose concept is "
    "in it first, then other labelled units, then unlabelled ones (dimmed, with why in a few "
    "words). Within each, the units for which this image is most exceptional come first: "
    "\u201cfor the unit\u201d is where its peak on this image ranks among its peaks on all "
    "the images its examples are drawn from (top 1% = stronger than on 99% of them; "
    "\u201cits strongest\u201d = no other of those images made it fire more); where those "
    "peaks are unknown it names the band of the unit's examples the image appears in "
    "(\u201ctop band\u201d: among its strongest examples). Peak / threshold is the image's peak "
    "activation over the unit's threshold (above 1\u00d7: the unit is on in part of the image). "
    "Ranking by activation alone would put broad units first: they fire on most images, so "
    "their strongest is ordinary for them and says little about this one."
)


@dataclass(frozen=True)
class UnitHit:
    href: str
    unit: str
    label: Markup
    peak: str
    ratio: str
    dim: bool
    band: str = ""  # where this image falls among the unit's examples ("top", "95-99%")


@dataclass(frozen=True)
class Candidate:
    """A unit that may say what a sample contains, with what :func:`rank_hits` sorts by."""

    layer: str
    unit: int
    peak: float
    ratio: float  # nan when unknown
    labelled: bool
    in_image: bool  # its concept is in the sample's segmentation
    band: int  # rank of the sample's band among the unit's examples (0 = top); large: none
    band_label: str = ""
    rank: float = float("nan")  # share of the unit's sampled peaks below this one (nan: unknown)


def rank_hits(candidates: list[Candidate], n: int = HITS_PER_LAYER) -> list[Candidate]:
    """The ``n`` units of one layer that best say what a sample contains (module docstring).

    Usage::

        rank_hits([Candidate("layer3", 7, 2.1, 9.0, True, True, 0, "top"), ...])
    """
    best: dict[int, Candidate] = {}
    for c in candidates:  # one entry per unit: its strongest band, its known ratio
        old = best.get(c.unit)
        if old is None or (c.band, -_num(c.ratio)) < (old.band, -_num(old.ratio)):
            best[c.unit] = c

    def key(c: Candidate) -> tuple[int, float, int, float, int]:
        group = 0 if c.labelled and c.in_image else 1 if c.labelled else 2
        return (group, -_num(c.rank), c.band, -_num(c.ratio), c.unit)

    return sorted(best.values(), key=key)[:n]


def _num(x: float) -> float:
    return x if x == x else float("-inf")


def peak_ranks(layer_dir: Path) -> tuple[dict[int, int], np.ndarray, np.ndarray] | None:
    """``({sample: column}, ranks, peaks)`` (both ``(units, samples)``) from the layer's
    stats.npz: a rank is the share of that unit's sampled peaks below its peak on that
    sample; None when the report has no sampled peaks.

    Usage::

        columns, ranks, peaks = peak_ranks(report / "layers" / "layer3")
        ranks[7, columns[12]]   # 0.99: unit 7 fires more on sample 12 than on 99% of them
    """
    path = layer_dir / "stats.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as npz:
        if "peaks" not in npz.files or "peak_ids" not in npz.files:
            return None
    arrays = read_arrays(path, ("peaks", "peak_ids"))
    peaks = np.asarray(arrays["peaks"], np.float64)
    all_ids = np.asarray(arrays["peak_ids"], np.int64)
    if peaks.ndim != 2 or peaks.shape[1] != len(all_ids):
        return None
    # Fewer samples than the subset's size leave pad columns (the largest id, no peaks).
    keep = (all_ids != np.iinfo(np.int64).max) & np.isfinite(peaks).all(axis=0)
    peaks, ids = peaks[:, keep], [int(i) for i in all_ids[keep]]
    if not ids:
        return None
    order = np.sort(peaks, axis=1)
    ranks = np.stack([np.searchsorted(order[u], peaks[u], "left") for u in range(len(peaks))])
    return {s: j for j, s in enumerate(ids)}, ranks / max(len(ids) - 1, 1), peaks


def for_unit(rank: float, band: str = "") -> str:
    """The "for the unit" cell: where the image's peak ranks among the unit's sampled peaks
    (``for_unit(1.0)`` -> "its strongest", ``for_unit(0.97)`` -> "top 3%"), else the band of
    its examples the image is in (``for_unit(nan, "top")`` -> "top band"), else ""."""
    if rank == rank:
        return "its strongest" if rank >= 1 else f"top {pct(1 - rank)}"
    return f"{band} band" if band else ""


def peak_ratio(peak: float, threshold: float) -> float:
    """The image's peak over the unit's threshold; NaN where the unit has no usable threshold
    (``peak_ratio(2.0, 0.5)`` -> 4.0)."""
    return peak / threshold if threshold == threshold and threshold > 0 else NAN


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
    ranking: str = RANKING  # how the units of each layer are ordered, said on the page


@dataclass(frozen=True)
class _Lookup:
    """What the sample pages look units up in: rows, slugs, band order, sampled peak ranks."""

    site: Site
    rows: dict[str, dict[int, UnitRow]]
    slug: dict[str, str]
    band_rank: dict[str, int]
    ranks: dict[str, tuple[dict[int, int], np.ndarray, np.ndarray] | None]

    @classmethod
    def of(cls, site: Site, examples: dict[str, Examples | None]) -> _Lookup:
        band_rank: dict[str, int] = {}
        for ex in examples.values():
            if ex is not None:
                for i, b in enumerate(ex.bands):
                    band_rank.setdefault(b.label, i)
        layers = site.report.layers
        return cls(
            site,
            {layer.entry.name: {r.unit: r for r in layer.units} for layer in layers},
            {layer.entry.name: layer.entry.slug for layer in layers},
            band_rank,
            {layer.entry.name: peak_ranks(layer.dir) for layer in layers},
        )

    def hit(self, c: Candidate) -> UnitHit:
        """A ranked unit as the page lists it."""
        site = self.site
        row = self.rows.get(c.layer, {}).get(c.unit)
        label = (
            unit_label(
                row, site.floor, SHORT_REASON[guard_reason(site.layer_by_name[c.layer], row)]
            )
            if row is not None
            else ""
        )
        return UnitHit(
            href=unit_href(self.slug.get(c.layer, c.layer), c.unit, ROOT),
            unit=f"{c.layer} #{c.unit}",
            label=esc(label),
            peak=num(c.peak),
            ratio=f"{num(c.ratio)}\u00d7" if c.ratio == c.ratio else DASH,
            dim=row is None or not row.interpretable,
            band=for_unit(c.rank, c.band_label),
        )

    def candidate(
        self,
        layer: str,
        unit: int,
        peak: float,
        ratio: float,
        present: set[str],
        band: str = "",
        sample: int = -1,
    ) -> Candidate:
        """A unit that fired on ``sample``, with what :func:`rank_hits` sorts it by."""
        row = self.rows.get(layer, {}).get(unit)
        labelled = row is not None and bool(row.interpretable)
        known = self.ranks.get(layer)
        column = known[0].get(sample) if known is not None else None
        return Candidate(
            layer,
            unit,
            peak,
            ratio,
            labelled,
            labelled and row is not None and row.concept in present,
            self.band_rank.get(band, 99) if band else 99,
            band,
            float(known[1][unit, column]) if known is not None and column is not None else NAN,
        )

    def candidates(
        self,
        samples: Samples,
        sample: int,
        shown: list[tuple[str, int, str, float]],
    ) -> dict[str, list[Candidate]]:
        """Per layer: the sample's top units, the units whose pages show it, and every unit
        where the sampled peaks say how it ranks."""
        candidate = self.candidate
        present = set(samples.concepts.get(sample, ()))
        by_layer: dict[str, list[Candidate]] = {}
        ratios: dict[tuple[str, int], float] = {}
        for t in samples.top_units.get(sample, ()):
            ratios[(t.layer, t.unit)] = t.ratio
            by_layer.setdefault(t.layer, []).append(
                candidate(t.layer, t.unit, t.peak, t.ratio, present, "", sample)
            )
        for lname, unit, band, peak in shown:
            ratio = ratios.get((lname, unit), NAN)
            shown_row = self.rows.get(lname, {}).get(unit)
            if ratio != ratio and shown_row is not None:  # not among its top units: compute it
                ratio = peak_ratio(peak, shown_row.threshold)
            by_layer.setdefault(lname, []).append(
                candidate(lname, unit, peak, ratio, present, band, sample)
            )
        for layer in self.site.report.layers:  # every unit, where the peaks say how it ranks
            name, known = layer.entry.name, self.ranks.get(layer.entry.name)
            column = known[0].get(sample) if known is not None else None
            if known is None or column is None:
                continue
            for row in layer.units:
                if row.unit < known[1].shape[0]:
                    peak = float(known[2][row.unit, column])
                    ratio = peak_ratio(peak, row.threshold)
                    by_layer.setdefault(name, []).append(
                        candidate(name, row.unit, peak, ratio, present, "", sample)
                    )
        return by_layer

    def shown_in(self, shown: list[tuple[str, int, str, float]]) -> tuple[ShownIn, ...]:
        """Every unit page that shows the sample, compactly: per layer, per band, unit links."""
        groups: dict[tuple[str, str], list[UnitLink]] = {}
        for name, unit, band, _peak in shown:
            shown_row = self.rows.get(name, {}).get(unit)
            groups.setdefault((name, band), []).append(
                UnitLink(
                    href=unit_href(self.slug.get(name, name), unit, ROOT),
                    text=f"#{unit}",
                    dim=shown_row is None or not shown_row.interpretable,
                )
            )
        band_rank = self.band_rank
        order = {layer.entry.name: i for i, layer in enumerate(self.site.report.layers)}
        return tuple(
            ShownIn(esc(name), esc(band), tuple(sorted(links, key=lambda x: int(x.text[1:]))))
            for (name, band), links in sorted(
                groups.items(), key=lambda kv: (order.get(kv[0][0], 0), band_rank.get(kv[0][1], 9))
            )
        )


def _shown_by(
    site: Site, examples: dict[str, Examples | None], keep_bands: frozenset[str] | None
) -> dict[int, list[tuple[str, int, str, float]]]:
    """``sample -> [(layer, unit, band label, peak)]``: the unit pages that show each sample."""
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
    return shown_by


def _concept_areas(site: Site, samples: Samples, sample: int) -> tuple[ConceptArea, ...]:
    """The concepts present in ``sample``, largest first, with their share of the image."""
    return tuple(
        ConceptArea(
            color=site.concept_color.get(name, "#9e9e9e"),
            link=site.concept_link(name, ROOT),
            area=pct(area),
        )
        for name, area in zip(
            samples.concepts.get(sample, ()), samples.areas.get(sample, ()), strict=False
        )
    )


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
    look = _Lookup.of(site, examples)
    shown_by = _shown_by(site, examples, keep_bands)
    ids = sorted(samples.ids)
    if keep_bands is not None:
        ids = [i for i in ids if i in shown_by]
    if paged is not None:
        ids = [i for i in ids if i in paged]
    folder = site.report.root / "samples"
    files = frozenset(os.listdir(folder)) if folder.is_dir() else frozenset()
    for i, sample in enumerate(ids):
        title = esc(f"Sample {sample}")
        by_layer = look.candidates(samples, sample, shown_by.get(sample, []))
        layers = tuple(
            LayerHits(
                esc(layer.entry.name),
                tuple(look.hit(c) for c in rank_hits(by_layer[layer.entry.name])),
            )
            for layer in site.report.layers
            if layer.entry.name in by_layer
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
                concepts=_concept_areas(site, samples, sample),
                layers=layers,
                shown_in=look.shown_in(shown_by.get(sample, [])),
                prev=f"../{ids[i - 1]}/index.html" if i > 0 else "",
                next=f"../{ids[i + 1]}/index.html" if i + 1 < len(ids) else "",
            ),
        )

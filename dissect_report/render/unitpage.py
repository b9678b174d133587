"""View model of a unit page: the evidence for (or against) a unit's label.

Usage::

    from dissect_report.render.unitpage import unit_pages
    for path, view in unit_pages(site, layer, interventions, artifacts, examples, samples):
        ...   # "layers/layer2/units/7/index.md", UnitView

A unit page shows its examples from several activation bands (each tile with its sample id
and peak activation, linked to the sample's page), a colour key, the activation histogram
with the threshold and the resolved range, the concepts ranked by IoU, and, kept apart, the
concept-level intervention results it takes part in and its own measured ablation effect.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from dissect_report.bandfiles import band_names
from dissect_report.render.budget import Budget
from dissect_report.render.context import (
    Link,
    Row,
    Site,
    guard_reason,
    refused_note,
    unit_label,
)
from dissect_report.render.examples import Examples, Samples
from dissect_report.render.fmt import DASH, esc, fixed, num, pct, versus, yaml_str
from dissect_report.render.sections import Artifacts, Interventions, gain_text
from dissect_report.render.svg import histogram_svg, position_svg
from dissect_report.reportdir.read import read_json
from dissect_report.reportdir.records import LayerData
from dissect_report.reportdir.schema import UnitRow

UNIT_ROOT = "../../../../"  # from layers/<l>/units/<n>/index.html back to the site root
ZOOM = 2.5  # tiles shown at 2.5x their native size where the screen allows


@dataclass(frozen=True)
class TopConcept:
    concept: Markup
    iou: str
    iqr: str
    width: str


@dataclass(frozen=True)
class Extra:
    """A block of results about one unit from another stage (interventions, artifacts)."""

    heading: str
    note: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Tile:
    href: str
    sample: str
    peak: str


@dataclass(frozen=True)
class BandView:
    label: str
    note: str
    tiles: tuple[Tile | None, ...]
    aspect: str  # CSS aspect-ratio of the band's crop of the unit's grid
    offset: str  # CSS margin-top (percent of width) that brings the band into the crop
    images: str = ""  # per-band files (bandfiles.py): the images' WebP at display size ...
    masks: str = ""  # ... and the segmentation + mask rows' exact PNG
    full_images: str = ""  # the zoom's full-size pair (the same files when tiles are small)
    full_masks: str = ""
    images_size: tuple[int, int] = (0, 0)
    masks_size: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class KeyEntry:
    color: str
    label: Markup


@dataclass(frozen=True)
class UnitView:
    title: Markup
    title_yaml: Markup
    search_yaml: Markup  # the search entry's text: what finds this page (search_text)
    search_title_yaml: Markup  # its title: the page's, with a labelled unit's IoU added
    verdict: Markup
    layer: Link
    home: str
    glossary: str
    prev: str
    next: str
    facts: tuple[Row, ...]
    grid: str
    grid_size: tuple[int, int]
    max_width: str
    per_band: int
    row_labels: tuple[str, ...]
    bands: tuple[BandView, ...]
    key: tuple[KeyEntry, ...]
    mask_key: tuple[KeyEntry, ...]
    top: tuple[TopConcept, ...]
    histogram: Markup
    extras: tuple[Extra, ...]
    budget_note: str = ""  # what a site size budget left out of this page
    missing_note: str = ""  # bands too few samples leave empty, and the samples they need
    paint: str = ""  # the Paint page with this unit as the brush, when Paint has its layer
    position: Markup = Markup("")  # the mean mask heat map (empty without position.npz)
    position_rows: tuple[Row, ...] = ()
    position_note: Markup = Markup("")


ROW_LABELS = {
    "image": "image, unit region outlined",
    "segmentation": "segmentation",
    "mask": "unit vs concept mask",
}


def layer_histograms(layer: LayerData) -> list[Markup]:
    """The activation histogram of every unit of ``layer`` (empty when stats.npz is absent)."""
    if layer.edges is None or layer.unit_hist is None:
        return [Markup("")] * len(layer.units)
    return [
        histogram_svg(layer.edges[i], layer.unit_hist[i], row.threshold)
        for i, row in enumerate(layer.units)
    ]


def find_layer(site: Site, name: str) -> LayerData | None:
    if name in site.layer_by_name:
        return site.layer_by_name[name]
    return next((lyr for lyr in site.report.layers if lyr.entry.slug == name), None)


def unit_extras(
    site: Site, layer: LayerData, iv: Interventions | None, art: Artifacts | None
) -> dict[int, tuple[Extra, ...]]:
    """Intervention and artifact results per unit of ``layer`` (only where they exist)."""
    out: dict[int, list[Extra]] = {}
    if iv is not None and find_layer(site, iv.layer) is layer:
        for unit, e in iv.unit_effects.items():
            rows: tuple[Row, ...] = (
                Row("concept (its label)", site.concept_link(e.concept, UNIT_ROOT)),
                Row(f"share of {esc(e.concept)} removed, net", pct(e.share)),
                Row(f"share of its {esc(e.concept)} pixels erased", pct(e.erased)),
                Row("ACE (drop in its pixel fraction)", num(e.ace)),
                Row("held-out samples", str(e.samples)),
            )
            note = "Measured on this unit alone, switched off everywhere on held-out samples."
            out.setdefault(unit, []).append(Extra("Its own ablation effect", note, rows))
        for c in iv.concepts:
            n = len(c.top_units)
            for unit in c.top_units:
                iou, iou_rank = c.unit_ious.get(unit, (float("nan"), 0))
                rows = (
                    Row("concept", site.concept_link(c.concept, UNIT_ROOT)),
                    Row(
                        f"this unit's IoU for {esc(c.concept)} (at its own threshold for it)",
                        fixed(iou, 3),
                    ),
                    Row(
                        "its rank by that IoU among the layer's units (the order ablated)",
                        f"{iou_rank} of {len(layer.units)}" if iou_rank else DASH,
                    ),
                    Row(f"concept-level: ACE of ablating the top {n} together", num(c.ace)),
                    Row("concept-level: share of the concept removed (net)", pct(c.share)),
                )
                note = (
                    "The ACE belongs to the set of top units ablated together, not to this "
                    "unit alone."
                )
                out.setdefault(unit, []).append(Extra("Intervention", note, rows))
    if art is not None and find_layer(site, art.layer) is layer:
        for u in art.units:
            rows = (
                Row(
                    f"this unit alone ablated: {esc(art.doc.metric or 'quality metric')} gain",
                    gain_text(u) or "not screened",
                ),
                Row("artifact rank", f"{u.rank} (1 = worst)"),
                Row("artifact score", num(u.score)),
                Row("FSD of its top images", num(u.fsd)),
                Row("realism of its top images", num(u.realism)),
                Row("ablated in the repair set", "yes" if u.repaired else "no"),
            )
            note = "Measured on this unit alone (the causal screen)."
            out.setdefault(u.unit, []).append(Extra("Artifacts", note, rows))
    return {k: tuple(v) for k, v in out.items()}


def _band_files(
    unit: int, key: str, ex: Examples, images: frozenset[str], full_zoom: bool = True
) -> dict[str, str | tuple[int, int]]:
    """The band's own files (:mod:`dissect_report.bandfiles`), when the report has them."""
    if ex.display_factor is None:
        return {}
    small, masks = band_names(unit, key)
    if small not in images or masks not in images:
        return {}
    full = (
        band_names(unit, key, full=True) if full_zoom and ex.display_factor > 1 else (small, masks)
    )
    f = ex.display_factor
    th, tw = ex.tile[0] // f, ex.tile[1] // f
    width = ex.per_band * (tw + ex.gap) - ex.gap
    n_masks = len(ex.rows) - 1
    return {
        "images": f"../{small}",
        "masks": f"../{masks}",
        "full_images": f"../{full[0]}" if full[0] in images else f"../{small}",
        "full_masks": f"../{full[1]}" if full[1] in images else f"../{masks}",
        "images_size": (width, th),
        "masks_size": (width, n_masks * (th + ex.gap) - ex.gap),
    }


def _position(
    site: Site, layer: LayerData, index: int, row: UnitRow
) -> tuple[Markup, tuple[Row, ...], Markup]:
    """The heat map of where the unit fires, and its label against the position baseline."""
    pos = layer.position
    if pos is None or not row.concept:
        return Markup(""), (), Markup("")
    names = [c.name for c in site.report.manifest.concepts]
    if row.concept not in names or len(names) != pos.baseline_iou.shape[1]:
        return position_svg(pos.mean_mask[index]), (), Markup("")
    base = float(pos.baseline_iou[index, names.index(row.concept)])
    need = pos.lift * base
    iou_text, need_text = versus(row.iou, need)
    rows: tuple[Row, ...] = (
        Row(
            f"IoU with {esc(row.concept)} of a fixed mask at its mean position",
            need_text if pos.lift == 1 else fixed(base, 3),
        ),
        Row(f"its own IoU with {esc(row.concept)}", iou_text),
    )
    if pos.lift != 1:
        rows += (Row(f"a label must beat {num(pos.lift)}x the fixed mask's", need_text),)
    explained = row.iou <= need
    note = Markup(
        "Where the unit's mask falls, as the share of the first {} samples it covers each part "
        "of the image. The fixed mask is its most-covered pixels, as many as its own mask holds, "
        "placed on every sample: what position alone explains. {}"
    ).format(
        pos.samples,
        Markup("<b>Its IoU is within reach of position alone, so it is not labelled.</b>")
        if explained
        else Markup("It beats position alone."),
    )
    return position_svg(pos.mean_mask[index]), rows, note


def _missing_bands(unit: int, ex: Examples | None, site: Site) -> str:
    """ "No 99–99.9% band: at 200 samples it holds no sample beyond the top ones (it needs
    at least 550)" for each band of ``ex`` the run's sample count leaves empty for ``unit``."""
    if ex is None:
        return ""
    count = int(site.report.manifest.samples.get("count", 0) or 0)
    shown = {s.band for s in ex.by_unit.get(unit, ())}
    gone = [b for b in ex.bands if b.key not in shown and count and count < b.needs]
    return " ".join(
        f"No {b.label} band: at {count} samples it holds no sample beyond the higher bands' "
        f"(it needs at least {b.needs}: dissect with --samples {b.needs})."
        for b in gone
    )


def _bands(
    unit: int,
    ex: Examples | None,
    samples_root: str,
    images: frozenset[str] = frozenset(),
    keep: frozenset[str] | None = None,
    full_zoom: bool = True,
    paged: frozenset[int] | None = None,
) -> tuple[BandView, ...]:
    """The unit's bands; ``keep``: the band keys a size budget leaves on the page; ``paged``:
    the samples with a page (None: all), the others' tiles are not linked."""
    if ex is None:
        return ()
    shown = ex.by_unit.get(unit, ())
    th, tw = ex.tile
    width = ex.per_band * (tw + ex.gap) - ex.gap
    rows = len(ex.rows)
    band_h = rows * (th + ex.gap) - ex.gap
    out = []
    for b, band in enumerate(ex.bands):
        mine = {s.slot: s for s in shown if s.band == band.key}
        if not mine or (keep is not None and band.key not in keep):
            continue
        tiles: list[Tile | None] = [None] * ex.per_band
        for slot, s in mine.items():
            if 0 <= slot < ex.per_band:
                linked = samples_root and (paged is None or s.sample in paged)
                href = f"{samples_root}{s.sample}/index.html" if linked else ""
                tiles[slot] = Tile(href, f"#{s.sample}", num(s.peak))
        peaks = [s.peak for s in mine.values()]
        note = (
            f"peak {num(max(peaks))}"
            if len(peaks) == 1
            else (f"peaks {num(max(peaks))} to {num(min(peaks))}")
        )
        y0 = b * rows * (th + ex.gap)
        out.append(
            BandView(
                label=band.label,
                note=note,
                tiles=tuple(tiles),
                aspect=f"{width} / {band_h}",
                offset=f"{-100 * y0 / width:.4f}%",
                # The zoom's full size for the top band only: at 256 px the full-size files of
                # every band would double a unit's bytes (bench/bench_site_size.py).
                **_band_files(unit, band.key, ex, images, full_zoom and b == 0),  # type: ignore[arg-type]
            )
        )
    return tuple(out)


def _key(
    site: Site, unit: int, ex: Examples | None, samples: Samples | None
) -> tuple[KeyEntry, ...]:
    """Concepts present in the unit's example segmentations, largest area first."""
    if ex is None or samples is None:
        return ()
    area: dict[str, float] = {}
    for s in ex.by_unit.get(unit, ()):
        for name, a in zip(
            samples.concepts.get(s.sample, ()), samples.areas.get(s.sample, ()), strict=False
        ):
            area[name] = area.get(name, 0.0) + a
    ordered = sorted(area, key=lambda n: (-area[n], n))
    return tuple(KeyEntry(site.concept_color.get(n, "#9e9e9e"), esc(n)) for n in ordered)


def search_text(row: UnitRow) -> str:
    """What the site's search finds a unit page by, beside its title (layer, unit number and
    label, and its IoU): its best concepts with their IoU and its top samples' ids, e.g.
    ``concepts tree 0.052, grass 0.031, sky 0.010 | top samples 12 45 78``. The label is not
    repeated: a unit page must not outrank its concept's page on the name alone."""
    concepts = ", ".join(
        f"{name} {fixed(iou, 3)}"
        for name, iou in list(zip(row.top_concepts, row.top_ious, strict=False))[:3]
    )
    top = row.top_samples[:5]
    text = f"concepts {concepts}"
    return text + (" | top samples " + " ".join(str(s) for s in top) if top else "")


def paint_layer(root: Path) -> str | None:
    """The layer the report's Paint page paints (None: no Paint page that can run)."""
    path = root / "paint" / "paint.json"
    if not path.is_file():
        return None
    meta = read_json(path)
    return str(meta["layer"]) if meta.get("available") and meta.get("layer") else None


def _verdict(site: Site, row: UnitRow, reason: str, refused: str, texts: tuple[str, str]) -> Markup:
    """One sentence: labelled (and what a guard refused for it), or why not."""
    iou_text, floor_text = texts
    floor = site.floor
    if row.interpretable and refused:
        return Markup(
            "Labelled {}: IoU {} \u2265 the floor {}, at its own threshold for {}. Its "
            "top concept, {} (IoU {}), was refused: {}; with <code>--label-fallback</code> "
            "it takes the best concept that passes every label guard."
        ).format(
            site.concept_link(row.concept, UNIT_ROOT),
            iou_text,
            floor_text,
            row.concept,
            site.concept_link(row.refused_concept, UNIT_ROOT),
            fixed(row.refused_iou, 3),
            reason,
        )
    if row.interpretable:
        return Markup("Labelled {}: IoU {} \u2265 the floor {}.").format(
            site.concept_link(row.concept, UNIT_ROOT), iou_text, floor_text
        )
    if not row.concept:
        return Markup(
            "No finite activations: the unit is NaN or infinite on every sample, so it has "
            "no region to compare with a concept; it is flagged, never labelled."
        )
    if not row.iou < floor:  # refused by a guard, not by the floor
        return Markup(
            "Unlabelled: its top concept is {} at IoU {}, at or above the floor {}, but {}.{}"
        ).format(
            site.concept_link(row.concept, UNIT_ROOT),
            iou_text,
            floor_text,
            reason,
            Markup(
                " The next concept that passes the coverage and chance guards is {} (IoU {}); "
                "<code>--label-fallback</code> labels the unit with its best concept that "
                "also beats its position baseline (not measured without it)."
            ).format(site.concept_link(row.next_concept, UNIT_ROOT), fixed(row.next_iou, 3))
            if row.next_concept
            else "",
        )
    return Markup(
        "Unlabelled: its best concept is {} at IoU {}, below the floor {} "
        "(the IoU a unit needs to count as detecting a concept)."
    ).format(site.concept_link(row.concept, UNIT_ROOT), iou_text, floor_text)


def _top_concepts(site: Site, layer: LayerData, row: UnitRow) -> tuple[TopConcept, ...]:
    """The unit's best concepts with their IoU, IQR and bar width (% of the best)."""
    best = max([v for v in row.top_ious if v == v] + [1e-9])
    return tuple(
        TopConcept(
            concept=site.concept_link(name, UNIT_ROOT),
            iou=fixed(iou, 3),
            iqr=fixed(layer.iqr.get((row.unit, name), float("nan")), 3),
            width=f"{max(0.0, 100 * iou / best):.0f}" if iou == iou else "0",
        )
        for name, iou in zip(row.top_concepts, row.top_ious, strict=False)
    )


def _facts(
    site: Site, row: UnitRow, label: str, reason: str, refused: str, iou_text: str
) -> tuple[Row, ...]:
    """The unit's fact table: label, concept (and a refused better one), IoU, IQR, threshold."""
    return (
        Row("label", esc(label)),
        Row(
            "labelled concept" if refused and row.interpretable else "top concept",
            site.concept_link(row.concept, UNIT_ROOT),
        ),
        *(
            (
                Row(
                    "refused top concept",
                    Markup("{} (IoU {}): {}").format(
                        site.concept_link(row.refused_concept, UNIT_ROOT),
                        fixed(row.refused_iou, 3),
                        reason,
                    ),
                ),
            )
            if refused and row.interpretable
            else ()
        ),
        *(
            (
                Row(
                    "next concept past coverage and chance",
                    Markup(
                        "{} (IoU {}): position not measured (<code>--label-fallback</code> checks it)"
                    ).format(
                        site.concept_link(row.next_concept, UNIT_ROOT), fixed(row.next_iou, 3)
                    ),
                ),
            )
            if row.next_concept and not row.interpretable
            else ()
        ),
        Row("IoU with it", iou_text),
        Row("IQR (information quality ratio)", fixed(row.iqr, 3)),
        Row("threshold (raw activation)", num(row.threshold, 4)),
    )


def _search_title(title: Markup, row: UnitRow) -> Markup:
    """The title the search index holds: a labelled unit's with its IoU (Lunr weighs titles
    1000x the text, so "tree 0.05" finds tree units at 0.05x before every other tree unit)."""
    return (
        title + Markup(" \u00b7 IoU {}").format(fixed(row.iou, 3)) if row.interpretable else title
    )


def _mask_key(concept: str) -> tuple[KeyEntry, ...]:
    """The colours of the mask row: the unit's region against its concept's."""
    return (
        KeyEntry("#ffd600", Markup("unit only")),
        KeyEntry("#2979ff", Markup("{} only").format(concept)),
        KeyEntry("#ffffff", Markup("both (the IoU's overlap)")),
        KeyEntry("#202020", Markup("neither")),
    )


def _grid_size(ex: Examples | None) -> tuple[int, int, int]:
    """``(per_band, width, height)`` of a unit's band grid in pixels."""
    th, tw = ex.tile if ex is not None else (64, 64)
    per_band = ex.per_band if ex is not None else 5
    gap = ex.gap if ex is not None else 2
    width = per_band * (tw + gap) - gap
    rows_n = len(ex.rows) if ex is not None else 3
    height = len(ex.bands) * rows_n * (th + gap) - gap if ex is not None else 0
    return per_band, width, height


def unit_pages(
    site: Site,
    layer: LayerData,
    iv: Interventions | None,
    art: Artifacts | None,
    ex: Examples | None,
    samples: Samples | None,
    budget: Budget | None = None,
    paged: frozenset[int] | None = None,
) -> Iterator[tuple[str, UnitView]]:
    """``(docs path, view)`` for every unit page of ``layer``.

    ``budget``: what a site size budget keeps (:mod:`.budget`; the pages say what it left out).
    """
    budget = budget or Budget()
    extras = unit_extras(site, layer, iv, art)
    paints = paint_layer(site.report.root) == layer.entry.name
    hists = layer_histograms(layer)
    units = layer.units
    floor = site.floor
    samples_root = f"{UNIT_ROOT}samples/" if samples is not None else ""
    for index, row in enumerate(units):
        reason = guard_reason(layer, row)
        label = unit_label(row, floor, reason)
        title = esc(f"{layer.entry.name} \u00b7 unit {row.unit} \u00b7 {label}")
        iou_text, floor_text = versus(row.iou, floor)
        refused = refused_note(row)
        verdict = _verdict(site, row, reason, refused, (iou_text, floor_text))
        facts = _facts(site, row, label, reason, refused, iou_text)
        where = _position(site, layer, index, row)
        grid = f"{row.unit}.png" in layer.images
        search = search_text(row)
        per_band, width, height = _grid_size(ex)
        yield (
            f"layers/{layer.entry.slug}/units/{row.unit}/index.md",
            UnitView(
                title=title,
                title_yaml=yaml_str(title),
                search_yaml=yaml_str(esc(search)),
                search_title_yaml=yaml_str(_search_title(title, row)),
                verdict=verdict,
                layer=Link("../../index.html", esc(layer.entry.name)),
                home=f"{UNIT_ROOT}index.html",
                glossary=f"{UNIT_ROOT}glossary/index.html",
                prev=f"../{units[index - 1].unit}/index.html" if index > 0 else "",
                next=f"../{units[index + 1].unit}/index.html" if index + 1 < len(units) else "",
                facts=facts,
                grid=f"../{row.unit}.png" if grid else "",
                grid_size=(width, height),
                max_width=f"{width * ZOOM:.0f}px",
                per_band=per_band,
                row_labels=tuple(ROW_LABELS.get(r, r) for r in (ex.rows if ex else ())),
                bands=tuple(
                    b
                    for b in _bands(
                        row.unit,
                        ex,
                        samples_root,
                        layer.images,
                        budget.keep_bands,
                        budget.full_zoom,
                        paged,
                    )
                    if grid or b.images
                ),
                key=_key(site, row.unit, ex, samples),
                mask_key=_mask_key(row.concept),
                top=_top_concepts(site, layer, row),
                histogram=hists[index],
                extras=extras.get(row.unit, ()),
                budget_note=budget.note(),
                missing_note=_missing_bands(row.unit, ex, site),
                paint=f"{UNIT_ROOT}paint/index.html?units={row.unit}" if paints else "",
                position=where[0],
                position_rows=where[1],
                position_note=where[2],
            ),
        )

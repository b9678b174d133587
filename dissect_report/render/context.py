"""View models: the report turned into final, escaped, formatted values for the templates.

Usage::

    from dissect_report.render.context import Site, overview
    view = overview(site, sections)     # one page's values, escaped and formatted
    # every page of the site: dissect_report.render.sitepages.iter_pages(site, ...)

Templates only loop and print; every string a template prints is either static or arrives
here already escaped (``markupsafe.Markup``), and the Jinja environment escapes the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup
from PIL import Image

from dissect_report.bandfiles import THUMB_BOX
from dissect_report.render.examples import Examples, Samples, load_examples, load_samples
from dissect_report.render.fmt import (
    DASH,
    esc,
    fixed,
    num,
    pct,
    pretty_json,
    seconds,
    versus,
    yaml_str,
)
from dissect_report.render.svg import heatmap_svg, safe_color
from dissect_report.reportdir.records import LayerData, ReportData
from dissect_report.reportdir.schema import Manifest, UnitRow


@dataclass(frozen=True)
class Link:
    href: str
    label: Markup


@dataclass(frozen=True)
class Row:
    """A label/value pair for a two-column table."""

    label: Markup | str
    value: Markup | str


@dataclass(frozen=True)
class Card:
    """A unit as a gallery card or a ranked list entry."""

    unit: int
    href: str
    strip: str
    strip_size: tuple[int, int]
    title: Markup
    concept: Markup  # the best concept (filters and sorts by it)
    label: Markup  # what the card says: the concept, or "unlabelled" below the floor
    hint: Markup  # hover text: best concept and IoU against the floor
    iou: str
    iou_sort: str
    css: str


@dataclass(frozen=True)
class Page:
    """One Markdown page to write: docs-relative path, template name and its view model."""

    path: str
    template: str
    view: Any


@dataclass
class Site:
    """Names and URLs shared by all views (slugs come from the validated manifest)."""

    report: ReportData
    floor: float = float("nan")
    concept_slug: dict[str, str] = field(default_factory=dict)
    concept_color: dict[str, str] = field(default_factory=dict)
    layer_by_name: dict[str, LayerData] = field(default_factory=dict)
    strip_size: dict[str, tuple[int, int]] = field(default_factory=dict)  # layer slug -> w, h
    examples: dict[str, Examples | None] = field(default_factory=dict)  # by layer name
    samples: Samples | None = None

    def unreachable(self, concept: str) -> Markup:
        """Why no unit can be labelled ``concept`` at this run's policy, and the flag that lifts
        it (empty when the floor is within reach: always under ``iqr`` and ``max-iou``)."""
        for layer in self.report.layers:
            for entry in layer.entry.unreachable_concepts:
                if entry.get("concept") != concept:
                    continue
                level = self.report.manifest.threshold.get("level", float("nan"))
                share, best = float(entry["share"]), float(entry["best_iou"])
                best_text, floor_text = versus(best, self.floor)
                return Markup(
                    "{} covers {} of the pixels, and at <code>--policy quantile --level {}</code> "
                    "a unit's mask holds {} of them, so its IoU with {} can reach at most {}, "
                    "below the floor {}. <code>--policy iqr</code> (GAN Dissection's per-concept "
                    "threshold, the default) lifts this."
                ).format(
                    concept,
                    pct(share),
                    num(level),
                    pct(1 - float(level)),
                    concept,
                    best_text,
                    floor_text,
                )
        return Markup("")

    def __post_init__(self) -> None:
        try:
            self.floor = float(self.report.manifest.threshold.get("iou_floor", "nan"))
        except (TypeError, ValueError):
            self.floor = float("nan")
        for c in self.report.manifest.concepts:
            self.concept_slug[c.name] = c.slug
            self.concept_color[c.name] = safe_color(c.color)
        for layer in self.report.layers:
            self.layer_by_name[layer.entry.name] = layer
            ex = self.examples.setdefault(layer.entry.name, load_examples(layer.dir))
            if ex is not None:
                tiles = min(5, ex.per_band)
                self.strip_size[layer.entry.slug] = (
                    tiles * (ex.tile[1] + ex.gap) - ex.gap,
                    ex.tile[0],
                )
        if self.samples is None:
            self.samples = load_samples(self.report.root)

    def concept_href(self, name: str) -> str | None:
        slug = self.concept_slug.get(name)
        return f"concepts/{slug}/index.html" if slug else None

    def concept_link(self, name: str, root: str) -> Markup:
        href = self.concept_href(name)
        if href is None:
            return esc(name)
        return Markup('<a href="{}{}">{}</a>').format(Markup(root), Markup(href), name)


DATA_SUFFIXES = (".parquet", ".csv", ".json")  # tables shipped inside the site


def data_links(folder: Path, names: tuple[str, ...], prefix: str = "") -> tuple[Link, ...]:
    """Links to the tables among ``names`` that exist in ``folder`` (shipped beside the page)."""
    return tuple(
        Link(f"{prefix}{name}", esc(f"{prefix}{name}"))
        for name in names
        if (folder / name).is_file()
    )


def unit_href(layer_slug: str, unit: int, base: str = "") -> str:
    """The address of a unit's page, from ``base`` (the site's root as seen from the page
    that links it: ``""``, ``"../"``, ``"../../"`` or another report's prefix)."""
    return f"{base}layers/{layer_slug}/units/{unit}/index.html"


STRIP_SIZE = (328, 64)  # 5 tiles of 64 px with 2 px gaps: the built-in world's strips


def _fits_card(path: Path) -> bool:
    """Whether the image at ``path`` is no larger than a gallery card (header read only)."""
    try:
        with Image.open(path) as im:
            return im.width <= THUMB_BOX[0] and im.height <= THUMB_BOX[1]
    except (OSError, ValueError):
        return False


def _thumb(layer: LayerData, unit: int, base: str) -> str:
    """The gallery image of a unit: its top band's WebP when that already fits the card (the
    same five tiles as the thumbnail: one file, not two), else its WebP thumbnail, else its
    PNG strip, else none."""
    top = f"{unit}-top.webp"
    if top in layer.images and _fits_card(layer.dir / "units" / top):
        return f"{base}{top}"
    for name in (f"{unit}-thumb.webp", f"{unit}-strip.png"):
        if name in layer.images:
            return f"{base}{name}"
    return ""


NO_FINITE = "no finite activations"


BY_POSITION = "a fixed mask where it usually fires does as well"
BY_GUARD = "its mask covers nearly every pixel or does no better than chance"
BY_COVERAGE = "its mask covers nearly every pixel"
BY_CHANCE = "it does no better than a mask of the same size placed by chance"
# units.parquet's refused_reason (dissection.labels) -> the sentence a page says
REFUSED = {"position alone": BY_POSITION, "mask too broad": BY_COVERAGE, "chance level": BY_CHANCE}
# The same reasons in a few words, for tables that repeat them on every row (sample pages:
# ~8,000 rows on the built-in world's site); the unit's own page says them in full.
SHORT_REASON = {
    BY_POSITION: "position alone explains it",
    BY_GUARD: "too broad or chance-level",
    BY_COVERAGE: "mask too broad",
    BY_CHANCE: "chance level",
}


def guard_reason(layer: LayerData, row: UnitRow) -> str:
    """Why the unit's best-scoring concept, at or above the IoU floor, is refused: the guard
    named in units.parquet (older reports: position from the manifest, else either guard)."""
    if row.refused_reason in REFUSED:
        return REFUSED[row.refused_reason]
    return BY_POSITION if row.unit in layer.entry.flagged_units.get("position", ()) else BY_GUARD


def refused_note(row: UnitRow) -> str:
    """For a unit whose top concept a guard refused: "top concept sky 0.779 refused: position
    alone explains it", then "; labelled door 0.391 instead" (``--label-fallback``) or "; next
    concept that passes coverage and chance: door IoU 0.391 (--label-fallback also checks
    position)" where one does; else ""."""
    if not row.refused_concept or row.refused_concept == row.concept and row.interpretable:
        return ""
    reason = SHORT_REASON.get(REFUSED.get(row.refused_reason, BY_GUARD), row.refused_reason)
    note = f"top concept {row.refused_concept} {fixed(row.refused_iou, 3)} refused: {reason}"
    if row.interpretable:
        return f"{note}; labelled {row.concept} {fixed(row.iou, 3)} instead"
    return f"{note}{next_note(row)}"


def next_note(row: UnitRow) -> str:
    """ "; next concept that passes coverage and chance: door IoU 0.391 (--label-fallback also
    checks position)" for an
    unlabelled unit whose top concept a guard refused and another passes; else ""."""
    if row.interpretable or not row.next_concept:
        return ""
    return (
        f"; next concept that passes coverage and chance: {row.next_concept} IoU "
        f"{fixed(row.next_iou, 3)} (--label-fallback also checks position)"
    )


def unit_label(row: UnitRow, floor: float, reason: str = BY_GUARD) -> str:
    """The unit's label: its concept, or "unlabelled (best: sky, IoU 0.024 < 0.04)"; at or
    above the floor, the guard that refused it (``reason``), never "0.512 < 0.04"."""
    if not row.concept:  # flagged: NaN or infinite on every sample (dissection.caveats)
        return NO_FINITE
    if row.interpretable:
        return row.concept
    iou, bound = versus(row.iou, floor)
    if not row.iou < floor:
        return f"unlabelled (best: {row.concept}, IoU {iou}: {reason})"
    return f"unlabelled (best: {row.concept}, IoU {iou} < {bound})"


def card(
    layer: LayerData,
    row: UnitRow,
    root: str | None,
    with_layer: bool = False,
    floor: float = float("nan"),
    size: tuple[int, int] | None = None,
) -> Card:
    """A card for ``row``; ``root`` leads to the site root, None means the layer's own page."""
    base = "units/" if root is None else f"{root}layers/{layer.entry.slug}/units/"
    title = f"{layer.entry.name} #{row.unit}" if with_layer else f"#{row.unit}"
    iou, bound = versus(row.iou, floor)
    if refused_note(row):
        hint = refused_note(row)
    elif row.interpretable:
        hint = f"top concept {row.concept}, IoU {iou} \u2265 {bound}"
    elif row.iou < floor:
        hint = f"top concept {row.concept}, IoU {iou} < floor {bound}"
    else:
        hint = f"top concept {row.concept}, IoU {iou} \u2265 {bound}, unlabelled: "
        hint += guard_reason(layer, row)
    if not row.concept:
        hint = f"{NO_FINITE}: NaN or infinite on every sample"
    return Card(
        unit=row.unit,
        href=f"{base}{row.unit}/index.html",
        strip=_thumb(layer, row.unit, base),
        strip_size=size or STRIP_SIZE,
        title=esc(title),
        concept=esc(row.concept),
        label=esc(row.concept if row.interpretable else "unlabelled" if row.concept else NO_FINITE),
        hint=esc(hint),
        iou=fixed(row.iou, 3),
        iou_sort=f"{row.iou:.6f}" if np.isfinite(row.iou) else "-1",
        css="dr-card" if row.interpretable else "dr-card dr-dim",
    )


# --- overview --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSummary:
    link: Link
    shape: str
    units: str
    interpretable: str
    covered: str


@dataclass(frozen=True)
class ConceptSummary:
    link: Link
    color: str
    total: str
    best: tuple[Card, ...]


@dataclass(frozen=True)
class OverviewView:
    title: Markup
    title_yaml: Markup
    model: tuple[Row, ...]
    run: tuple[Row, ...]
    layers: tuple[LayerSummary, ...]
    heatmap: Markup
    heatmap_empty: bool  # no unit is labelled: a sentence instead of an empty chart
    concepts: tuple[ConceptSummary, ...]
    sections: tuple[Link, ...]
    model_name: Markup
    summary: Markup
    no_units: tuple[Link, ...]
    unreachable: tuple[Markup, ...] = ()  # concepts the floor rules out at the policy, and why


def interpretable_counts(site: Site) -> np.ndarray:
    """(concepts, layers) counts of interpretable units whose best concept is the row's."""
    names = [c.name for c in site.report.manifest.concepts]
    index = {n: i for i, n in enumerate(names)}
    counts = np.zeros((len(names), len(site.report.layers)), np.int64)
    for j, layer in enumerate(site.report.layers):
        for row in layer.units:
            if row.interpretable and row.concept in index:
                counts[index[row.concept], j] += 1
    return counts


def _run_rows(m: Any) -> list[Row]:
    rows = [
        Row("samples", esc(m.samples.get("count", DASH))),
        Row("seed", esc(m.samples.get("seed", DASH))),
        Row("top-k per unit", esc(m.samples.get("top_k", DASH))),
        Row(
            "threshold policy",
            esc(f"{m.threshold.get('policy', DASH)} (level {m.threshold.get('level', DASH)})"),
        ),
        Row("interpretable if IoU \u2265", esc(m.threshold.get("iou_floor", DASH))),
        Row("created", esc(m.created or DASH)),
    ]
    rows += [Row(f"time: {esc(k)}", seconds(v)) for k, v in m.timings.items()]
    return rows


def model_check_text(check: Any) -> str:
    """The manifest's ``model_check`` in words: passed, or skipped by the user's opt-out."""
    if not isinstance(check, dict):
        return "not recorded (a report made before the model check)"
    if not check.get("performed"):
        return (
            "SKIPPED (--no-model-check): the findings may depend on batch size, shards or "
            "resume; the user accepted that risk"
        )
    samples = len(check.get("samples") or [])
    verdict = "passed" if check.get("passed") else "FAILED"
    return f"{verdict} ({samples} samples alone and in batches, tolerance {check.get('tolerance')})"


def _model_rows(m: Manifest, model_name: str) -> tuple[Row, ...]:
    """The overview's model table: generator, weights, latent, model check, segmenter."""
    return (
        Row("model", esc(model_name)),
        Row("factory", esc(m.model.get("factory", DASH))),
        Row("weights", esc(m.model.get("weights") or DASH)),
        Row(
            "weights sha256",
            Markup("<code>{}</code>").format(m.model.get("weights_sha256") or DASH),
        ),
        Row("latent size", esc(m.model.get("z_dim", DASH))),
        *(
            [Row("latent shape", esc(" \u00d7 ".join(map(str, m.model["latent_shape"]))))]
            if m.model.get("latent_shape")
            else []
        ),
        *(
            [Row("seeded noise", esc("yes (--seeded-noise)"))]
            if m.model.get("seeded_noise")
            else []
        ),
        Row("model check", esc(model_check_text(getattr(m, "model_check", None)))),
        Row("segmenter", esc(m.segmenter.get("name", DASH))),
        Row("concepts", esc(len(m.concepts))),
    )


def _layer_summary(layer: LayerData) -> LayerSummary:
    """A layer's line on the overview: its shape, units and how many are labelled."""
    e = layer.entry
    n_int = sum(r.interpretable for r in layer.units)
    n = len(layer.units)
    return LayerSummary(
        link=Link(f"layers/{e.slug}/index.html", esc(e.name)),
        shape=esc(" \u00d7 ".join(map(str, e.shape))),
        units=str(n),
        interpretable=f"{n_int} ({pct(n_int / n) if n else DASH})",
        covered=str(len({r.concept for r in layer.units if r.interpretable})),
    )


def overview(site: Site, sections: tuple[Link, ...]) -> OverviewView:
    m = site.report.manifest
    model_name = str(m.model.get("name", "model"))
    title = esc(f"{model_name}: dissection")
    counts = interpretable_counts(site)
    concepts = [(c.name, site.concept_color[c.name]) for c in m.concepts]
    order = [i for i in np.argsort(-counts.sum(axis=1), kind="stable") if counts[i].sum() > 0]
    heat = heatmap_svg(
        [concepts[i] for i in order],
        [layer.entry.name for layer in site.report.layers],
        counts[order] if order else counts[:0],
    )
    summaries = []
    for i in order[:12]:
        name = concepts[i][0]
        best = sorted(
            (
                (row.iou, layer, row)
                for layer in site.report.layers
                for row in layer.units
                if row.interpretable and row.concept == name
            ),
            key=lambda t: -t[0],
        )[:4]
        summaries.append(
            ConceptSummary(
                link=Link(site.concept_href(name) or "", esc(name)),
                color=concepts[i][1],
                total=str(int(counts[i].sum())),
                best=tuple(
                    card(layer, row, "", True, site.floor, site.strip_size.get(layer.entry.slug))
                    for _, layer, row in best
                ),
            )
        )
    no_units = tuple(
        Link(site.concept_href(c.name) or "", esc(c.name))
        for i, c in enumerate(m.concepts)
        if counts[i].sum() == 0
    )
    unreachable = tuple(note for note in (site.unreachable(c.name) for c in m.concepts) if note)
    total = sum(len(layer.units) for layer in site.report.layers)
    labelled = int(counts.sum())
    summary = Markup(
        "{} units in {} layers; {} labelled with one of {} concepts ({} have a unit)."
    ).format(
        total, len(site.report.layers), labelled, len(m.concepts), len(m.concepts) - len(no_units)
    )
    return OverviewView(
        model_name=esc(model_name),
        summary=summary,
        no_units=no_units,
        unreachable=unreachable,
        title=title,
        title_yaml=yaml_str(title),
        model=_model_rows(m, model_name),
        run=tuple(_run_rows(m)),
        layers=tuple(_layer_summary(layer) for layer in site.report.layers),
        heatmap=heat,
        heatmap_empty=not order,
        concepts=tuple(summaries),
        sections=sections,
    )


# --- run page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    command: Markup
    config: Markup
    versions: tuple[Row, ...]
    nonfinite: tuple[Row, ...]
    timings: tuple[Row, ...]
    data: tuple[Link, ...]


def run_view(site: Site, renderer_versions: dict[str, str]) -> RunView:
    m = site.report.manifest
    versions = [
        Row("report schema", esc(m.schema_version)),
        Row("written by", esc(f"{m.tool.get('name', DASH)} {m.tool.get('version', '')}")),
    ]
    versions += [Row(f"rendered with {esc(k)}", esc(v)) for k, v in renderer_versions.items()]
    return RunView(
        command=esc(m.command or DASH),
        config=pretty_json(m.config),
        versions=tuple(versions),
        nonfinite=tuple(Row(esc(k), esc(v)) for k, v in m.nonfinite.items()),
        timings=tuple(Row(esc(k), seconds(v)) for k, v in m.timings.items()),
        data=data_links(site.report.root, ("manifest.json",), "../")
        + data_links(
            site.report.root / "samples", ("index.parquet", "units.parquet"), "../samples/"
        ),
    )


# --- concepts index ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConceptCountRow:
    link: Link
    color: str
    per_layer: tuple[str, ...]
    total: str


@dataclass(frozen=True)
class ConceptIndexView:
    layers: tuple[Markup, ...]
    rows: tuple[ConceptCountRow, ...]


def concept_index(site: Site) -> ConceptIndexView:
    counts = interpretable_counts(site)
    rows = []
    for i in np.argsort(-counts.sum(axis=1), kind="stable"):
        c = site.report.manifest.concepts[i]
        rows.append(
            ConceptCountRow(
                link=Link(f"{c.slug}/index.html", esc(c.name)),
                color=site.concept_color[c.name],
                per_layer=tuple(str(int(v)) for v in counts[i]),
                total=str(int(counts[i].sum())),
            )
        )
    return ConceptIndexView(
        layers=tuple(esc(layer.entry.name) for layer in site.report.layers), rows=tuple(rows)
    )

"""View models of the detail pages: layers, units, concepts, interventions, artifacts.

Usage::

    from dissect_report.render.context import Site
    from dissect_report.render.detail import layer_view
    view = layer_view(Site(report), report.layers[0])
    view.cards[0].concept          # Markup('tree')

Values arrive escaped and formatted; templates only loop and print them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from dissect_report.render.context import Card, Link, Row, Site, card, data_links, unit_href
from dissect_report.render.fmt import DASH, esc, num, pct, usual_position, yaml_str
from dissect_report.render.sections import (
    Artifacts,
    ConceptIntervention,
    Interventions,
    gain_text,
)
from dissect_report.render.unitpage import find_layer
from dissect_report.reportdir.read import read_json
from dissect_report.reportdir.records import LayerData
from dissect_report.reportdir.schema import ConceptIndexRow


@dataclass(frozen=True)
class Option:
    value: Markup
    label: Markup


@dataclass(frozen=True)
class LayerView:
    title: Markup
    title_yaml: Markup
    facts: tuple[Row, ...]
    chart: str
    options: tuple[Option, ...]
    cards: tuple[Card, ...]
    data: tuple[Link, ...]


def layer_view(site: Site, layer: LayerData) -> LayerView:
    e = layer.entry
    n_int = sum(r.interpretable for r in layer.units)
    per: dict[str, int] = {}
    for r in layer.units:
        per[r.concept] = per.get(r.concept, 0) + 1
    title = esc(f"Layer {e.name}")
    facts = (
        Row("output shape", esc(" \u00d7 ".join(map(str, e.shape)))),
        Row("units", str(len(layer.units))),
        Row("interpretable", f"{n_int} ({pct(n_int / len(layer.units)) if layer.units else DASH})"),
        Row("concepts covered", str(len({r.concept for r in layer.units if r.interpretable}))),
        *_fallback_row(layer),
    )
    options = tuple(
        Option(esc(name), esc(f"{name} ({count})"))
        for name, count in sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return LayerView(
        title=title,
        title_yaml=yaml_str(title),
        facts=facts,
        chart="concepts.svg" if (layer.dir / "concepts.svg").is_file() else "",
        data=data_links(
            layer.dir,
            ("units.csv", "units.parquet", "iou.parquet", "examples.parquet", "examples.json"),
        ),
        options=options,
        cards=tuple(
            card(layer, r, None, False, site.floor, site.strip_size.get(e.slug))
            for r in layer.units
        ),
    )


def _fallback_row(layer: LayerData) -> tuple[Row, ...]:
    """A fact row counting the units labelled with a next concept because a guard refused
    their best-scoring one, by refused -> labelled concept (--label-fallback); without it,
    the unlabelled units a next concept would label (none in older reports)."""
    moved: dict[tuple[str, str], int] = {}
    for r in layer.units:
        if r.interpretable and r.refused_concept and r.refused_concept != r.concept:
            key = (r.refused_concept, r.concept)
            moved[key] = moved.get(key, 0) + 1
    if not moved:
        waiting = sum(1 for r in layer.units if not r.interpretable and r.next_concept)
        if not waiting:
            return ()
        return (
            Row(
                "unlabelled, a next concept passes",
                esc(
                    f"{waiting} (a label guard refused their top concept and another passes "
                    "coverage and chance, named on its page; --label-fallback labels them "
                    "with the best that also beats position)"
                ),
            ),
        )
    parts = ", ".join(
        f"{n} {a} \u2192 {b}" for (a, b), n in sorted(moved.items(), key=lambda kv: -kv[1])
    )
    total = sum(moved.values())
    return (
        Row(
            "labelled with a next concept",
            esc(f"{total} (a label guard refused their best-scoring concept: {parts})"),
        ),
    )


# --- concepts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConceptLayer:
    link: Link
    summary: str
    filter_href: str
    cards: tuple[Card, ...]


@dataclass(frozen=True)
class InterventionBlock:
    facts: tuple[Row, ...]
    insertion: tuple[tuple[Markup, Markup, str, str, str], ...]
    ace_svg: str
    compare_png: str
    n_max: int
    samples: str
    inserted: str = "units"  # what the compare picture's last column inserted


@dataclass(frozen=True)
class ConceptView:
    title: Markup
    title_yaml: Markup
    color: str
    layers: tuple[ConceptLayer, ...]
    intervention: tuple[InterventionBlock, ...]
    data: tuple[Link, ...]
    labelled: int
    name: Markup
    brush: tuple[Row, ...] = ()  # its Paint brush, measured (empty without paint brushes)
    unreachable: Markup = Markup("")  # why the floor is out of reach at the policy, and the fix


def _place_rows(place: dict[str, Any] | None, name: str) -> tuple[Row, ...]:
    """The brush measured where its concept belongs (paint.json ``place``), if it was."""
    if not place:
        return ()
    precision = place.get("precision")
    others = ", ".join(f"{o} {pct(v)}" for o, v in place.get("others") or []) or DASH
    return (
        Row(
            esc(
                f"precision {usual_position(place.get('context'))}: strokes where {name} "
                "usually appears in the dissection's samples"
            ),
            (pct(precision) if precision is not None else DASH)
            + f" ({int(place.get('strokes') or 0)} held-out strokes; else {others})",
        ),
    )


def _brush_rows(site: Site, name: str) -> tuple[Row, ...]:
    """The concept's Paint brush as paint/paint.json records it (the Paint page's numbers)."""
    path = site.report.root / "paint" / "paint.json"
    if not path.is_file():
        return ()
    meta = read_json(path)
    bar = (meta.get("brushes") or {}).get("min_precision")
    entry = next((c for c in meta.get("concepts", []) if c.get("name") == name), None)
    if not meta.get("available") or entry is None or bar is None or "n" not in entry:
        return ()
    n = int(entry["n"])
    layer = str(meta.get("layer", ""))
    how = "learned causal effect" if entry.get("method") == "optimized" else "IoU"
    precision = entry.get("precision")
    where = "on the ground" if entry.get("on_ground") else "away from the ground"
    others = ", ".join(f"{o} {pct(v)}" for o, v in entry.get("others") or []) or DASH
    place = entry.get("place") or {}
    offered = (
        "yes"
        if entry.get("offered") and precision is not None and precision >= float(bar)
        else f"yes, {usual_position(place.get('context'))}"
        if entry.get("offered")
        else f"marked: below {pct(float(bar))} precision (listed apart on the Paint page)"
    )
    return (
        Row(
            f"its {n} units in {layer} (by {how}, strongest first)",
            _unit_links(site, layer, tuple(int(u) for u in entry["units"][:n]), "../../"),
        ),
        Row(
            f"precision: share of the pixels a stroke changed that became {name}",
            (pct(precision) if precision is not None else DASH)
            + f" ({int(entry.get('strokes') or 0)} held-out strokes {where})",
        ),
        Row("what the other changed pixels became", others),
        *_place_rows(entry.get("place"), name),
        Row(
            f"share of the stroke painted {name}",
            pct(entry["coverage"]) if entry.get("coverage") is not None else DASH,
        ),
        Row(
            "offered on the Paint page",
            Markup('{} &middot; <a href="../../paint/index.html">Paint</a>').format(offered),
        ),
    )


def _unit_links(site: Site, layer_name: str, units: tuple[int, ...], root: str) -> Markup:
    """Unit numbers linked to their pages (plain text when the layer is not in the report)."""
    layer = find_layer(site, layer_name)
    if not units:
        return Markup(DASH)
    if layer is None:
        return esc(", ".join(map(str, units)))
    base = f"{root}layers/{layer.entry.slug}/units/"
    return Markup(", ").join(
        Markup('<a href="{}{}/index.html">{}</a>').format(Markup(base), u, u) for u in units
    )


_SET_NAMES = {"optimized": "measured set", "iou": "IoU-top units"}


def _insertion_rows(site: Site, c: ConceptIntervention) -> tuple[Row, ...]:
    """Which set insertion forced on (units linked) and both sets' measured success."""
    units = c.insert_units or c.top_units  # older reports inserted the IoU-top units
    if c.insert_method == "iou" and not c.insert_units:  # a report before measured sets
        return (Row("insertion success (IoU-top units inserted)", pct(c.insert_success)),)
    how = (
        f"measured set: top {len(units)} by learned alpha, the best insertion success on the "
        "dissection's samples"
        if c.insert_method == "optimized"
        else f"IoU-top {len(units)}: no set by learned alpha did better on the dissection's "
        "samples (or none was learned)"
    )
    return (
        Row(esc(f"units inserted ({how})"), _unit_links(site, c.layer, units, "../../")),
        Row(
            "insertion success, held out",
            Markup("IoU-top units: {} &middot; measured set: {}").format(
                pct(c.insert_success_iou), pct(c.insert_success)
            ),
        ),
        Row(
            "concept added per site (share of the patch)",
            Markup("IoU-top units: {} &middot; measured set: {}").format(
                num(c.insert_added_iou), num(c.insert_added)
            ),
        ),
    )


def _concept_layer(site: Site, layer: LayerData, name: str) -> ConceptLayer:
    """The concept's units in one layer: labelled, below the floor, refused by a guard."""
    from urllib.parse import quote

    mine = sorted((r for r in layer.units if r.concept == name), key=lambda r: (-r.iou, r.unit))
    good = [r for r in mine if r.interpretable]
    below = sum(1 for r in mine if not r.interpretable and r.iou < site.floor)
    refused = len(mine) - len(good) - below  # at or above the floor, refused by a guard
    summary = f"{len(good)} interpretable, {below} more below the floor"
    if refused:
        summary += f", {refused} refused by a label guard (position, coverage or chance)"
    elsewhere = sum(
        1 for r in layer.units if r.interpretable and r.refused_concept == name != r.concept
    )
    if elsewhere:
        summary += (
            f"; {elsewhere} more score best on it but a guard refused it, so they are "
            "labelled with their next concept"
        )
    return ConceptLayer(
        link=Link(f"../../layers/{layer.entry.slug}/index.html", esc(layer.entry.name)),
        summary=summary,
        filter_href=f"../../layers/{layer.entry.slug}/index.html#concept=" + quote(name, safe=""),
        cards=tuple(
            card(layer, r, "../../", False, site.floor, site.strip_size.get(layer.entry.slug))
            for r in good
        ),
    )


def _intervention_block(site: Site, c: ConceptIntervention) -> InterventionBlock:
    """What the interventions measured for the concept: ACE, erased pixels, insertion."""
    facts = (
        Row("layer", esc(c.layer)),
        Row("interpretable units in the layer", str(c.units)),
        Row(
            "top units ablated (by their IoU for it)",
            _unit_links(site, c.layer, c.top_units, "../../"),
        ),
        Row("concept pixel fraction", pct(c.fraction)),
        Row(f"ACE, top {c.n_max} units", f"{num(c.ace)} ({pct(c.share)} removed, net)"),
        Row(f"its pixels erased, top {c.n_max} units", pct(c.erased)),
        Row(f"ACE, {c.n_max} random units", f"{num(c.ace_random)} ({pct(c.share_random)})"),
        Row(f"its pixels erased, {c.n_max} random units", pct(c.erased_random)),
        Row(
            f"ACE, top {c.n_max} optimized units",
            f"{num(c.ace_optimized)} ({pct(c.share_optimized)})",
        ),
        Row(
            "optimized units (alpha, IoU rank)",
            esc(", ".join(f"{u} ({a:.2f}, #{r})" for u, a, r in c.optimized_units) or DASH),
        ),
        Row(
            f"ACE, all units of {c.layer} ablated (a ceiling)",
            f"{num(c.ace_all)} ({pct(c.share_all)} of the concept"
            + (
                "; negative: zeroing the whole layer adds the concept rather than removing it)"
                if c.share_all < 0
                else ")"
            ),
        ),
        Row("insertion sites", str(c.insert_sites)),
        *_insertion_rows(site, c),
    )
    ins = tuple(
        (esc(_SET_NAMES.get(r.method, r.method)), esc(r.context), str(r.sites),
         num(r.added), pct(r.success))
        for r in c.insertion
    )  # fmt: skip
    return InterventionBlock(
        facts=facts,
        insertion=ins,
        ace_svg="ace.svg" if c.has_ace_svg else "",
        compare_png="compare.png" if c.has_compare_png else "",
        n_max=c.n_max,
        samples=", ".join(map(str, c.compare_samples)),
        inserted=(
            f"measured set ({len(c.insert_units)})"
            if c.insert_method == "optimized"
            else f"top {len(c.insert_units or c.top_units)} units"
        ),
    )


def concept_view(site: Site, name: str, iv: Interventions | None) -> ConceptView:
    groups = [_concept_layer(site, layer, name) for layer in site.report.layers]
    concepts = iv.concepts if iv is not None else ()
    blocks = [_intervention_block(site, c) for c in concepts if c.concept == name]
    title = esc(f"Concept {name}")
    slug = site.concept_slug.get(name, "")
    folder = site.report.root / "concepts" / slug
    data = data_links(
        folder,
        ("ace.json", "ace.parquet", "insertion.parquet", "optimized.parquet"),
    ) + tuple(
        Link(f"../../layers/{layer.entry.slug}/iou.parquet", esc(f"{layer.entry.name} iou.parquet"))
        for layer in site.report.layers
        if (layer.dir / "iou.parquet").is_file()
    )
    return ConceptView(
        title=title,
        title_yaml=yaml_str(title),
        color=site.concept_color.get(name, "#9e9e9e"),
        layers=tuple(groups),
        intervention=tuple(blocks),
        data=data,
        labelled=sum(len(g.cards) for g in groups),
        name=esc(name),
        brush=_brush_rows(site, name),
        unreachable=site.unreachable(name),
    )


# --- sections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InterventionsView:
    facts: tuple[Row, ...]
    rows: tuple[tuple[Markup, ...], ...]
    inserted: str  # the inserted set's column heading (where it was chosen)
    worse: bool  # a row is marked: its chosen set did worse held out than the IoU-top set


WORSE_MARK = "\u2020"  # after an inserted set's held-out success below the IoU-top set's


def _settings(settings: dict[str, Any]) -> tuple[Row, ...]:
    return tuple(Row(esc(k), esc(v)) for k, v in settings.items() if not isinstance(v, dict | list))


def inserted_heading(settings: dict[str, Any]) -> str:
    """The Interventions page's heading for the inserted set's held-out success, e.g.
    ``inserted_heading({"insert_select_ids": [40, 16]})`` -> "inserted set (chosen on 16
    selection samples)"; without learned sets the inserted set is the IoU-top one."""
    ids = settings.get("insert_select_ids")
    if isinstance(ids, list | tuple) and len(ids) == 2:
        return f"inserted set (chosen on {int(ids[1])} selection samples)"
    return "inserted set"


def insertion_cells(c: ConceptIndexRow) -> tuple[Markup, Markup, bool]:
    """The held-out insertion success of the inserted set and of the IoU-top set, e.g.
    ``insertion_cells(grass)`` -> ("18%\u2020", "50%", True): a set chosen on the selection
    samples that then did worse held out than the IoU-top set is marked, not headlined."""
    iou = c.insert_success if c.insert_method == "iou" else c.insert_success_iou
    worse = c.insert_method != "iou" and c.insert_success < iou  # False when either is NaN
    chosen = pct(c.insert_success) + (WORSE_MARK if worse else "")
    return Markup(chosen), Markup(pct(iou)), worse


def interventions_view(site: Site, iv: Interventions) -> InterventionsView:
    cells = [insertion_cells(c) for c in iv.concepts]
    rows = tuple(
        (
            site.concept_link(c.concept, "../"),
            esc(c.units),
            esc(c.n_max),
            Markup(pct(c.fraction)),
            Markup(num(c.ace)),
            Markup(pct(c.share)),
            Markup(pct(c.share_random)),
            chosen,
            iou,
        )
        for c, (chosen, iou, _) in zip(iv.concepts, cells, strict=True)
    )
    return InterventionsView(
        facts=_settings(iv.settings),
        rows=rows,
        inserted=inserted_heading(iv.settings),
        worse=any(w for _, _, w in cells),
    )


@dataclass(frozen=True)
class ArtifactRow:
    rank: str
    unit: Markup
    score: str
    fsd: str
    realism: str
    gain: str
    repaired: str
    strip: str


@dataclass(frozen=True)
class ArtifactEvidence:
    """One number measured on the held-out samples, before and after the repair set."""

    label: str
    role: str  # "quality metric (chose the set)" or "independent check"
    direction: str
    before: str
    after: str
    result: str  # "improved", "not improved", "passed", "failed"
    detail: str


@dataclass(frozen=True)
class Picture:
    src: str
    width: int
    height: int
    label: Markup


@dataclass(frozen=True)
class ArtifactsView:
    facts: tuple[Row, ...]
    scores_svg: str
    units: tuple[ArtifactRow, ...]
    status: str  # css suffix: repaired / rejected / none-confirmed / no-metric / unknown
    headline: Markup
    reason: str
    enable: str
    evidence: tuple[ArtifactEvidence, ...]
    pictures: tuple[Picture, ...]  # before, after at native scale
    metric: Markup
    greedy: tuple[tuple[Markup, str, str], ...]  # unit link, metric with it, kept
    baseline: str


def _headline(art: Artifacts, units: Markup) -> tuple[str, Markup]:
    v = art.doc.verdict
    if not v.status:  # a report from before the verdict existed
        return "unknown", Markup("Ablated units: ") + units
    text = {
        "repaired": Markup("Repaired: ablating {} {} of {} makes the images better").format(
            "unit" if len(v.units) == 1 else "units", units, art.layer
        ),
        "rejected": Markup("Not repaired: the candidate set failed the held-out check"),
        "none-confirmed": Markup("Not repaired: no unit's ablation improved the quality metric"),
        "no-metric": Markup("Not repaired: there is no quality metric"),
    }
    return v.status, text.get(v.status, esc(v.status))


def _evidence(art: Artifacts) -> tuple[ArtifactEvidence, ...]:
    out = []
    for r in art.repair:
        if r.role == "metric":
            result = (
                "improved"
                if (r.passed if r.passed is not None else r.improved)
                else ("not improved")
            )
        else:
            result = "passed" if r.passed else "failed"
        role = "quality metric (chose the set)" if r.role == "metric" else "independent check"
        out.append(
            ArtifactEvidence(
                r.label, role, r.direction, num(r.before), num(r.after), result, r.detail
            )
        )
    return tuple(out)


def artifacts_view(site: Site, art: Artifacts) -> ArtifactsView:
    layer = find_layer(site, art.layer)

    def unit_link(unit: int) -> Markup:
        if layer is None:
            return esc(f"#{unit}")
        href = unit_href(layer.entry.slug, unit, "../")
        return Markup('<a href="{}">#{}</a>').format(Markup(href), unit)

    units = tuple(
        ArtifactRow(
            rank=str(u.rank),
            unit=unit_link(u.unit),
            score=num(u.score),
            fsd=num(u.fsd),
            realism=num(u.realism),
            gain=gain_text(u, compact=True),
            repaired="yes" if u.repaired else "no",
            strip=f"units/{u.unit}.png" if u.has_strip else "",
        )
        for u in art.units
    )
    verdict = art.doc.verdict
    repaired = Markup(", ").join(unit_link(u) for u in verdict.units) or Markup(DASH)
    tried_links = Markup(", ").join(unit_link(u) for u in verdict.tried) or Markup(DASH)
    status, headline = _headline(art, repaired)
    pictures = []
    if art.before_size is not None:
        w, h = art.before_size
        pictures.append(Picture("before.png", w, h, Markup("before (unedited)")))
    if art.after_size is not None:
        w, h = art.after_size
        label = Markup("after (units {} ablated)").format(tried_links)
        pictures.append(Picture("after.png", w, h, label))
    ref = art.settings.get("reference")
    facts = _settings(art.settings)
    if isinstance(ref, dict) and ref.get("kind") == "real-images":
        text = f"{ref.get('count')} of {ref.get('found')} from {ref.get('source')}"
        facts += (
            Row(esc("real images"), esc(text)),
            Row(esc("real images sha256"), esc(ref.get("sha256"))),
        )
    return ArtifactsView(
        facts=facts,
        scores_svg="scores.svg" if art.has_scores_svg else "",
        units=units,
        status=status,
        headline=headline,
        reason=verdict.reason,
        enable=verdict.enable,
        evidence=_evidence(art),
        pictures=tuple(pictures),
        metric=esc(art.doc.metric),
        greedy=tuple(
            (unit_link(s.unit), num(s.value), "kept" if s.kept else "not kept")
            for s in art.doc.greedy
        ),
        baseline=num(art.doc.baseline),
    )

"""The site's "Compare" pages: what changed against a golden report, per layer, with the
golden and new strips of every changed unit side by side.

Usage::

    from dissect_report.compare import compare_reports
    from dissect_report.render.comparepage import compare_pages, write_compare_page
    pages = compare_pages(compare_reports(golden_dir, report_dir))
    pages.markdown   # {"compare/index.md": "# Compare ...", "compare/layers/layer3.md": ...}
    pages.strips     # {"compare/strips/golden/layer3/7.png": Path(golden_dir, ...), ...}
    write_compare_page(comparison, docs_dir)   # the same pages and strips into a docs folder

The pages need nothing else from either report: the site copies the strips they show into
``compare/strips/{golden,new}/<layer>/<n>.png``. Every model-supplied string (layer and
concept names, settings, paths) is escaped; image links are plain Markdown, so MkDocs
rewrites them for any ``use_directory_urls``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from dissect_report.compare.model import Comparison, LayerComparison
from dissect_report.compare.text import (
    describe_image,
    describe_note,
    describe_value,
    fmt,
    layer_headline,
    md,
)
from dissect_report.reportdir.atomic import write_text
from dissect_report.reportdir.read import read_rows
from dissect_report.reportdir.schema import UnitRow
from dissect_report.slug import slugify

PAGE_DIR = "compare"
MAX_CARDS = 200  # per layer page; the JSON diff lists everything


@dataclass(frozen=True)
class UnitCard:
    """One changed unit: its label in both reports, what changed, its two strips."""

    unit: int
    golden_label: str
    new_label: str
    changes: tuple[str, ...]
    golden_strip: str | None  # path relative to the layer page, None when absent
    new_strip: str | None


@dataclass(frozen=True)
class LayerView:
    name: str
    slug: str
    headline: str
    failures: int
    page: str | None  # docs-relative page path; None when nothing to show
    notes: tuple[str, ...]
    cards: tuple[UnitCard, ...]
    more_units: int  # changed units beyond MAX_CARDS
    strips: tuple[tuple[str, Path], ...]  # (docs-relative target, source) of the cards' strips


@dataclass(frozen=True)
class CompareView:
    """Everything the Compare pages print, already formatted (raw strings, escaped on output)."""

    passed: bool
    verdict: str
    golden: str
    new: str
    causes: tuple[tuple[str, str, str], ...]
    inert: tuple[str, ...]
    structure: tuple[str, ...]
    layers: tuple[LayerView, ...]
    other: tuple[str, ...]


def _labels(report: Path, slug: str) -> dict[int, str]:
    """``unit -> "tree (IoU 0.21)"`` from a layer's units table ({} when unreadable)."""
    from dissect_report.errors import ReportError

    try:
        rows = read_rows(report / "layers" / slug / "units.parquet", UnitRow)
    except ReportError:
        return {}
    return {r.unit: f"{r.concept} (IoU {fmt(r.iou)})" for r in rows}


def _unit_changes(layer: LayerComparison) -> dict[int, list[str]]:
    changes: dict[int, list[str]] = {}
    for label in layer.label_changes:
        changes.setdefault(label.unit, []).append(f"concept {label.golden} -> {label.new}")
    for value in layer.value_changes:
        if value.unit is not None:
            changes.setdefault(value.unit, []).append(describe_value(value))
    if layer.iou_matrix:
        for value in layer.iou_matrix.worst:
            if value.unit is not None:
                changes.setdefault(value.unit, []).append("iou.parquet " + describe_value(value))
    for image in layer.image_changes:
        if image.unit is not None:
            changes.setdefault(image.unit, []).append(f"{image.kind} image: {image.reason}")
    return changes


def _layer_view(c: Comparison, layer: LayerComparison) -> LayerView:
    slug = slugify(layer.slug)
    page = f"{PAGE_DIR}/layers/{slug}.md"
    notes: list[str] = []
    if layer.golden_shape != layer.new_shape and layer.status == "compared":
        notes.append(f"shape {fmt(layer.golden_shape)} -> {fmt(layer.new_shape)}")
    if layer.units_missing:
        notes.append(f"units missing in new: {fmt(layer.units_missing, 300)}")
    if layer.units_added:
        notes.append(f"units only in new: {fmt(layer.units_added, 300)}")
    m = layer.iou_matrix
    if m and m.outside:
        notes.append(
            f"iou.parquet: {m.outside} of {m.compared} (unit, concept) entries outside "
            f"tolerance, max |iou diff| {m.max_abs_delta:.3g}"
        )
    notes += [describe_image(i) for i in layer.image_changes if i.unit is None]
    notes += [describe_note(n) for n in layer.notes]
    changes = _unit_changes(layer)
    units = sorted(changes)
    cards: list[UnitCard] = []
    files: list[tuple[str, Path]] = []
    if units:
        g_labels, n_labels = _labels(c.golden, layer.slug), _labels(c.new, layer.slug)
        for unit in units[:MAX_CARDS]:
            strips: list[str | None] = []
            for role, report in (("golden", c.golden), ("new", c.new)):
                source = report / "layers" / layer.slug / "units" / f"{unit}-strip.png"
                target = f"strips/{role}/{slug}/{unit}.png"
                if not source.is_file():
                    strips.append(None)
                    continue
                files.append((f"{PAGE_DIR}/{target}", source))
                strips.append(f"../{target}")
            cards.append(
                UnitCard(
                    unit=unit,
                    golden_label=g_labels.get(unit, "not in golden"),
                    new_label=n_labels.get(unit, "not in new"),
                    changes=tuple(changes[unit]),
                    golden_strip=strips[0],
                    new_strip=strips[1],
                )
            )
    has_page = layer.status == "compared" and bool(layer.failures or layer.notes)
    return LayerView(
        name=layer.name,
        slug=slug,
        headline=layer_headline(layer),
        failures=layer.failures,
        page=page if has_page else None,
        notes=tuple(notes),
        cards=tuple(cards),
        more_units=max(len(units) - MAX_CARDS, 0),
        strips=tuple(files),
    )


def compare_view(comparison: Comparison) -> CompareView:
    """The view model of the Compare pages."""
    c = comparison
    structure = [f"concept missing in new: {x}" for x in c.concepts_missing]
    structure += [f"concept only in new: {x}" for x in c.concepts_added]
    structure += [f"file missing in new: {x}" for x in c.files_missing[:MAX_CARDS]]
    if len(c.files_missing) > MAX_CARDS:
        structure.append(f"... and {len(c.files_missing) - MAX_CARDS} more missing files")
    other = [
        f"table {t.path}: {t.problem or f'{t.outside} value(s) outside tolerance'}"
        for t in c.tables
    ]
    other += [describe_image(i) for i in c.images]
    if c.files_added:
        other.append(
            f"not compared: {len(c.files_added)} file(s) only in this report (such as the "
            "full unit grids that a thumbnails-only golden leaves out)"
        )
    return CompareView(
        passed=c.passed,
        verdict="PASS" if c.passed else f"FAIL: {c.failures} difference(s) outside tolerance",
        golden=str(c.golden),
        new=str(c.new),
        causes=tuple((s.key, fmt(s.golden), fmt(s.new)) for s in c.probable_causes),
        inert=tuple(s.key for s in c.settings if s not in c.probable_causes),
        structure=tuple(structure),
        layers=tuple(_layer_view(c, layer) for layer in c.layers),
        other=tuple(other),
    )


def _index_md(view: CompareView) -> str:
    out = [
        "# Compare with the golden report",
        "",
        f"**{md(view.verdict)}**",
        "",
        f"- golden report: {md(view.golden)}",
        f"- this report: {md(view.new)}",
        "",
    ]
    if view.causes:
        out += ["## Probable cause", "", "These settings differ between the two reports:", ""]
        out += ["| setting | golden | new |", "|---|---|---|"]
        out += [f"| {md(k)} | {md(g)} | {md(n)} |" for k, g, n in view.causes] + [""]
    if view.inert:
        out += [
            "Other settings that differ (bookkeeping, or findings within tolerance): "
            + ", ".join(md(k) for k in view.inert),
            "",
        ]
    if view.structure:
        out += ["## Structure", ""] + [f"- {md(s)}" for s in view.structure] + [""]
    out += ["## Layers", "", "| layer | result | changed units |", "|---|---|---|"]
    for layer in view.layers:
        name = md(layer.name)
        link = f"[{name}](layers/{layer.slug}.md)" if layer.page else name
        units = ", ".join(str(card.unit) for card in layer.cards[:20])
        if len(layer.cards) > 20 or layer.more_units:
            units += ", ..."
        out.append(f"| {link} | {md(layer.headline)} | {units} |")
    out.append("")
    if view.other:
        out += ["## Other", ""] + [f"- {md(s)}" for s in view.other] + [""]
    return "\n".join(out)


def _strip(path: str | None, alt: str) -> str:
    # ``path`` is built from a slug and an integer; only the alt text is model-supplied.
    return f"![{md(alt)}]({path})" if path else "*(no strip)*"


def _layer_md(layer: LayerView) -> str:
    out = [f"# Compare: layer {md(layer.name)}", "", md(layer.headline), ""]
    out += [f"- {md(note)}" for note in layer.notes] + ([""] if layer.notes else [])
    out += ["[Back to the comparison](../index.md)", ""]
    for card in layer.cards:
        out += [
            f"## Unit {card.unit}",
            "",
            "| golden | new |",
            "|---|---|",
            f"| {_strip(card.golden_strip, f'golden unit {card.unit}')} "
            f"| {_strip(card.new_strip, f'new unit {card.unit}')} |",
            f"| {md(card.golden_label)} | {md(card.new_label)} |",
            "",
        ]
        out += [f"- {md(change)}" for change in card.changes] + [""]
    if layer.more_units:
        out += [f"*... and {layer.more_units} more changed units (see the JSON diff)*", ""]
    return "\n".join(out)


@dataclass(frozen=True)
class ComparePages:
    """The Compare pages (docs-relative path -> Markdown, overview first) and their strips."""

    markdown: dict[str, str]
    strips: dict[str, Path]  # docs-relative target -> the report's file


def compare_pages(comparison: Comparison) -> ComparePages:
    """The overview page (``compare/index.md``), one page per layer with differences, and the
    strips they show."""
    view = compare_view(comparison)
    markdown = {f"{PAGE_DIR}/index.md": _index_md(view)}
    strips: dict[str, Path] = {}
    for layer in view.layers:
        if layer.page:
            markdown[layer.page] = _layer_md(layer)
        strips.update(layer.strips)
    return ComparePages(markdown, strips)


def write_compare_page(comparison: Comparison, docs_dir: str | os.PathLike[str]) -> list[str]:
    """Write the Compare pages and strips into ``docs_dir/compare/``; return the pages' paths.

    For a MkDocs project of your own (the site's render serves them from memory instead).
    """
    docs = Path(docs_dir)
    root = docs / PAGE_DIR
    if root.exists():
        shutil.rmtree(root)  # stale pages of a previous comparison must not survive
    pages = compare_pages(comparison)
    for target, source in pages.strips.items():
        (docs / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, docs / target)
    for path, text in pages.markdown.items():
        write_text(docs / path, text)
    return list(pages.markdown)

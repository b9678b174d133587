"""Render a :class:`~dissect_report.compare.model.Comparison` as text, JSON data and Markdown.

Usage::

    print(comparison.summary())            # readable text, probable causes first
    json.dumps(comparison.to_dict())       # the JSON diff
    comparison.to_markdown()               # the Markdown diff (model strings escaped)
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: model's methods import this module to format themselves
    from dissect_report.compare.model import (
        BoundaryNote,
        Comparison,
        ImageChange,
        LayerComparison,
        SettingChange,
        ValueChange,
    )

FORMAT = "dissect-report-compare"
FORMAT_VERSION = 1
MARKDOWN_ROWS = 200  # per table; the JSON diff has everything

# Characters that make markup anywhere in a line; <, > and & are HTML-escaped instead.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")


def md(text: Any) -> str:
    """Escape a (model-supplied) string for Markdown text or a table cell: no markup, no HTML."""
    flat = " ".join(str(text).split())
    return html.escape(_MD_SPECIAL.sub(r"\\\1", flat), quote=True)


def _printable(text: str) -> str:
    return text if text.isprintable() else repr(text)


def fmt(value: Any, width: int = 60) -> str:
    """A short readable form of a table or manifest value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, list | tuple):
        text = "[" + ", ".join(fmt(v, width) for v in value[:6])
        return text + (", ...]" if len(value) > 6 else "]")
    if isinstance(value, dict):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = _printable(str(value))
    return text if len(text) <= width else text[: width - 3] + "..."


def _tolerance_line(c: Comparison) -> str:
    t = c.tolerances
    return (
        f"tolerances: iou ±{t.iou_atol:g}, iqr ±{t.iqr_atol:g}, threshold rtol "
        f"{t.threshold_rtol:g}, activations rtol {t.activation_rtol:g}, top-k overlap >= "
        f"{t.top_overlap:g}, images mean |diff| <= {t.image_tol:g}, ACE ±{t.ace_atol:g}, "
        f"shares ±{t.share_atol:g}, optimized sets ±{t.optimized_atol:g}, artifact figures ±{t.artifact_atol:g} or rtol "
        f"{t.artifact_rtol:g}, other tables ±{t.table_atol:g} or rtol {t.table_rtol:g}"
    )


def describe_value(change: ValueChange) -> str:
    """``unit 3 iou 0.15 -> 0.21 (±0.02)``."""
    where = f"unit {change.unit} " if change.unit is not None else ""
    if change.row is not None and change.unit is None:
        where = f"row {change.row} "
    if change.concept is not None:
        where += f"/ {_printable(change.concept)} "
    if change.tolerance == "column":
        return f"column {change.column} missing in new"
    if change.tolerance == "row":
        return f"{where}missing in new"
    if change.tolerance == "json":
        return f"{change.column}: {fmt(change.golden)} -> {fmt(change.new)}"
    return f"{where}{change.column} {fmt(change.golden)} -> {fmt(change.new)} ({change.tolerance})"


def describe_note(note: BoundaryNote) -> str:
    """One boundary note as a line.

    Usage::

        describe_note(note)
        # "unit 175 interpretable true -> false: within tolerance, near a boundary (iou ...)"
    """
    where = f"unit {note.unit} " if note.unit is not None else ""
    if note.concept is not None:
        where += f"/ {_printable(note.concept)} "
    return (
        f"{where}{note.fact} {fmt(note.golden)} -> {fmt(note.new)}: within tolerance, "
        f"near a boundary ({note.detail})"
    )


def _note_lines(notes: tuple[BoundaryNote, ...], max_items: int, indent: str) -> list[str]:
    if not notes:
        return []
    lines = [f"{indent}within tolerance, near a boundary ({len(notes)}; not failures):"]
    _capped(lines, [describe_note(n) for n in notes], max_items, indent + "  ")
    return lines


def describe_image(change: ImageChange) -> str:
    return f"{change.path}: {change.reason}"


def _capped(lines: list[str], items: list[str], max_items: int, indent: str) -> None:
    lines.extend(indent + item for item in items[:max_items])
    if len(items) > max_items:
        lines.append(f"{indent}... and {len(items) - max_items} more (see the JSON diff)")


def layer_headline(layer: LayerComparison) -> str:
    """``OK (128 units, 37 interpretable)`` or ``3 difference(s) (...)`` for one layer."""
    if layer.status == "missing":
        return "missing in new"
    if layer.status == "added":
        return "only in new (not in golden)"
    interp = f"{layer.golden_interpretable} interpretable"
    if layer.golden_interpretable != layer.new_interpretable:
        interp = f"interpretable {layer.golden_interpretable} -> {layer.new_interpretable}"
    verdict = f"{layer.failures} difference(s)" if layer.failures else "OK"
    return f"{verdict} ({layer.units} units, {interp})"


def _layer_lines(layer: LayerComparison, max_items: int) -> list[str]:
    lines = [f"layer {_printable(layer.name)}: {layer_headline(layer)}"]
    lines += _note_lines(layer.notes, max_items, "  ")
    if layer.status != "compared" or not layer.failures:
        return lines
    if layer.golden_shape != layer.new_shape:
        lines.append(f"  shape {fmt(layer.golden_shape)} -> {fmt(layer.new_shape)}")
    if layer.units_missing:
        lines.append(f"  units missing in new: {fmt(layer.units_missing, 200)}")
    if layer.units_added:
        lines.append(f"  units only in new: {fmt(layer.units_added, 200)}")
    if layer.label_changes:
        lines.append(f"  concept changed ({len(layer.label_changes)}):")
        items = [
            f"unit {c.unit}: {_printable(c.golden)} (iou {fmt(c.golden_iou)}) -> "
            f"{_printable(c.new)} (iou {fmt(c.new_iou)})"
            for c in layer.label_changes
        ]
        _capped(lines, items, max_items, "    ")
    if layer.value_changes:
        lines.append(f"  units.parquet values outside tolerance ({len(layer.value_changes)}):")
        _capped(lines, [describe_value(c) for c in layer.value_changes], max_items, "    ")
    m = layer.iou_matrix
    if m and m.outside:
        lines.append(
            f"  iou.parquet: {m.outside} of {m.compared} (unit, concept) entries outside "
            f"tolerance, max |iou diff| {m.max_abs_delta:.3g}"
        )
        _capped(lines, [describe_value(c) for c in m.worst], min(max_items, 5), "    ")
    if layer.image_changes:
        lines.append(f"  images changed ({len(layer.image_changes)}):")
        _capped(lines, [describe_image(c) for c in layer.image_changes], max_items, "    ")
    return lines


def _setting(change: SettingChange) -> str:
    text = f"{change.key}: {fmt(change.golden)} -> {fmt(change.new)}"
    if change.kind == "contract":
        text += f" ({change.hint}; the tables differ)" if change.hint else ""
    return text


def section_lines(changes: tuple[SettingChange, ...], golden: str, new: str) -> list[str]:
    """One line per side for the sections only one report has (a stage the other skipped).

    Usage::

        section_lines(diff_settings(a, b), "early", "late")
        # ["only in early: artifacts, interventions (sections the other report lacks)"]
    """
    lines = []
    for side, name in (("golden", golden), ("new", new)):
        keys = [s.key for s in changes if s.only_in == side]
        if keys:
            lines.append(f"only in {name}: {', '.join(keys)} (sections the other report lacks)")
    return lines


def settings_lines(c: Comparison, max_items: int = 10) -> list[str]:
    """The settings part of the summary: probable causes, then the rest as plain facts.

    Usage::

        "\n".join(settings_lines(comparison))

    A setting that the model contract makes irrelevant (``batch_size``, ``device``) is never
    called harmless when the tables differ: it is then a probable cause, with what would make
    it matter. Only bookkeeping (paths, timings) is said not to change findings.
    """
    lines: list[str] = []
    causes = c.probable_causes
    if causes:
        lines += ["", "Probable cause: these settings differ"]
        _capped(lines, [_setting(s) for s in causes], max_items, "  ")
    elif not c.passed:
        lines += [
            "",
            "Probable cause: no recorded setting differs (config, models, their source and "
            "the environment are the same): look at what the manifest does not record "
            "(data files the code reads, hardware)",
        ]
    agree = [s.key for s in c.settings if s.kind == "contract" and s not in causes]
    if agree:
        lines.append(f"Settings that differ, with findings within tolerance: {', '.join(agree)}")
    lines += section_lines(c.settings, "golden", "new")
    bookkeeping = [s.key for s in c.settings if s.kind == "bookkeeping"]
    if bookkeeping:
        lines.append(f"Bookkeeping that differs (cannot change findings): {', '.join(bookkeeping)}")
    return lines


def summary(c: Comparison, max_items: int = 10) -> str:
    """The readable text summary printed by ``dissect-report compare``.

    Two different models (:func:`~dissect_report.compare.unrelated.model_differences`) get
    one line saying so and counts per table instead of every difference.
    """
    from dissect_report.compare.unrelated import COUNT_OVER, model_differences, unrelated_summary

    reasons = model_differences(c) if not c.passed else ()
    if reasons and c.failures > COUNT_OVER:
        return unrelated_summary(c, reasons, settings_lines(c, max_items))
    verdict = "PASS" if c.passed else f"FAIL ({c.failures} difference(s) outside tolerance)"
    if reasons:  # a few differences of another model: say so first, then list them
        verdict += f", DIFFERENT MODELS ({'; '.join(reasons)})"
    if c.notes:
        verdict += f", {len(c.notes)} note(s) within tolerance"
    lines = [f"compare {c.new} with golden {c.golden}: {verdict}", _tolerance_line(c)]
    lines += settings_lines(c, max_items)
    structure: list[str] = []
    if c.concepts_missing:
        names = ", ".join(map(_printable, c.concepts_missing))
        structure.append(f"concepts missing in new: {names}")
    if c.concepts_added:
        structure.append(f"concepts only in new: {', '.join(map(_printable, c.concepts_added))}")
    if c.files_missing:
        structure.append(f"files missing in new ({len(c.files_missing)}):")
        _capped(structure, list(c.files_missing), max_items, "  ")
    if structure:
        lines += ["", "Structure:"] + ["  " + line for line in structure]
    if c.files_added:
        lines.append(
            f"Not compared: {len(c.files_added)} file(s) only in new "
            "(such as the full unit grids that a thumbnails-only golden leaves out)"
        )
    lines.append("")
    for layer in c.layers:
        lines += _layer_lines(layer, max_items)
    for table in c.tables:
        if table.problem:
            lines.append(f"table {table.path}: {table.problem}")
        elif table.outside:
            lines.append(f"table {table.path}: {table.outside} value(s) outside tolerance")
            _capped(lines, [describe_value(v) for v in table.value_changes], max_items, "  ")
        else:
            lines.append(f"table {table.path}: OK")
        lines += _note_lines(table.notes, max_items, "  ")
    if c.images:
        lines.append(f"other images changed ({len(c.images)}):")
        _capped(lines, [describe_image(i) for i in c.images], max_items, "  ")
    return "\n".join(lines).rstrip() + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_dict(c: Comparison) -> dict[str, Any]:
    """The JSON diff: every difference, plus the verdict, tolerances and probable causes."""
    layers = []
    for layer in c.layers:
        entry = dataclasses.asdict(layer)
        entry["failures"] = layer.failures
        entry["changed_units"] = list(layer.changed_units)
        layers.append(entry)
    data = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "golden": str(c.golden),
        "new": str(c.new),
        "passed": c.passed,
        "failures": c.failures,
        "schema_version": c.schema_version,
        "tolerances": c.tolerances.as_dict(),
        "probable_causes": [dataclasses.asdict(s) for s in c.probable_causes],
        "settings": [dataclasses.asdict(s) for s in c.settings],
        "concepts_missing": c.concepts_missing,
        "concepts_added": c.concepts_added,
        "files_missing": c.files_missing,
        "files_added": c.files_added,
        "layers": layers,
        "tables": [dataclasses.asdict(t) for t in c.tables],
        "images": [dataclasses.asdict(i) for i in c.images],
    }
    return _plain(data)


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows[:MARKDOWN_ROWS]]
    if len(rows) > MARKDOWN_ROWS:
        out.append(f"\n*... and {len(rows) - MARKDOWN_ROWS} more rows (see the JSON diff)*")
    return out + [""]


def cell(value: Any) -> str:
    """A table cell: numbers as they are, anything else (model-supplied) escaped."""
    if value is None or isinstance(value, int | float):
        return fmt(value)
    return md(fmt(value))


def _md_values(changes: tuple[ValueChange, ...]) -> list[str]:
    rows = [
        [
            "" if v.unit is None else str(v.unit),
            "" if v.concept is None else md(v.concept),
            md(v.column),
            cell(v.golden),
            cell(v.new),
            html.escape(v.tolerance),
        ]
        for v in changes
    ]
    return _md_table(["unit", "concept", "column", "golden", "new", "tolerance"], rows)


def to_markdown(c: Comparison) -> str:
    """The Markdown diff; every model-supplied string is escaped."""
    verdict = "PASS" if c.passed else f"FAIL ({c.failures} differences outside tolerance)"
    out = [
        f"# Report comparison: {verdict}",
        "",
        f"- golden: {md(c.golden)}",
        f"- new: {md(c.new)}",
        f"- {html.escape(_tolerance_line(c))}",
        "",
    ]
    from dissect_report.compare.unrelated import count_rows, model_differences

    reasons = model_differences(c) if not c.passed else ()
    if reasons:  # say it first; the per-table counts before thousands of rows
        out += [f"**Different models**: {md('; '.join(reasons))}", ""]
        rows = [[md(name), f"{n:,}", md(detail)] for name, detail, n in count_rows(c)]
        out += _md_table(["layer or table", "differences", "of which"], rows)
    causes = c.probable_causes
    if c.settings:
        out += ["## Settings that differ", ""]
        rows = [
            [md(s.key), cell(s.golden), cell(s.new), "yes" if s in causes else "no"]
            for s in c.settings
        ]
        out += _md_table(["setting", "golden", "new", "probable cause"], rows)
    structure = (
        [f"- concept missing in new: {md(x)}" for x in c.concepts_missing]
        + [f"- concept only in new: {md(x)}" for x in c.concepts_added]
        + [f"- file missing in new: {md(x)}" for x in c.files_missing[:MARKDOWN_ROWS]]
    )
    if c.files_added:
        structure.append(f"- files only in new, not compared: {len(c.files_added)}")
    if structure:
        out += ["## Structure", ""] + structure + [""]
    for layer in c.layers:
        out += [f"## Layer {md(layer.name)}", ""]
        out += [md(layer_headline(layer)), ""]
        if layer.status != "compared":
            continue
        if layer.notes:
            out += ["### Within tolerance, near a boundary (not failures)", ""]
            out += [f"- {md(describe_note(n))}" for n in layer.notes[:MARKDOWN_ROWS]] + [""]
        if layer.label_changes:
            out += ["### Concept changes", ""]
            rows = [
                [str(x.unit), md(x.golden), cell(x.golden_iou), md(x.new), cell(x.new_iou)]
                for x in layer.label_changes
            ]
            out += _md_table(["unit", "golden", "golden IoU", "new", "new IoU"], rows)
        if layer.units_missing or layer.units_added:
            out += [f"- units missing in new: {md(fmt(layer.units_missing, 500))}"]
            out += [f"- units only in new: {md(fmt(layer.units_added, 500))}", ""]
        if layer.value_changes:
            out += ["### units.parquet values outside tolerance", ""]
            out += _md_values(layer.value_changes)
        if layer.iou_matrix and layer.iou_matrix.outside:
            m = layer.iou_matrix
            out += [
                "### iou.parquet",
                "",
                f"{m.outside} of {m.compared} entries outside tolerance, max |iou diff| "
                f"{m.max_abs_delta:.3g}; the worst:",
                "",
            ]
            out += _md_values(m.worst)
        if layer.image_changes:
            out += ["### Images", ""]
            rows = [[md(i.path), md(i.reason)] for i in layer.image_changes]
            out += _md_table(["image", "difference"], rows)
    for table in c.tables:
        out += [f"## Table {md(table.path)}", ""]
        out += [md(table.problem), ""] if table.problem else _md_values(table.value_changes)
        out += [f"- {md(describe_note(n))}" for n in table.notes[:MARKDOWN_ROWS]]
    if c.images:
        out += ["## Other images", ""]
        out += _md_table(["image", "difference"], [[md(i.path), md(i.reason)] for i in c.images])
    return "\n".join(out).rstrip() + "\n"

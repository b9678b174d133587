"""Text and JSON of a findings comparison, and the FINDINGS.md of one report.

Usage::

    from dissect_report.compare.findings_text import findings_markdown, summary, text_table
    print(summary(dr.compare_findings("a", "b")))
    Path("FINDINGS.md").write_text(findings_markdown(dr.open_report("report")))
    text_table(["concept", "units"], [["tree", "3"]])   # aligned columns, one row a line

Numbers are rounded (IoU and ACE to 3 decimals, shares to whole percent) and rows sorted, so
that two versions of a report differ line by line only where a finding changed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dissect_report.compare.text import fmt, section_lines

if TYPE_CHECKING:
    from dissect_report.compare.findings import FindingsComparison
    from dissect_report.reportdir.report import Report
    from dissect_report.reportdir.schema import UnitRow


def text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Rows of aligned text (numbers right, text left), a rule under the header."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    numeric = [i > 0 and all(_numeric(str(r[i])) for r in rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = [
            str(c).rjust(w) if numeric[i] else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _numeric(cell: str) -> bool:
    """A cell that reads as a number (or a count with its share, or a dash)."""
    head = cell.split(" ", 1)[0].split("/", 1)[0]
    try:
        float(head)
    except ValueError:
        return head in ("-", "")
    return True


def _r3(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{float(value):.3f}"


def _pct(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{round(100 * value)}%"


def _columns(c: FindingsComparison) -> list[tuple[str, str]]:
    return list(zip(c.layers["report"], c.layers["layer"], strict=True))


def _concept_lines(c: FindingsComparison) -> list[str]:
    columns = _columns(c)
    cells = {(r["report"], r["layer"], r["concept"]): r for r in c.concepts.to_dict("records")}
    concepts = sorted(set(c.concepts["concept"]))
    header = ["concept", *(f"{r}/{layer}" for r, layer in columns)]
    counts, ious = [], []
    for concept in concepts:
        row, iou = [concept], [concept]
        for report, layer in columns:
            cell = cells.get((report, layer, concept))
            row.append(f"{cell['units']} ({_pct(cell['share'])})" if cell else "0")
            iou.append(f"{_r3(cell['mean_iou'])}/{_r3(cell['max_iou'])}" if cell else "-")
        counts.append(row)
        ious.append(iou)
    totals = ["all interpretable"]
    for row in c.layers.to_dict("records"):
        totals.append(f"{row['interpretable']}/{row['units']} ({_pct(row['share'])})")
    lines = ["Interpretable units per concept (count, share of the layer's units):"]
    lines += ["  " + x for x in text_table(header, [*counts, totals])]
    lines += ["", "Mean/max IoU of those units:"]
    lines += ["  " + x for x in text_table(header, ious)]
    return lines


def _gain_lines(c: FindingsComparison) -> list[str]:
    lines = ["", "Concepts gained and lost (interpretable units over all layers):"]
    for before, after in zip(c.names, c.names[1:], strict=False):
        rows = c.gained_lost[(c.gained_lost["before"] == before)]
        items = [
            f"{r['change']} {r['concept']} ({r['units_before']} -> {r['units_after']} units)"
            for r in rows.to_dict("records")
        ]
        lines.append(f"  {before} -> {after}: {'' if items else 'none'}".rstrip())
        lines += ["    " + item for item in items]
    return lines


def _match_lines(c: FindingsComparison, max_items: int) -> list[str]:
    lines: list[str] = []
    m = c.matches
    for (before, after, layer), group in m.groupby(["before", "after", "layer"], sort=False):
        method = group["method"].iloc[0]
        what = "activation correlation" if method == "activation" else "IoU profile"
        median, low = float(group["similarity"].median()), float(group["similarity"].min())
        moved = int((group["unit_before"] != group["unit_after"]).sum())
        counts = group["change"].value_counts().to_dict()
        lines += [
            "",
            f"Units matched {before} -> {after}, {layer}: {len(group)} by {what} "
            f"(median {median:.3f}, min {low:.3f}; {moved} matched to another index); "
            + ", ".join(
                f"{counts.get(k, 0)} {k}" for k in ("same", "relabelled", "gained", "lost")
            ),
        ]
        changed = group[group["change"].isin(["relabelled", "gained", "lost"])]
        items = [
            f"unit {r['unit_before']} -> {r['unit_after']}: {r['change']}: "
            f"{_side(r, 'before')} -> {_side(r, 'after')}"
            for r in changed.to_dict("records")
        ]
        lines += ["  " + item for item in items[:max_items]]
        if len(items) > max_items:
            lines.append(f"  ... and {len(items) - max_items} more (see the JSON)")
    return lines


def _side(row: dict[str, Any], which: str) -> str:
    """One side of a matched unit: "sky (0.502)", then " refused (chance level)" where a label
    guard refused that concept (so the unit is unlabelled there)."""
    side = f"{row[f'concept_{which}']} ({_r3(row[f'iou_{which}'])})"
    reason = row.get(f"refused_{which}") or ""
    return f"{side} refused ({reason})" if isinstance(reason, str) and reason else side


def _setting_lines(c: FindingsComparison, max_items: int) -> list[str]:
    lines = ["", "Recorded settings that differ (probable causes):"]
    for before, after, changes in c.settings:
        relevant = [s for s in changes if s.kind not in ("bookkeeping", "section")]
        sections = section_lines(changes, before, after)
        if not relevant and not sections:
            lines.append(f"  {before} -> {after}: no recorded setting differs")
            continue
        lines.append(f"  {before} -> {after}:")
        lines += [
            f"    {s.key}: {fmt(s.golden, 40)} -> {fmt(s.new, 40)}" for s in relevant[:max_items]
        ]
        if len(relevant) > max_items:
            lines.append(f"    ... and {len(relevant) - max_items} more")
        lines += ["    " + line for line in sections]
    return lines


def summary(c: FindingsComparison, max_items: int = 20) -> str:
    """The text of ``dissect-report compare --findings``."""
    lines = [f"Findings of {len(c.names)} reports, in order: {', '.join(c.names)}", ""]
    lines += _concept_lines(c)
    lines += _gain_lines(c)
    if len(c.ace):
        lines += ["", "ACE per concept (where two or more reports have interventions):"]
        rows = [
            [r["concept"], r["report"], r["layer"], _r3(r["ace"]), _pct(r["share"])]
            for r in c.ace.sort_values(["concept"], kind="stable").to_dict("records")
        ]
        lines += [
            "  " + x for x in text_table(["concept", "report", "layer", "ace", "share"], rows)
        ]
    if len(c.artifacts):
        lines += ["", "Artifacts:"]
        for r in c.artifacts.to_dict("records"):
            units = ", ".join(map(str, r["repaired"])) or "none"
            lines.append(f"  {r['report']} ({r['layer']}): {r['verdict']}; repair ablates {units}")
    lines += _match_lines(c, max_items)
    lines += _setting_lines(c, max_items)
    return "\n".join(lines).rstrip() + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def to_dict(c: FindingsComparison) -> dict[str, Any]:
    """The JSON of ``compare --findings --json``: every table as a list of records."""
    import dataclasses

    return _plain(
        {
            "format": "dissect-report-findings",
            "format_version": 1,
            "reports": [{"name": n, "path": str(p)} for n, p in zip(c.names, c.paths, strict=True)],
            "layers": c.layers.to_dict("records"),
            "concepts": c.concepts.to_dict("records"),
            "gained_lost": c.gained_lost.to_dict("records"),
            "ace": c.ace.to_dict("records"),
            "artifacts": c.artifacts.to_dict("records"),
            "matches": c.matches.to_dict("records"),
            "settings": [
                {"before": a, "after": b, "changes": [dataclasses.asdict(s) for s in changes]}
                for a, b, changes in c.settings
            ],
        }
    )


def _short_hash(value: Any) -> str:
    return str(value)[:12] if isinstance(value, str) and len(value) == 64 else str(value)


def _layer_lines(layer: str, units: list[UnitRow]) -> list[str]:
    """A layer's section of FINDINGS.md: units per concept, then every unit's label."""
    units = sorted(units, key=lambda r: r.unit)
    good = [r for r in units if r.interpretable]
    lines = [
        "",
        f"## Layer {layer}: {len(good)} of {len(units)} units interpretable",
        "",
        "Units per concept (interpretable units):",
        "",
        "```",
    ]
    by_concept: dict[str, list[float]] = {}
    for r in good:
        by_concept.setdefault(str(r.concept), []).append(r.iou)
    rows = [
        [concept, str(len(ious)), _r3(sum(ious) / len(ious)), _r3(max(ious))]
        for concept, ious in sorted(by_concept.items())
    ]
    lines += text_table(["concept", "units", "mean_iou", "max_iou"], rows)
    lines += ["```", "", "Labels (every unit; * interpretable):", "", "```"]
    rows = [
        [str(r.unit), str(r.concept), _r3(r.iou), "*" if r.interpretable else ""] for r in units
    ]
    lines += text_table(["unit", "concept", "iou", ""], rows)
    lines.append("```")
    return lines


def findings_markdown(report: Report) -> str:
    """FINDINGS.md: a report's findings as small, rounded, sorted text tables.

    Usage::

        Path("golden/FINDINGS.md").write_text(findings_markdown(dr.open_report("report")))

    What a reviewer of a golden's pull request reads: the settings that define the run,
    units per concept per layer, each unit's label and IoU (3 decimals), interventions' ACE
    and the artifact verdict. No path, no timestamp: it changes only with a finding.
    Arrow and plain Python only (no pandas): the pytest plugin writes it.
    """
    from dissect_report.reportdir.read import read_rows
    from dissect_report.reportdir.schema import ArtifactUnitRow, ConceptIndexRow

    m = report.manifest
    model, seg = m.model, m.segmenter
    lines = [
        "# Findings",
        "",
        f"- generator: `{model.get('factory') or model.get('name')}` "
        f"(state {_short_hash(model.get('state_sha256'))}, "
        f"source {_short_hash(model.get('source_sha256'))})",
        f"- segmenter: `{seg.get('name')}` ({len(m.concepts)} concepts)",
        f"- samples: {m.samples.get('count')} (seed {m.samples.get('seed')}), threshold "
        f"{m.threshold.get('policy')} {m.threshold.get('level')}, "
        f"IoU floor {m.threshold.get('iou_floor')}",
    ]
    for layer in report.layers:
        lines += _layer_lines(layer, report.unit_rows(layer))
    if m.sections.get("interventions"):
        path = report.root / "concepts" / "index.parquet"
        index = sorted(read_rows(path, ConceptIndexRow), key=lambda r: r.concept)
        rows = [[r.concept, r.layer, _r3(r.ace), _r3(r.share)] for r in index]
        lines += ["", "## Interventions", "", "```"]
        lines += text_table(["concept", "layer", "ace", "share"], rows)
        lines.append("```")
    if m.sections.get("artifacts"):
        path = report.root / "artifacts" / "units.parquet"
        repaired = sorted(r.unit for r in read_rows(path, ArtifactUnitRow) if r.repaired)
        lines += [
            "",
            "## Artifacts",
            "",
            f"- layer {m.artifacts.get('layer')}: verdict {m.artifacts.get('verdict')}; "
            f"repair ablates {', '.join(map(str, repaired)) or 'no unit'}",
        ]
    return "\n".join(lines) + "\n"

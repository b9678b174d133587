"""The collection's comparison page: bars for reports without an order, lines with --ordered."""

from __future__ import annotations

import re
from pathlib import Path

from dissect_report.compare.findings import compare_findings
from dissect_report.render.collection import comparison_page
from dissect_report.render.collection_chart import PALETTE, grouped_bars_svg, ordered_lines_svg
from dissect_report.testing import SyntheticSpec, write_synthetic_report


def _page(tmp_path: Path, ordered: bool) -> str:
    names = ("a", "b", "c")
    for i, name in enumerate(names):
        spec = SyntheticSpec(layers=("layer1",), units=6, value_seed=i, iou_floor=0.03)
        write_synthetic_report(tmp_path / name, spec, images=False)
    found = compare_findings(*(tmp_path / n for n in names), match="iou")
    prefixes = {n: f"reports/{n}" for n in names}
    slugs = {(n, "layer1"): "layer1" for n in names}
    return comparison_page(found, prefixes, slugs, ordered)


def test_reports_without_an_order_get_bars_and_one_heading_each(tmp_path: Path) -> None:
    html = _page(tmp_path, ordered=False)
    chart = html[html.index('id="units-chart"') :]
    chart = chart[: chart.index("</svg>")]
    assert "<polyline" not in chart and chart.count("<rect") >= 3 * 4
    headings = re.findall(r"<h[12]>(.*?)</h[12]>", html)
    assert len(headings) == len(set(headings))
    assert "Interpretable units per concept, by report" in headings
    assert '<link rel="stylesheet" href="assets/collection.css">' in html
    assert 'name="viewport"' in html


def test_ordered_reports_get_lines_named_at_their_ends(tmp_path: Path) -> None:
    html = _page(tmp_path, ordered=True)
    assert "<polyline" in html and "Training dynamics" in html


def test_twenty_series_get_twenty_distinct_colours() -> None:
    assert len(set(PALETTE)) == 20
    counts = {f"c{i}": [i, i + 1] for i in range(20)}
    lines = ordered_lines_svg(counts, ["x", "y"])
    strokes = re.findall(r'<polyline [^>]*stroke="(#[0-9a-f]{6})"', lines)
    assert len(set(strokes)) == 20
    labels = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)" dominant', lines)]
    ends = sorted(labels)
    assert all(b - a >= 12.9 for a, b in zip(ends, ends[1:], strict=False))  # never overlap
    bars = grouped_bars_svg({"tree": [1, 2, 3]}, ["a", "b", "c"])
    assert len(set(re.findall(r'<rect [^>]*fill="(#[0-9a-f]{6})"', bars))) == 3

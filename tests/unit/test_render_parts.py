"""Pieces of the renderer: charts, formatting, minifying, file linking, the local server."""

from __future__ import annotations

import re
import threading
import urllib.request
from pathlib import Path

import numpy as np

from dissect_report.commands.serve import make_server
from dissect_report.render.files import copy_tree
from dissect_report.render.fmt import esc, fixed, num, pct
from dissect_report.render.plugin import minify_html
from dissect_report.render.svg import coarsen, heatmap_svg, histogram_svg, safe_color
from dissect_report.testing import SyntheticSpec, write_synthetic_report


def test_histogram_draws_open_outer_bins_and_marks_the_threshold() -> None:
    # The pass's edges: bin 0 is (-inf, e1), the last bin [top, inf).
    edges = np.concatenate([[-np.inf], np.linspace(0.0, 4.0, 9), [np.inf]])
    counts = np.array([1000, 100, 50, 20, 10, 5, 2, 1, 0, 3])
    svg = str(histogram_svg(edges, counts, 1.0, width=400))
    assert svg.startswith("<svg")
    x = float(re.search(r'class="dr-hist-thr" x1="([0-9.]+)"', svg).group(1))
    # Inner range 0..4 plus the open last bin drawn one bin wide: 0..4.5 over 312 px from 80.
    assert abs(x - (80 + 1.0 / 4.5 * 312)) < 0.1
    assert "threshold 1" in svg
    below = re.search(r'class="dr-hist-below"[^>]* height="([0-9.]+)"', svg)
    assert below and float(below.group(1)) > 50
    heights = [float(v) for v in re.findall(r"V([0-9.]+)H", svg)]
    assert len(heights) == 9 and all(h < 134 for h in heights[:7])  # every non-empty bar shows
    # No finite range at all draws nothing rather than dividing by zero.
    assert str(histogram_svg(np.array([-np.inf, 0.0, 0.0, np.inf]), np.array([1, 2, 3]), 0.0)) == ""


def test_coarsen_keeps_every_count() -> None:
    edges, counts = np.linspace(0, 1, 201), np.arange(200)
    e2, c2 = coarsen(edges, counts, 64)
    assert len(c2) == 64 and len(e2) == 65 and c2.sum() == counts.sum()
    assert e2[0] == 0 and e2[-1] == 1
    same_e, same_c = coarsen(edges[:11], counts[:10], 64)
    assert np.array_equal(same_c, counts[:10]) and np.array_equal(same_e, edges[:11])


def test_charts_escape_names_and_colors() -> None:
    svg = str(
        heatmap_svg([("<x>", 'red" onload="y')], ["<l>"], np.array([[3]])),
    )
    assert "<x>" not in svg and "&lt;x&gt;" in svg and "&lt;l&gt;" in svg
    assert "onload" not in svg and safe_color("#A0b1c2") == "#A0b1c2"


def test_formatting() -> None:
    assert num(float("nan")) == "\u2013" and fixed(None) == "\u2013"
    assert num(0.123456) == "0.123" and fixed(0.5, 2) == "0.50" and pct(0.254) == "25%"
    assert str(esc('"<&>')) == "&#34;&lt;&amp;&gt;"


def test_minify_keeps_pre_blocks() -> None:
    assert minify_html("<div>\n    <p>x</p>\n\n  </div>") == "<div>\n<p>x</p>\n</div>"
    pre = "<pre>\n    indented\n</pre>"
    assert minify_html(pre) == pre


def test_copy_tree_copies_images_and_skips_symlinks(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "units").mkdir(parents=True)
    (src / "units" / "1.png").write_bytes(b"png")
    (src / "units.parquet").write_bytes(b"table")
    (tmp_path / "secret.png").write_bytes(b"secret")
    (src / "units" / "leak.png").symlink_to(tmp_path / "secret.png")
    assert copy_tree(src, dst, (".png",), tmp_path) == 1
    assert (dst / "units" / "1.png").read_bytes() == b"png"
    assert (dst / "units" / "1.png").stat().st_ino != (src / "units" / "1.png").stat().st_ino
    assert not (dst / "units" / "leak.png").exists() and not (dst / "units.parquet").exists()


def test_synthetic_report_follows_the_contract(tmp_path: Path) -> None:
    import json

    import pyarrow.parquet as pq

    root = write_synthetic_report(tmp_path / "r", SyntheticSpec(layers=("a",), units=3))
    m = json.loads((root / "manifest.json").read_text())
    assert m["schema_version"] == 1 and m["layers"][0]["shape"][0] == 3
    units = pq.read_table(root / "layers" / "a" / "units.parquet")
    assert str(units.schema.field("unit").type) == "int32"
    assert str(units.schema.field("top_samples").type) == "list<element: int64>"
    row = units.to_pylist()[0]
    assert row["concept"] == row["top_concepts"][0] and row["iou"] == row["top_ious"][0]
    iou = pq.read_table(root / "layers" / "a" / "iou.parquet")
    assert iou.num_rows == 3 * len(m["concepts"])
    with np.load(root / "layers" / "a" / "stats.npz") as npz:
        assert npz["edges"].shape[1] == npz["unit_hist"].shape[1] + 1
    assert (root / "layers" / "a" / "units.csv").read_text().count("\n") == 4


def test_serve_binds_localhost_and_serves_the_site(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>hello</p>")
    server = make_server(tmp_path, 0)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as r:
            assert r.status == 200 and b"hello" in r.read()
    finally:
        server.shutdown()
        server.server_close()


def test_ace_chart_has_round_ticks_real_minus_signs_and_the_random_spread() -> None:
    from dissect_report.charts import line_chart, nice_ticks

    assert nice_ticks(-0.013, 0.041) == [-0.02, 0.0, 0.02, 0.04, 0.06]
    svg = line_chart(
        {"iou": [(1, 0.01), (2, -0.013), (4, 0.041)], "random": [(1, 0.0), (2, 0.0), (4, 0.0)]},
        x_label="units",
        y_label="ACE",
        spread={"random": [(1, 0.001), (2, 0.002), (4, 0.004)]},
    )
    labels = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    assert labels == ["\u22120.02", "0", "0.02", "0.04", "0.06"]
    assert "<polygon" in svg and "random \u00b11 sd" in svg and "IoU-ranked" in svg
    # The axis title sits left of the widest tick label, not over it.
    title_x = float(
        re.search(r'<text x="([0-9.]+)" y="[0-9.]+" text-anchor="middle" transform', svg).group(1)
    )
    assert title_x + 8 < 74 - 6 - 6 * 5


def test_interventions_page_marks_a_chosen_set_that_did_worse_held_out() -> None:
    from dissect_report.render.detail import inserted_heading, insertion_cells
    from dissect_report.reportdir.schema import ConceptIndexRow

    base = {"slug": "grass", "layer": "layer2", "units": 40, "top_units": (1, 2)}
    base |= {"n_max": 2, "fraction": 0.3, "ace": -0.1}
    grass = ConceptIndexRow(
        concept="grass",
        **base,
        insert_method="optimized",
        insert_success=0.18,
        insert_success_iou=0.5,
    )
    assert insertion_cells(grass) == ("18%\u2020", "50%", True)
    road = ConceptIndexRow(
        concept="road", **base, insert_method="optimized", insert_success=0.34,
        insert_success_iou=0.31,
    )  # fmt: skip
    assert insertion_cells(road) == ("34%", "31%", False)
    sky = ConceptIndexRow(concept="sky", **base, insert_method="iou", insert_success=0.04)
    assert insertion_cells(sky) == ("4%", "4%", False)
    assert inserted_heading({"insert_select_ids": [40, 16]}) == (
        "inserted set (chosen on 16 selection samples)"
    )
    assert inserted_heading({"insert_select_ids": None}) == "inserted set"


def test_concept_page_names_the_brushs_usual_position_not_where_it_belongs() -> None:
    from dissect_report.render.detail import _place_rows

    place = {"context": "sky", "precision": 0.74, "strokes": 32, "others": [["road", 0.1]]}
    (row,) = _place_rows(place, "water")
    assert str(row.label).startswith("precision at its usual position (mostly over sky)")
    assert "belongs" not in str(row.label) and row.value.startswith("74% (32 held-out strokes")

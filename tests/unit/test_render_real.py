"""The site of a report made by ``dissect-report run`` (not a synthetic one): what it shows."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow


def _units(report: Path, layer: str) -> list[dict]:
    return pq.read_table(report / "layers" / layer / "units.parquet").to_pylist()


def test_every_unit_page_has_a_histogram_with_bars(real_report: Path) -> None:
    site = real_report / "site"
    pages = sorted((site / "layers").glob("*/units/*/index.html"))
    assert len(pages) == 64
    for page in pages:
        html = page.read_text()
        path = re.search(r'class="dr-hist-bars" d="([^"]+)"', html)
        assert path, f"no histogram on {page}"
        base = float(re.search(r"M[0-9.]+ ([0-9.]+)V", path.group(1)).group(1))
        tops = [float(v) for v in re.findall(r"V([0-9.]+)H", path.group(1))]
        assert any(t < base - 1 for t in tops), f"no visible bar on {page}"
        assert 'class="dr-hist-thr"' in html


def test_band_examples_carry_ids_activations_and_link_to_sample_pages(real_report: Path) -> None:
    site = real_report / "site"
    page = site / "layers" / "layer4" / "units" / "0" / "index.html"
    html = page.read_text()
    bands = re.findall(r'<figure class="dr-band"', html)
    assert len(bands) >= 2  # the top band and the typical band at least, at 120 samples
    ids = re.findall(r'href="(\.\./\.\./\.\./\.\./samples/(\d+)/index.html)"', html)
    assert ids
    examples = pq.read_table(real_report / "layers" / "layer4" / "examples.parquet").to_pylist()
    mine = {str(r["sample"]) for r in examples if r["unit"] == 0}
    top = {str(r["sample"]) for r in examples if r["unit"] == 0 and r["band"] == "top"}
    # A tile links to its sample's page where the site has one: the samples of every unit's
    # strongest bands (render.budget.SAMPLE_BANDS); the others show their id unlinked.
    paged = {i for i in mine if (site / "samples" / i / "index.html").is_file()}
    assert top <= {i for _, i in ids} == paged
    for href, _sample in ids:
        target = (page.parent / href).resolve()
        assert target.is_file()
        # ...and the sample page links back to this unit.
        assert "layers/layer4/units/0/index.html" in target.read_text()
    assert "dr-key" in html and "unit only" in html


def test_no_unit_below_the_floor_carries_a_concept_title(real_report: Path) -> None:
    site = real_report / "site"
    index = (site / "search" / "search_index.json").read_text()
    for layer in ("layer4",):
        gallery = (site / "layers" / layer / "index.html").read_text()
        for row in _units(real_report, layer):
            html = (site / "layers" / layer / "units" / str(row["unit"]) / "index.html").read_text()
            title = re.search(r"<h1>(.*?)</h1>", html).group(1)
            card = re.search(rf'data-unit="{row["unit"]}"[^>]*>.*?</a>', gallery).group(0)
            if row["interpretable"]:
                assert title.endswith(f"\u00b7 {row['concept']}")
            elif row["iou"] < 0.04:
                assert "unlabelled (best: " in title and "&lt; 0.04)" in title
            else:  # refused by a guard (position, coverage, chance), never "0.5 < 0.04"
                assert "unlabelled (best: " in title and "&lt;" not in title
                assert 'class="dr-name">unlabelled<' in card
                assert f"unit {row['unit']} \u00b7 unlabelled" in index


def test_data_links_resolve_inside_the_site_and_404_is_relative(real_report: Path) -> None:
    site = real_report / "site"
    checked = 0
    for page in [
        site / "layers" / "layer4" / "index.html",
        site / "concepts" / "sky" / "index.html",
        site / "run" / "index.html",
    ]:
        html = page.read_text()
        links = re.findall(r'<a href="([^"]+\.(?:csv|parquet|json))" download', html)
        assert links, page
        for href in links:
            assert (page.parent / href).resolve().is_file(), href
            checked += 1
    assert checked >= 6
    assert not (site / "layers" / "layer4" / "stats.npz").exists()
    html = (site / "404.html").read_text()
    assert not re.search(r'(?:href|src)="/(?!/)', html)
    assert not re.search(r'"(?:base|search)": "/', html)  # Material's config: worker, base


def test_the_built_in_worlds_site_names_no_path_of_this_machine(real_report: Path) -> None:
    """The factory file lives in this venv and --out under a temp dir: neither is published."""
    import json
    import sys

    manifest = json.loads((real_report / "manifest.json").read_text())
    assert manifest["model"]["factory_file"].startswith("/")  # the report keeps it
    needles = {sys.prefix, str(Path.home()), str(real_report), str(real_report.resolve())}
    needles |= {str(Path(manifest["model"]["factory_file"]).parent)}
    site = real_report / "site"
    shipped = json.loads((site / "manifest.json").read_text())
    assert shipped["model"]["factory_file"] == "__init__.py"
    assert shipped["model"]["factory_sha256"] == manifest["model"]["factory_sha256"]
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".js", ".csv", ".xml", ".svg"):
            text = path.read_text(encoding="utf-8", errors="replace")
            found = [n for n in needles if n in text]
            assert not found, (path, found)


def test_sample_pages_list_labelled_units_of_the_image_before_broad_ones(
    real_report: Path,
) -> None:
    site = real_report / "site"
    rows = {r["unit"]: r for r in _units(real_report, "layer4")}
    pages = sorted((site / "samples").glob("*/index.html"))
    assert pages
    led_by_labelled = 0
    for page in pages:
        html = page.read_text()
        assert "Ranking by activation alone would put broad units first" in html
        assert "\u201cits strongest\u201d" in html and 'title="where this image' in html
        # every row's peak / threshold is filled (the built-in world's units have thresholds)
        cells = re.findall(r"<td>([^<]*)</td>\s*</tr>", html)
        assert cells and all(c.endswith("\u00d7") for c in cells), page
        table = html[html.index("<h3>layer4</h3>") :]
        table = table[: table.index("</table>")]
        units = [int(u) for u in re.findall(r"layer4 #(\d+)</a>", table)]
        assert units
        labelled = [bool(rows[u]["interpretable"]) for u in units]
        # every labelled unit comes before every unlabelled one
        assert labelled == sorted(labelled, reverse=True), (page, units)
        led_by_labelled += labelled[0]
    assert led_by_labelled > len(pages) // 2

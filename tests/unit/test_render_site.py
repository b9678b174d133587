"""The render stage end to end: synthetic reports -> real MkDocs (Material) sites."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from dissect_report.cli import main
from dissect_report.errors import ReportError
from dissect_report.render import render_site
from dissect_report.testing import SyntheticSpec, write_synthetic_report

EVIL_CONCEPT = "<script>alert(1)</script>"
EVIL_LAYER = '<b onmouseover="x">l2</b>'
EVIL_MODEL = "<img src=x onerror=alert(2)>"
UNITS = 10


def _concepts() -> tuple[tuple[str, str], ...]:
    return (("sky", "#7ec0ee"), ("tree", "#2e7d32"), (EVIL_CONCEPT, "#ff0000"), ("door", "#333333"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("render") / "report"
    spec = SyntheticSpec(
        layers=("layer1", EVIL_LAYER),
        units=UNITS,
        concepts=_concepts(),
        model_name=EVIL_MODEL,
        iou_floor=0.03,
        interventions=True,
        artifacts=True,
    )
    write_synthetic_report(root, spec)
    return root, render_site(root)


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def test_every_page_has_a_stable_url(built) -> None:
    root, result = built
    site = root / "site"
    assert result.site_dir == site.resolve() and result.index == site.resolve() / "index.html"
    for layer in _manifest(root)["layers"]:
        base = site / "layers" / layer["slug"]
        assert (base / "index.html").is_file()
        for unit in range(UNITS):
            assert (base / "units" / str(unit) / "index.html").is_file()
            assert (base / "units" / f"{unit}.png").is_file()  # linked from the report
            # The strip stays in the report (goldens keep it); no page shows it, so the site
            # leaves it out (the layer's gallery shows the WebP thumbnail).
            assert not (base / "units" / f"{unit}-strip.png").exists()
        assert (base / "concepts.svg").is_file()
    for concept in _manifest(root)["concepts"]:
        assert (site / "concepts" / concept["slug"] / "index.html").is_file()
    for page in ("run", "concepts", "interventions", "artifacts"):
        assert (site / page / "index.html").is_file()
    assert result.unit_pages == 2 * UNITS and result.pages > 2 * UNITS


def test_unit_page_shows_grid_top_concepts_histogram_and_neighbours(built) -> None:
    root, _ = built
    html = (root / "site" / "layers" / "layer1" / "units" / "3" / "index.html").read_text()
    assert 'src="../3.png"' in html and "data-dr-zoom" in html
    assert 'href="../2/index.html"' in html and 'href="../4/index.html"' in html
    assert html.count('<td class="dr-bar">') == 4  # top concepts (only 4 concepts exist)
    hist = re.search(r'<svg class="dr-hist".*?</svg>', html, re.S)
    assert hist and "<line" in hist.group(0) and "threshold" in hist.group(0)
    first = (root / "site" / "layers" / "layer1" / "units" / "0" / "index.html").read_text()
    assert 'rel="prev"' not in first and 'href="../1/index.html"' in first


def test_layer_gallery_carries_sort_and_filter_data(built) -> None:
    root, _ = built
    html = (root / "site" / "layers" / "layer1" / "index.html").read_text()
    cards = re.findall(
        r'<a class="dr-card[^"]*" href="units/(\d+)/index.html" data-unit="(\d+)"'
        r' data-iou="([0-9.]+)" data-concept="([^"]*)"',
        html,
    )
    assert [int(c[0]) for c in cards] == list(range(UNITS))
    assert all(c[0] == c[1] for c in cards)
    assert "data-dr-sort" in html and "data-dr-filter" in html
    assert 'src="concepts.svg"' in html
    assert "assets/dissect/dissect.js" in html


def test_nav_lists_no_unit_pages(built) -> None:
    root, _ = built
    html = (root / "site" / "index.html").read_text()
    nav = re.search(r'<nav class="md-nav md-nav--primary".*?</nav>\s*</div>', html, re.S)
    assert nav is not None
    assert "/units/" not in nav.group(0)
    assert "layers/layer1/index.html" in nav.group(0)
    assert "interventions/index.html" in nav.group(0)


def test_model_strings_are_escaped_everywhere(built) -> None:
    root, _ = built
    site = root / "site"
    texts = {p: p.read_text() for p in site.rglob("*.html")}
    texts[site / "search" / "search_index.js"] = (site / "search" / "search_index.js").read_text()
    for path, text in texts.items():
        for evil in (EVIL_CONCEPT, EVIL_LAYER, EVIL_MODEL, "<b onmouseover"):
            assert evil not in text, f"{evil!r} unescaped in {path}"
    concept_slug = next(c["slug"] for c in _manifest(root)["concepts"] if c["name"] == EVIL_CONCEPT)
    assert "<" not in concept_slug and "/" not in concept_slug
    page = texts[site / "concepts" / concept_slug / "index.html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in texts[site / "index.html"]
    layer_slug = _manifest(root)["layers"][1]["slug"]
    gallery = texts[site / "layers" / layer_slug / "index.html"]
    assert "&lt;b onmouseover=&#34;x&#34;&gt;l2&lt;/b&gt;" in gallery


def test_search_index_finds_units_and_concepts_but_stays_small(built) -> None:
    root, _ = built
    index = json.loads((root / "site" / "search" / "search_index.json").read_text())
    docs = index["docs"]
    unit_docs = [d for d in docs if "/units/" in d["location"]]
    assert len(unit_docs) == 2 * UNITS
    assert all("unit" in d["title"] for d in unit_docs)
    # A unit's entry carries what finds it: layer, number, label, IoU, concepts, top samples.
    rows = {
        int(r["unit"]): r for r in pq.read_table(root / "layers/layer1/units.parquet").to_pylist()
    }
    entry = next(d for d in unit_docs if d["location"] == "layers/layer1/units/3/index.html")
    assert entry["title"].startswith("layer1 \u00b7 unit 3 \u00b7 ")
    assert f"IoU {rows[3]['iou']:.3f}" in entry["title"]  # labelled or not: "tree 0.05" finds it
    assert " ".join(str(s) for s in rows[3]["top_samples"][:5]) in entry["text"]
    assert all(len(d["text"]) < 400 for d in unit_docs)  # small: the index grows per unit
    assert any(d["location"] == "concepts/tree/index.html" for d in docs)
    js = (root / "site" / "search" / "search_index.js").read_text()
    assert js.startswith("var __index = ") and "layers/layer1/units/0/index.html" in js


def test_site_loads_nothing_from_the_network(built) -> None:
    root, _ = built
    for path in (root / "site").rglob("*.html"):
        text = path.read_text()
        for url in re.findall(r'(?:src|href)="(https?:[^"]*)"', text):
            raise AssertionError(f"{path} references {url}")
        assert "fonts.googleapis" not in text and "unpkg.com" not in text
    assert not list((root / "site" / "assets").rglob("*.map"))


def test_sections_render_their_results(built) -> None:
    root, _ = built
    site = root / "site"
    iv = (site / "interventions" / "index.html").read_text()
    assert "concepts/sky/index.html" in iv
    assert ">inserted set" in iv and "measured set" not in iv and ">IoU-top units<" in iv
    sky = (site / "concepts" / "sky" / "index.html").read_text()
    assert 'src="ace.svg"' in sky and 'src="compare.png"' in sky
    assert (site / "concepts" / "sky" / "compare.png").is_file()
    art = (site / "artifacts" / "index.html").read_text()
    # The verdict leads; the before/after pictures are labelled and shown at native scale.
    assert (
        art.index("data-dr-verdict")
        < art.index('<h2 id="evidence')
        < art.index("before (unedited)")
    )
    assert "Repaired: ablating units" in art and "failed" not in art and "independent check" in art
    for name in ("before", "after"):
        assert (site / "artifacts" / f"{name}.png").is_file()
        with Image.open(root / "artifacts" / f"{name}.png") as im:
            assert f'src="{name}.png" width="{im.size[0]}" height="{im.size[1]}"' in art
    # The artifact layer is the last one; its worst unit's page shows its artifact rank.
    worst = json.loads((root / "artifacts" / "repair.json").read_text())["units"][0]
    layer_slug = _manifest(root)["layers"][-1]["slug"]
    unit_page = (site / "layers" / layer_slug / "units" / str(worst) / "index.html").read_text()
    assert "artifact rank" in unit_page
    assert "this unit alone ablated: fsd gain" in unit_page
    # The repair set's greedy steps: the unedited baseline, then each unit tried.
    doc = json.loads((root / "artifacts" / "repair.json").read_text())
    assert "The repair set, step by step" in art
    assert art.count(">kept<") == len(doc["greedy"]) and ">unedited<" in art
    assert f"units/{worst}/index.html" in art
    # The concept page shows the erased share and the whole-layer ceiling.
    assert "its pixels erased, top" in sky and "all units of" in sky


def test_without_sections_no_section_pages(tmp_path: Path) -> None:
    root = write_synthetic_report(
        tmp_path / "r", SyntheticSpec(layers=("a",), units=4, concepts=_concepts()[:2])
    )
    result = render_site(root, out=tmp_path / "out")
    assert not (tmp_path / "out" / "interventions").exists()
    assert not (tmp_path / "out" / "artifacts").exists()
    assert "interventions" not in (tmp_path / "out" / "index.html").read_text()
    assert result.site_dir == (tmp_path / "out").resolve()


def test_rerender_replaces_only_our_site(tmp_path: Path) -> None:
    root = write_synthetic_report(
        tmp_path / "r", SyntheticSpec(layers=("a",), units=3, concepts=_concepts()[:2])
    )
    render_site(root)
    (root / "site" / "stale.html").write_text("old")
    render_site(root)
    assert not (root / "site" / "stale.html").exists()
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    with pytest.raises(ReportError, match="precious"):
        render_site(root, out=foreign)
    assert (foreign / "thesis.tex").read_text() == "keep me"


def test_render_is_deterministic(tmp_path: Path) -> None:
    root = write_synthetic_report(
        tmp_path / "r", SyntheticSpec(layers=("a",), units=3, concepts=_concepts()[:2])
    )
    render_site(root, out=tmp_path / "s1")
    render_site(root, out=tmp_path / "s2")
    for page in (tmp_path / "s1").rglob("*.html"):
        assert (
            page.read_bytes() == (tmp_path / "s2" / page.relative_to(tmp_path / "s1")).read_bytes()
        )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda r: (r / "manifest.json").unlink(), "no manifest.json"),
        (lambda r: (r / "manifest.json").write_text("{"), "corrupt manifest"),
        (lambda r: _edit(r, schema_version=99), "schema_version 99"),
        (lambda r: _edit_layer(r, slug="../../etc"), "unsafe layer slug '../../etc'"),
        (lambda r: (r / "layers" / "a" / "units.parquet").unlink(), "units.parquet"),
        (lambda r: (r / "layers" / "a" / "stats.npz").write_bytes(b"junk"), "stats.npz"),
    ],
)
def test_bad_reports_raise_report_error(tmp_path: Path, damage, message: str) -> None:
    root = write_synthetic_report(
        tmp_path / "r", SyntheticSpec(layers=("a",), units=2, concepts=_concepts()[:2])
    )
    damage(root)
    with pytest.raises(ReportError, match=re.escape(message)):
        render_site(root)
    assert not (root / "site").exists()


def _edit(root: Path, **values) -> None:
    m = json.loads((root / "manifest.json").read_text())
    m.update(values)
    (root / "manifest.json").write_text(json.dumps(m))


def _edit_layer(root: Path, **values) -> None:
    m = json.loads((root / "manifest.json").read_text())
    m["layers"][0].update(values)
    (root / "manifest.json").write_text(json.dumps(m))


def test_cli_render_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_synthetic_report(
        tmp_path / "r", SyntheticSpec(layers=("a",), units=2, concepts=_concepts()[:2])
    )
    assert main(["-q", "render", str(root), "--out", str(tmp_path / "site")]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "site" / "index.html") in out
    assert main(["-q", "render", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0]
    assert main(["-q", "render", str(root), "--baseline", str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err


def test_baseline_adds_compare_pages(tmp_path: Path) -> None:
    spec = SyntheticSpec(layers=("a",), units=3, concepts=_concepts()[:2])
    root = write_synthetic_report(tmp_path / "r", spec)
    golden = tmp_path / "golden"
    shutil.copytree(root, golden)
    result = render_site(root, baseline=golden)
    index = (result.site_dir / "compare" / "index.html").read_text()
    assert "PASS" in index.upper()
    assert "compare/index.html" in (result.site_dir / "index.html").read_text()


def test_report_without_stats_or_grids_still_renders(tmp_path: Path) -> None:
    """Thumbnail-only reports (like the small goldens) have no stats.npz and no grid images."""
    root = write_synthetic_report(
        tmp_path / "r", SyntheticSpec(layers=("a",), units=3, concepts=_concepts()[:2])
    )
    (root / "layers" / "a" / "stats.npz").unlink()
    for unit in range(3):  # goldens keep only the strips
        (root / "layers" / "a" / "units" / f"{unit}.png").unlink()
        (root / "layers" / "a" / "units" / f"{unit}-thumb.webp").unlink()
    _edit(root, command=None, created=None, timings=None)
    site = render_site(root).site_dir
    html = (site / "layers" / "a" / "units" / "1" / "index.html").read_text()
    assert "dr-hist" not in html and "dr-grid" not in html and "Concepts by IoU" in html
    assert 'src="units/1-strip.png"' in (site / "layers" / "a" / "index.html").read_text()


def test_overview_says_so_when_no_unit_is_labelled(tmp_path: Path) -> None:
    from dissect_report.testing import edit_units

    root = write_synthetic_report(
        tmp_path / "r", SyntheticSpec(layers=("a",), units=4, concepts=_concepts()[:2])
    )
    labelled = render_site(root, out=tmp_path / "with")
    assert 'class="dr-heatmap"' in (labelled.site_dir / "index.html").read_text()
    for unit in range(4):
        edit_units(root, "a", unit, interpretable=False)
    render_site(root, out=tmp_path / "none")
    page = (tmp_path / "none" / "index.html").read_text()
    assert "nothing to chart" in page and 'class="dr-heatmap"' not in page

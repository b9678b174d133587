"""The site's Compare pages, built by a real (strict) MkDocs build."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dissect_report.compare import compare_reports
from dissect_report.render.comparepage import compare_pages, compare_view, write_compare_page
from dissect_report.testing import (
    edit_iou,
    edit_manifest,
    edit_units,
    write_synthetic_report,
)

EVIL_LAYER = "<img src=x onerror=alert(1)>"
EVIL_CONCEPT = "<script>alert(2)</script>|*"


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("reports")
    layers = {"layer1": 3, EVIL_LAYER: 4}
    golden = write_synthetic_report(base / "golden", layers=layers)
    new = write_synthetic_report(base / "new", layers=layers)
    slug = json.loads((new / "manifest.json").read_text())["layers"][1]["slug"]
    edit_units(new, slug, 2, concept=EVIL_CONCEPT)
    strip = new / "layers" / "layer1" / "units" / "1-strip.png"
    Image.fromarray(np.zeros((16, 48, 3), np.uint8)).save(strip)
    edit_manifest(new, **{"samples.seed": 7})
    return compare_reports(golden, new)


def test_view_model_lists_changed_units_per_layer(comparison) -> None:
    view = compare_view(comparison)
    assert not view.passed and view.causes[0] == ("samples.seed", "1", "7")
    layer1, evil = view.layers
    assert [card.unit for card in layer1.cards] == [1]
    assert layer1.cards[0].golden_strip == "../strips/golden/layer1/1.png"
    assert [card.unit for card in evil.cards] == [2]
    assert evil.cards[0].new_label.startswith(EVIL_CONCEPT)
    assert evil.page == f"compare/layers/{evil.slug}.md" and "<" not in evil.slug


def test_compare_pages_are_served_from_memory_with_their_strips(comparison) -> None:
    pages = compare_pages(comparison)
    assert list(pages.markdown)[0] == "compare/index.md" and len(pages.markdown) == 3
    strip = pages.strips["compare/strips/new/layer1/1.png"]
    assert strip == comparison.new / "layers" / "layer1" / "units" / "1-strip.png"
    assert all(source.is_file() for source in pages.strips.values())
    layer_page = pages.markdown["compare/layers/layer1.md"]
    assert "](../strips/new/layer1/1.png)" in layer_page


def test_pages_build_with_mkdocs_and_escape_model_strings(comparison, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Report\n")
    (docs / "compare" / "layers").mkdir(parents=True)
    (docs / "compare" / "layers" / "stale.md").write_text("# stale page of an older run\n")
    nav = write_compare_page(comparison, docs)
    assert nav[0] == "compare/index.md" and len(nav) == 3
    assert not (docs / "compare" / "layers" / "stale.md").exists()
    config = {
        "site_name": "t",
        "docs_dir": str(docs),
        "site_dir": str(tmp_path / "site"),
        "theme": {"name": "mkdocs"},
        "nav": [{"Report": "index.md"}, {"Compare": nav}],
    }
    (tmp_path / "mkdocs.yml").write_text(json.dumps(config))  # JSON is YAML
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", "mkdocs.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr  # strict: every image link resolves
    site = tmp_path / "site"
    pages = {p: p.read_text() for p in site.rglob("*.html") if "compare" in p.parts}
    assert len(pages) == 3
    for html in pages.values():
        assert "<script>alert" not in html and "<img src=x" not in html
    layer_page = next(p for p in pages if "layer1" in p.parts)
    srcs = re.findall(r'<img[^>]+src="([^"]+)"', pages[layer_page])
    assert len(srcs) == 2  # golden strip and new strip of unit 1, side by side
    for src in srcs:
        assert (layer_page.parent / src).resolve().is_file()
    evil_page = next(p for p in pages if p != layer_page and p.parent.name != "compare")
    assert "&lt;script&gt;alert(2)&lt;/script&gt;|*" in pages[evil_page]
    index = pages[site / "compare" / "index.html"]
    assert "samples.seed" in index and "Probable cause" in index
    assert "&lt;img src=x onerror=alert(1)&gt;" in index


def test_boundary_notes_get_a_page_and_settings_are_not_called_harmless(tmp_path: Path) -> None:
    golden = write_synthetic_report(tmp_path / "golden", layers={"layer1": 3})
    new = write_synthetic_report(tmp_path / "new", layers={"layer1": 3})
    concept = json.loads((golden / "manifest.json").read_text())["concepts"][0]["name"]
    for report, iou in ((golden, 0.0401), (new, 0.0399)):  # across the 0.04 floor
        edit_units(report, "layer1", 0, concept=concept, iou=iou, interpretable=iou >= 0.04)
        edit_iou(report, "layer1", 0, concept, iou=iou)
    edit_manifest(new, **{"config.batch_size": 7})
    c = compare_reports(golden, new)
    assert c.passed and [n.fact for n in c.notes] == ["interpretable"]
    view = compare_view(c)
    (layer,) = view.layers
    assert layer.page == "compare/layers/layer1.md" and "within tolerance" in layer.notes[0]
    write_compare_page(c, tmp_path / "docs")
    index = (tmp_path / "docs" / "compare" / "index.md").read_text()
    assert "config.batch\\_size" in index and "do not change findings" not in index
    page = (tmp_path / "docs" / "compare" / "layers" / "layer1.md").read_text()
    assert "unit 0 interpretable true -&gt; false: within tolerance, near a boundary" in page

"""A collection site over three reports in headless Chromium: from the comparison page to a
unit page of each report, offline, by relative links only."""

from __future__ import annotations

from pathlib import Path

import pytest

from dissect_report.cli import main
from dissect_report.testing import SyntheticSpec, write_synthetic_report

pytestmark = pytest.mark.browser

NAMES = ("early", "mid", "late")


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("collection")
    for i, name in enumerate(NAMES):
        spec = SyntheticSpec(layers=("layer1",), units=6, value_seed=i, iou_floor=0.03)
        write_synthetic_report(root / name, spec)
    (root / "collection.toml").write_text(
        'out = "site"\nordered = true\n'
        + "".join(f'[[reports]]\npath = "{n}"\nname = "{n}"\n' for n in NAMES)
    )
    assert main(["render", str(root / "collection.toml")]) == 0
    return root / "site"


def test_comparison_page_walks_to_a_unit_page_of_each_report(collection: Path, page) -> None:
    p, watch = page
    index = collection / "index.html"
    html = index.read_text()
    assert str(collection.parent) not in html  # relative links only
    assert "Training dynamics" in html and "<svg" in html
    for name in NAMES:
        p.goto(index.as_uri())
        header = p.locator("#concept-table thead th").all_inner_texts()
        column = next(i for i, text in enumerate(header) if text.startswith(name))
        link = p.locator(f"#concept-table tbody tr td:nth-child({column + 1}) .units a").first
        unit = link.inner_text()
        link.click()
        p.wait_for_load_state("load")
        assert p.url.endswith(f"reports/{name}/layers/layer1/units/{unit}/index.html"), p.url
        assert f"{unit}" in p.title()
        assert p.evaluate("() => document.images.length") > 0


def test_pages_are_styled_and_every_report_page_leads_home(collection: Path, page) -> None:
    p, watch = page
    index = collection / "index.html"
    for width in (1280, 390):
        p.set_viewport_size({"width": width, "height": 900})
        p.goto(index.as_uri())
        bar = p.locator("header.dr-bar")
        assert bar.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(64, 81, 181)"
        # the page never scrolls sideways; wide tables scroll inside their box
        assert p.evaluate("() => document.documentElement.scrollWidth") <= width
    headings = p.locator("h1, h2").all_inner_texts()
    assert len(headings) == len(set(headings)), headings
    assert "Training dynamics: interpretable units per concept" in headings
    labels = p.locator("#units-chart svg text").evaluate_all("es => es.map(e => e.textContent)")
    assert any(text.startswith("sky ") for text in labels)  # lines named at their ends
    link = p.locator("#concept-table tbody .units a").first
    link.click()
    p.wait_for_load_state("load")
    home = p.locator("a.dr-collection-home")
    assert home.inner_text().strip() == "← All reports" and home.is_visible()
    home.click()
    p.wait_for_load_state("load")
    assert p.url == index.as_uri()
    for site in (collection / "reports").iterdir():
        assert "dr-collection-home" in (site / "index.html").read_text()

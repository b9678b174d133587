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
    assert "training dynamics" in html and "<svg" in html
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

"""The built site in a real headless Chromium, opened from file:// with no network.

Locally these tests skip when Debian's chromium is missing; in CI (CI=true) they fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dissect_report.render import render_site
from dissect_report.testing import SyntheticSpec, write_synthetic_report

pytestmark = pytest.mark.browser

EVIL = "<script>alert(1)</script>"
UNITS = 16


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser") / "report"
    concepts = (("sky", "#7ec0ee"), ("tree", "#2e7d32"), (EVIL, "#ff0000"), ("door", "#555555"))
    spec = SyntheticSpec(
        layers=("layer1", "layer2"),
        units=UNITS,
        concepts=concepts,
        iou_floor=0.03,
        interventions=True,
        artifacts=True,
    )
    write_synthetic_report(root, spec)
    return render_site(root).site_dir


def _all_images_loaded(p) -> None:
    p.wait_for_load_state("load")
    broken = p.evaluate(
        """() => Array.from(document.images)
              .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"""
    )
    count = p.evaluate("() => document.images.length")
    assert count > 0 and broken == [], f"images not loaded: {broken}"


def _visible_cards(p) -> list[dict]:
    return p.evaluate(
        """() => Array.from(document.querySelectorAll('[data-dr-gallery] .dr-card'))
              .filter(c => !c.hidden)
              .map(c => ({unit: +c.dataset.unit, iou: +c.dataset.iou,
                          concept: c.dataset.concept, dim: c.classList.contains('dr-dim')}))"""
    )


def test_browse_overview_layer_sort_filter_unit(site: Path, page) -> None:
    p, _ = page
    p.goto((site / "index.html").as_uri())
    _all_images_loaded(p)
    assert p.locator(".dr-heatmap").count() == 1

    p.click("table.dr-table >> text=layer1")
    p.wait_for_url("**/layers/layer1/index.html")
    _all_images_loaded(p)
    cards = _visible_cards(p)
    assert len(cards) == UNITS
    ious = [c["iou"] for c in cards]
    assert ious == sorted(ious, reverse=True)  # default: best IoU first

    p.select_option("[data-dr-sort]", "unit")
    assert [c["unit"] for c in _visible_cards(p)] == list(range(UNITS))
    p.select_option("[data-dr-sort]", "concept")
    names = [c["concept"] for c in _visible_cards(p)]
    assert names == sorted(names, key=lambda s: s.lower()) or len(set(names)) > 1

    concept = max(
        {c["concept"] for c in cards}, key=lambda n: sum(c["concept"] == n for c in cards)
    )
    p.select_option("[data-dr-filter]", concept)
    shown = _visible_cards(p)
    assert shown and all(c["concept"] == concept for c in shown)
    assert len(shown) == sum(c["concept"] == concept for c in cards)
    assert p.inner_text(".dr-count").startswith(f"{len(shown)} of {UNITS}")
    p.select_option("[data-dr-filter]", "")
    p.check("[data-dr-interp]")
    assert all(not c["dim"] for c in _visible_cards(p))
    p.uncheck("[data-dr-interp]")

    first = _visible_cards(p)[0]["unit"]
    p.click(f'.dr-card[data-unit="{first}"]')
    p.wait_for_url(f"**/layers/layer1/units/{first}/index.html")
    _all_images_loaded(p)
    assert p.locator("svg.dr-hist line.dr-hist-thr").count() == 1
    p.click("img.dr-grid")
    assert p.locator(".dr-lightbox img").count() == 1
    p.keyboard.press("Escape")
    assert p.locator(".dr-lightbox").count() == 0


def test_filter_state_from_concept_page_link(site: Path, page) -> None:
    p, _ = page
    p.goto((site / "concepts" / "sky" / "index.html").as_uri())
    _all_images_loaded(p)
    p.click("text=show all in the layer >> nth=0")
    p.wait_for_url("**/layers/layer1/index.html#concept=sky")
    shown = _visible_cards(p)
    assert shown and all(c["concept"] == "sky" for c in shown)


def test_every_kind_of_page_loads_its_images(site: Path, page) -> None:
    p, _ = page
    for rel in (
        "run/index.html",
        "concepts/index.html",
        "interventions/index.html",
        "artifacts/index.html",
        "concepts/sky/index.html",
        "layers/layer2/units/0/index.html",
    ):
        p.goto((site / rel).as_uri())
        if rel in ("run/index.html", "concepts/index.html", "interventions/index.html"):
            p.wait_for_load_state("load")
            continue  # pages without images: loading them without errors is the check
        _all_images_loaded(p)


def test_evil_concept_shows_as_text(site: Path, page) -> None:
    p, watch = page
    slug = next(d.name for d in (site / "concepts").iterdir() if d.name.startswith("script"))
    p.goto((site / "concepts" / slug / "index.html").as_uri())
    p.wait_for_load_state("load")
    assert EVIL in p.inner_text("article h1")
    p.goto((site / "layers" / "layer1" / "index.html").as_uri())
    options = p.evaluate(
        "() => Array.from(document.querySelectorAll('[data-dr-filter] option')).map(o => o.value)"
    )
    assert EVIL in options
    p.select_option("[data-dr-filter]", EVIL)  # filtering by it must not run it either
    assert not watch.dialogs


def test_search_works_offline(site: Path, page) -> None:
    p, _ = page
    p.goto((site / "index.html").as_uri())
    p.wait_for_load_state("load")
    p.click("input.md-search__input")  # the header's search box (desktop viewport)
    p.keyboard.type("tree")  # Material searches on key events, not on .fill()
    p.wait_for_selector(".md-search-result__item", timeout=15_000)
    hrefs = p.eval_on_selector_all(".md-search-result__item a", "els => els.map(e => e.href)")
    assert any("concepts/tree/index.html" in h for h in hrefs)
    # Unit pages have their own lean header: its search box must work too.
    p.goto((site / "layers" / "layer2" / "units" / "3" / "index.html").as_uri())
    p.wait_for_load_state("load")
    p.click("input.md-search__input")
    p.keyboard.type("unit")
    p.wait_for_function(
        "() => Array.from(document.querySelectorAll('.md-search-result__item a'))"
        ".some(a => a.href.includes('/units/'))",
        timeout=15_000,
    )


@pytest.fixture(scope="module")
def wide_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two layers of 120 units: many pages that each match 'unit' and '115' on their own."""
    root = tmp_path_factory.mktemp("search") / "report"
    spec = SyntheticSpec(layers=("layer3", "layer4"), units=120, images=False)
    write_synthetic_report(root, spec)
    return render_site(root).site_dir


def _search(p, query: str) -> list[str]:
    p.click("input.md-search__input")
    p.keyboard.type(query)
    p.wait_for_selector(".md-search-result__item", timeout=15_000)
    p.wait_for_timeout(300)  # the results of the last keystroke
    return p.eval_on_selector_all(
        ".md-search-result__item > a, .md-search-result__item a.md-search-result__link",
        "els => els.map(e => e.href)",
    )


def test_search_finds_a_unit_by_layer_and_number_first(wide_site: Path, page) -> None:
    p, _ = page
    p.goto((wide_site / "index.html").as_uri())
    p.wait_for_load_state("load")
    hrefs = _search(p, "layer3 unit 115")
    first = hrefs[0].split("?")[0] if hrefs else ""  # Material adds ?h=<terms to highlight>
    assert first.endswith("/layers/layer3/units/115/index.html"), hrefs[:5]
    p.click(".md-search-result__item a >> nth=0")
    p.wait_for_url("**/layers/layer3/units/115/index.html*")
    assert "unit 115" in p.inner_text(".dr-unitpage h1")


@pytest.mark.parametrize("name", ["interventions", "artifacts"])
def test_wide_tables_fit_at_1280_and_scroll_inside_at_390(site: Path, page, name: str) -> None:
    p, _ = page
    for width in (1280, 390):
        p.set_viewport_size({"width": width, "height": 900})
        p.goto((site / name / "index.html").as_uri())
        tables = p.evaluate(
            """() => [...document.querySelectorAll('.md-typeset table')]
                  .map(t => [t.className, t.scrollWidth, t.clientWidth])"""
        )
        assert any("dr-wide" in cls for cls, _, _ in tables)
        if width == 1280:  # every table fits: no sideways scrolling on a laptop
            assert all(sw <= cw for _, sw, cw in tables), tables
        # the page itself never scrolls sideways; a table may, inside its own box
        assert p.evaluate("() => document.documentElement.scrollWidth") <= width

"""The site of a report made by ``dissect-report run``, walked in a real headless Chromium.

overview -> layer -> unit -> sample -> concept, then every unit page by pressing ``n``: each
has a histogram with visible bars, band examples with ids and activations, a colour key and
an honest title; data links resolve inside the site; nothing leaves ``file://``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow.parquet as pq
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UNIT_CHECK = """() => {
  const bars = document.querySelector('svg.dr-hist path.dr-hist-bars');
  const box = bars ? bars.getBoundingClientRect() : null;
  const caps = Array.from(document.querySelectorAll('.dr-band .dr-tile-cap')).map(a => ({
    id: a.querySelector('.dr-id').textContent, act: a.querySelector('.dr-act').textContent}));
  return {
    title: document.querySelector('.dr-unitpage h1').textContent,
    bars: box ? box.height : 0,
    thr: document.querySelectorAll('svg.dr-hist line.dr-hist-thr').length,
    bands: document.querySelectorAll('figure.dr-band').length,
    caps: caps,
    key: document.querySelectorAll('.dr-key .dr-swatch').length,
  };
}"""


def _file(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def _labels(report: Path, layer: str) -> dict[int, dict]:
    rows = pq.read_table(report / "layers" / layer / "units.parquet").to_pylist()
    return {int(r["unit"]): r for r in rows}


def _check_unit(info: dict, row: dict, where: str) -> None:
    assert info["bars"] > 0 and info["thr"] == 1, f"no histogram bars on {where}"
    assert info["bands"] >= 1 and info["caps"], f"no band examples on {where}"
    for cap in info["caps"]:
        assert re.fullmatch(r"#\d+", cap["id"]), cap
        assert re.fullmatch(r"\u2212?-?[0-9.e+-]+", cap["act"]), cap
    assert info["key"] >= 3, f"no colour key on {where}"
    if row["interpretable"]:
        assert info["title"].endswith(f"\u00b7 {row['concept']}"), where
    else:
        assert f"unlabelled (best: {row['concept']}, IoU" in info["title"], where


def _data_links_resolve(p) -> int:
    hrefs = p.eval_on_selector_all("a[download]", "els => els.map(e => e.href)")
    for href in hrefs:
        assert href.startswith("file:") and _file(href).is_file(), href
    return len(hrefs)


def test_walk_overview_layer_unit_sample_concept(real_report: Path, page) -> None:
    p, watch = page
    site = real_report / "site"
    labels = _labels(real_report, "layer4")
    p.goto((site / "index.html").as_uri())
    p.wait_for_load_state("load")
    assert "builtin" in p.inner_text(".dr-verdict")

    p.click("table.dr-table >> text=layer4")
    p.wait_for_url("**/layers/layer4/index.html")
    assert _data_links_resolve(p) >= 3
    cards = p.locator("[data-dr-gallery] .dr-card")
    assert cards.count() == len(labels)
    lazy = p.eval_on_selector_all(
        ".dr-card img", "els => els.every(i => i.loading === 'lazy' && i.width > 0)"
    )
    assert lazy
    p.fill("[data-dr-iou-min]", "0.04")
    shown = p.eval_on_selector_all(
        "[data-dr-gallery] .dr-card:not([hidden])", "els => els.map(e => +e.dataset.iou)"
    )
    assert all(v >= 0.04 for v in shown)
    assert len(shown) == sum(r["iou"] >= 0.04 for r in labels.values())
    p.fill("[data-dr-iou-min]", "")
    dim = p.eval_on_selector_all(".dr-card.dr-dim .dr-name", "els => els.map(e => e.textContent)")
    assert all(name == "unlabelled" for name in dim)

    p.click('.dr-card[data-unit="0"]')
    p.wait_for_url("**/layers/layer4/units/0/index.html")
    _check_unit(p.evaluate(UNIT_CHECK), labels[0], "layer4 unit 0")
    p.click("a.dr-crop >> nth=0")  # the zoom enlarges the band
    small = p.eval_on_selector("a.dr-crop", "e => e.getBoundingClientRect().width")
    big = p.eval_on_selector(".dr-lightbox .dr-crop", "e => e.getBoundingClientRect().width")
    assert big > 1.2 * small
    p.keyboard.press("Escape")

    sample_link = p.locator(".dr-band .dr-tile-cap").first
    sample = sample_link.locator(".dr-id").inner_text().lstrip("#")
    sample_link.click()
    p.wait_for_url(f"**/samples/{sample}/index.html")
    p.wait_for_load_state("load")
    assert p.evaluate("() => document.querySelector('img.dr-pixel').naturalWidth") > 0
    back = p.eval_on_selector_all("a", "els => els.map(e => e.href)")
    assert any(h.endswith("/layers/layer4/units/0/index.html") for h in back)

    p.click(".dr-key a >> nth=0")
    p.wait_for_url("**/concepts/*/index.html")
    assert _data_links_resolve(p) >= 1
    assert not watch.blocked


def test_n_steps_through_every_unit_page(real_report: Path, page) -> None:
    p, _ = page
    site = real_report / "site"
    for layer in ("layer4",):
        labels = _labels(real_report, layer)
        units = sorted(labels)
        p.goto((site / "layers" / layer / "units" / str(units[0]) / "index.html").as_uri())
        for i, unit in enumerate(units):
            p.wait_for_url(f"**/layers/{layer}/units/{unit}/index.html")
            _check_unit(p.evaluate(UNIT_CHECK), labels[unit], f"{layer} unit {unit}")
            if i + 1 < len(units):
                p.keyboard.press("n")
        p.keyboard.press("p")
        p.wait_for_url(f"**/layers/{layer}/units/{units[-2]}/index.html")


def test_phone_unit_page_has_a_home_link_and_large_tiles(real_report: Path, browser) -> None:
    context = browser.new_context(offline=True, viewport={"width": 390, "height": 844})
    try:
        p = context.new_page()
        p.goto((real_report / "site" / "layers" / "layer4" / "units" / "0" / "index.html").as_uri())
        p.wait_for_load_state("load")
        assert p.locator(".dr-pager .dr-home").is_visible()
        home = p.locator(".md-header .dr-home-logo")  # in the sticky header: always in reach
        assert home.is_visible()
        tile = p.eval_on_selector("a.dr-crop", "e => e.getBoundingClientRect().width / 5")
        assert tile >= 48  # the 32-64 px tiles stay at least native size on a phone
        width = p.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390  # nothing overflows the page sideways
        home.click()
        p.wait_for_url("**/site/index.html")
    finally:
        context.close()

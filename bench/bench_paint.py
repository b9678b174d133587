"""Size and speed of the site's Paint page, in the real headless Chromium (file://, offline).

Usage::

    python bench/bench_paint.py REPORT                 # a report made by `dissect-report run`
    python bench/bench_paint.py REPORT --loads 3 --edits 30

Prints the bytes the Paint page adds to the site (per file, and the package's vendored
ONNX Runtime Web), the time from navigation to the first regenerated image (median over
``--loads`` fresh page loads), and the time per edit: the page's own regeneration time
(``DR_PAINT_TIMES.edits``: edited activations -> ONNX Runtime -> canvas) and the end-to-end
time seen from the driver (mouse press on a cell -> new canvas).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from dissect_report.render.paintpage import ASSETS, ORT_VERSION

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
READY = "document.querySelector('[data-dr-paint]').dataset.state === 'ready'"


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def sizes(site: Path) -> None:
    paint = sorted((site / "paint").iterdir())
    total = sum(p.stat().st_size for p in paint)
    everything = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    print(f"site: {_mb(everything)} in all; the Paint page adds {_mb(total)}:")
    for p in paint:
        print(f"  paint/{p.name:32s} {p.stat().st_size:>10,d} bytes")
    vendor = sorted((ASSETS / "vendor").iterdir())
    print(f"vendored onnxruntime-web {ORT_VERSION} in the package (dissect_report/site/paint):")
    for p in vendor:
        print(f"  vendor/{p.name:32s} {p.stat().st_size:>10,d} bytes")


def measure(site: Path, loads: int, edits: int) -> None:
    from playwright.sync_api import sync_playwright

    url = (site / "paint" / "index.html").as_uri()
    firsts: list[float] = []
    page_ms: list[float] = []
    e2e_ms: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for load in range(loads):
                context = browser.new_context(
                    offline=True, viewport={"width": 1100, "height": 1000}
                )
                p = context.new_page()
                p.goto(url)
                p.wait_for_function(
                    "window.DR_PAINT_TIMES && window.DR_PAINT_TIMES.ready", timeout=120_000
                )
                firsts.append(p.evaluate("window.DR_PAINT_TIMES.ready"))
                if load == 0:
                    grid = p.locator("[data-dr-paint-grid]")
                    grid.scroll_into_view_if_needed()
                    box = grid.bounding_box()
                    side = int(p.evaluate("window.DR_PAINT.shape[2]"))
                    step = box["width"] / side
                    for k in range(edits):
                        if k % 2 == 1:
                            p.check("[name=dr-paint-mode][value=remove]")
                        else:
                            p.check("[name=dr-paint-mode][value=add]")
                        r, c = (3 * k) % side, (5 * k + 1) % side
                        before = p.evaluate("window.DR_PAINT_TIMES.edits.length")
                        p.mouse.move(box["x"] + (c + 0.5) * step, box["y"] + (r + 0.5) * step)
                        start = time.perf_counter()
                        p.mouse.down()
                        p.wait_for_function(f"window.DR_PAINT_TIMES.edits.length > {before}")
                        p.wait_for_function(READY)
                        e2e_ms.append(1000 * (time.perf_counter() - start))
                        p.mouse.up()
                    page_ms = p.evaluate("window.DR_PAINT_TIMES.edits")
                context.close()
        finally:
            browser.close()
    print(
        f"first image (navigation -> ONNX Runtime ready -> first regenerated image), {loads} loads:"
    )
    print(
        f"  median {statistics.median(firsts):.0f} ms (min {min(firsts):.0f}, max {max(firsts):.0f})"
    )
    print(f"per edit, {len(page_ms)} edits (one cell each, add/remove alternating):")
    print(
        f"  page's regeneration: median {statistics.median(page_ms):.1f} ms, "
        f"max {max(page_ms):.1f} ms"
    )
    print(
        f"  end to end (mouse press -> new canvas, via the driver): median "
        f"{statistics.median(e2e_ms):.1f} ms, max {max(e2e_ms):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a report with a paint/ section")
    parser.add_argument("--loads", type=int, default=3, help="fresh page loads to time")
    parser.add_argument("--edits", type=int, default=20, help="single-cell edits to time")
    args = parser.parse_args()
    site = (args.report / "site").resolve()
    if not (site / "paint" / "index.html").is_file():
        from dissect_report.render import render_site

        site = render_site(args.report).site_dir
    sizes(site)
    measure(site, args.loads, args.edits)


if __name__ == "__main__":
    main()

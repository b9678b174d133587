"""Benchmark: page weight and time to first render of the largest layer page, in Chromium.

Usage::

    python bench/bench_pageload.py                                  # synthetic 4 x 512 units
    python bench/bench_pageload.py --strips-from report             # with real-size strips
    python bench/bench_pageload.py --site report/site               # an existing site

Opens the largest layer page from ``file://`` in headless Chromium (Debian's
/usr/bin/chromium through Playwright) at 1280 x 900 and at 390 x 844, and prints: the HTML's
bytes, the bytes of every file the page fetched until ``load`` (thumbnails are lazy, so only
those near the viewport), the bytes if every thumbnail were fetched, first contentful paint
and the load event (ms). The minimum of ``--repeat`` fresh loads is the figure to quote.
``--strips-from`` copies a real report's unit strips (cycled) over the synthetic ones, whose
12 px tiles would flatter the weight.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
from PIL import Image

from dissect_report import progress
from dissect_report.bandfiles import webp_bytes
from dissect_report.render import render_site
from dissect_report.testing import SyntheticSpec, write_synthetic_report

CHROMIUM = "/usr/bin/chromium"


def _size(url: str) -> int:
    path = Path(unquote(urlparse(url).path))
    return path.stat().st_size if path.is_file() else 0


def _real_strips(report: Path, layers: list[Path]) -> None:
    """Replace the synthetic strips by a real report's (and add its WebP thumbnails)."""
    strips = sorted((report / "layers").glob("*/units/*-strip.png"))
    if not strips:
        raise SystemExit(f"no strips under {report}/layers")
    source = itertools.cycle(strips)
    for layer in layers:
        for strip in sorted((layer / "units").glob("*-strip.png")):
            real = next(source)
            shutil.copyfile(real, strip)
            # The thumbnail visualize writes beside every strip (made here for older reports).
            thumb = strip.with_name(strip.name.replace("-strip.png", "-thumb.webp"))
            thumb.write_bytes(webp_bytes(np.asarray(Image.open(real).convert("RGB")), quality=80))


def measure(page_path: Path, width: int, height: int, repeat: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    best: dict[str, float] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for _ in range(repeat):
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                fetched: list[str] = []
                page.on("requestfinished", lambda r, seen=fetched: seen.append(r.url))
                page.goto(page_path.as_uri(), wait_until="load")
                timing = page.evaluate(
                    """() => {
                      const paint = performance.getEntriesByName('first-contentful-paint')[0];
                      const nav = performance.getEntriesByType('navigation')[0];
                      return {fcp: paint ? paint.startTime : -1, load: nav.loadEventEnd,
                              images: document.images.length,
                              loaded: Array.from(document.images).filter(i => i.complete
                                && i.naturalWidth > 0).length};
                    }"""
                )
                all_images = page.eval_on_selector_all(
                    "img", "els => Array.from(new Set(els.map(e => e.src)))"
                )
                run = {
                    "html_kb": _size(page.url) / 1e3,
                    "fetched_kb": sum(_size(u) for u in set(fetched)) / 1e3,
                    "all_images_kb": sum(_size(u) for u in all_images) / 1e3,
                    "images": timing["images"],
                    "images_loaded": timing["loaded"],
                    "first_contentful_paint_ms": timing["fcp"],
                    "load_ms": timing["load"],
                }
                for key, value in run.items():
                    best[key] = min(best.get(key, value), value)
                context.close()
        finally:
            browser.close()
    return {k: round(v, 1) for k, v in best.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--site", type=Path, help="an existing site (default: render a synthetic one)")
    p.add_argument("--strips-from", type=Path, help="a real report whose strips to reuse")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--units", type=int, default=512)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    progress.set_quiet(True)
    with tempfile.TemporaryDirectory(prefix="bench-pageload-") as tmp:
        site = args.site
        if site is None:
            report = Path(tmp) / "report"
            spec = SyntheticSpec(
                layers=tuple(f"layer{i + 1}" for i in range(args.layers)), units=args.units
            )
            write_synthetic_report(report, spec)
            if args.strips_from is not None:
                _real_strips(args.strips_from, sorted((report / "layers").iterdir()))
            site = render_site(report).site_dir
        pages = sorted(
            (site / "layers").glob("*/index.html"), key=lambda q: q.stat().st_size, reverse=True
        )
        if not pages:
            raise SystemExit(f"no layer pages under {site}/layers")
        largest = pages[0]
        units = largest.read_text(encoding="utf-8").count('class="dr-card')
        figures = {
            "page": str(largest.relative_to(site)),
            "units_on_page": units,
            "desktop_1280": measure(largest, 1280, 900, args.repeat),
            "phone_390": measure(largest, 390, 844, args.repeat),
        }
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

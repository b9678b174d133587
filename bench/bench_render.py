"""Benchmark: render + build the site of a synthetic 4 x 512-unit report; print time and sizes.

Usage::

    python bench/bench_render.py                    # makes the report in a temp dir
    python bench/bench_render.py --report /tmp/synthetic --repeat 3

Targets (issue 4): render + build <= 15 s, and site bytes <= image bytes + 20 MB.
Times are wall-clock on a shared machine: the minimum of --repeat runs is the figure to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from dissect_report import progress
from dissect_report.render import render_site
from dissect_report.render.files import dir_bytes
from dissect_report.testing import SyntheticSpec, write_synthetic_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--report", type=Path, help="existing report (default: make a synthetic one)")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--units", type=int, default=512)
    p.add_argument("--repeat", type=int, default=3, help="renders into fresh folders")
    args = p.parse_args(argv)
    progress.set_quiet(True)  # bars would only clutter the figures
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        report = args.report
        if report is None:
            report = Path(tmp) / "report"
            spec = SyntheticSpec(
                layers=tuple(f"layer{i + 1}" for i in range(args.layers)), units=args.units
            )
            t = time.perf_counter()
            write_synthetic_report(report, spec)
            print(
                f"synthetic report: {args.layers} x {args.units} units "
                f"({time.perf_counter() - t:.1f} s to write)"
            )
        times = []
        result = None
        for i in range(args.repeat):
            result = render_site(report, out=Path(tmp) / f"site{i}")
            times.append(result.seconds)
        assert result is not None
        site = result.site_dir
        unit_pages = [p for p in (site / "layers").glob("*/units/*/index.html")]
        unit_bytes = sum(p.stat().st_size for p in unit_pages)
        search = site / "search" / "search_index.json"
        figures = {
            "machine": f"{platform.machine()} {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}",
            "pages": result.pages,
            "unit_pages": result.unit_pages,
            "render_build_s_min": round(min(times), 2),
            "render_build_s_median": round(statistics.median(times), 2),
            "render_build_s_all": [round(t, 2) for t in times],
            "site_mb": round(result.site_bytes / 1e6, 2),
            "images_mb": round(result.image_bytes / 1e6, 2),
            "site_minus_images_mb": round((result.site_bytes - result.image_bytes) / 1e6, 2),
            "unit_page_kb_mean": round(unit_bytes / max(1, len(unit_pages)) / 1e3, 2),
            "search_index_kb": round(search.stat().st_size / 1e3, 1),
            "theme_assets_mb": round(dir_bytes(site / "assets") / 1e6, 2),
        }
        print(json.dumps(figures, indent=2))
        ok_time = min(times) <= 15.0
        ok_size = result.site_bytes - result.image_bytes <= 20e6
        print(
            f"time <= 15 s: {'yes' if ok_time else 'NO'}; "
            f"size <= images + 20 MB: {'yes' if ok_size else 'NO'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

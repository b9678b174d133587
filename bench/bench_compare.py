"""Benchmark ``compare_reports`` and the Compare pages on synthetic reports; prints figures.

Usage::

    python bench/bench_compare.py                      # 3 layers, 448 units, 896 images
    python bench/bench_compare.py --units 512 256 128 --concepts 13

Writes two synthetic reports (docs/report-format.md) into a temp dir, plants a change in
one unit of each layer, and times: the comparison (tables, images, settings), the JSON and
Markdown diffs, and the Compare pages. No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dissect_report.compare import compare_reports, write_diffs
from dissect_report.render.comparepage import write_compare_page
from dissect_report.testing import edit_units, write_synthetic_report

CONCEPTS = ("sky", "cloud", "sun", "mountain", "grass", "water", "road", "tree", "trunk")
CONCEPTS += ("building", "roof", "window", "door")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[256, 128, 64])
    parser.add_argument("--concepts", type=int, default=13)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    layers = {f"layer{i + 2}": n for i, n in enumerate(args.units)}
    concepts = CONCEPTS[: args.concepts]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        golden = write_synthetic_report(Path(tmp, "golden"), layers=layers, concepts=concepts)
        new = write_synthetic_report(Path(tmp, "new"), layers=layers, concepts=concepts)
        write_s = time.perf_counter() - t0
        for name in layers:
            edit_units(new, name, 1, concept="changed")
        images = sum(1 for _ in Path(golden).rglob("*.png"))
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            comparison = compare_reports(golden, new)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        write_diffs(comparison)
        diff_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pages = write_compare_page(comparison, Path(tmp, "docs"))
        page_s = time.perf_counter() - t0
    units = sum(layers.values())
    print(
        f"reports: {len(layers)} layers, {units} units, {len(concepts)} concepts, {images} images"
    )
    print(f"write two synthetic reports: {write_s:.2f} s")
    best, median = min(times), sorted(times)[len(times) // 2]
    print(
        f"compare_reports: best {best:.3f} s, median {median:.3f} s ({images / best:.0f} images/s)"
    )
    print(f"write diff.json + diff.md: {diff_s:.3f} s; failures found: {comparison.failures}")
    print(f"write_compare_page: {page_s:.3f} s, {len(pages)} pages")


if __name__ == "__main__":
    main()

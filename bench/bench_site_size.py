"""Benchmark: the site's bytes (by page kind, per unit) and render time at real scale.

Usage::

    python bench/bench_site_size.py                       # 4 layers x 512 units, 256 px
    python bench/bench_site_size.py --units 64 --px 64    # quicker
    python bench/bench_site_size.py --report report       # an existing report (built-in world)

A synthetic report (``dissect_report.testing``, the real report writer) gets, per unit, its
four example bands drawn through the real band-file writer (:func:`bandfiles.band_files`:
WebP photos and exact palette PNG masks, display size plus the zoom's full size) and a
gallery thumbnail; the samples get their WebP + PNG pair. Pixels have real statistics: the
built-in world's procedural scenes and exact label maps, upscaled to ``--px`` (bicubic, with
per-pixel grain so a photo row does not compress like a smooth upscale), the unit's region
dimmed and outlined as on a real page, and the unit-vs-concept mask from the labels. Encoding
every unit's 8-16 files takes minutes at 256 px, so ``--distinct`` units are drawn and their
bytes reused (cycled) for the others: byte counts are those of real files, render time is that
of the full site. Prints one table: bytes per kind, per unit, zipped, render seconds.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from dissect_report import progress
from dissect_report.bandfiles import band_files, exact_png_bytes, thumb_bytes, webp_bytes
from dissect_report.dissection.bands import BANDS, PER_BAND
from dissect_report.render import render_site
from dissect_report.reportdir.atomic import write_bytes, write_json
from dissect_report.reportdir.schema import (
    EXAMPLES,
    SAMPLES_INDEX,
    ExampleRow,
    SampleRow,
    to_table,
)
from dissect_report.reportdir.write import write_table
from dissect_report.testing import SyntheticSpec, write_synthetic_report
from dissect_report.world import scenes

GAP = 2


def _scene(index: int, px: int) -> tuple[np.ndarray, np.ndarray]:
    """A world scene at ``px``: (image (px, px, 3) uint8, colours of its labels, labels)."""
    img, lab = scenes.render_scene(0, index)
    big = np.asarray(Image.fromarray(img).resize((px, px), Image.Resampling.BICUBIC), np.float32)
    grain = np.random.default_rng(index).normal(0, 6, big.shape)
    big = np.clip(big + grain, 0, 255).astype(np.uint8)
    k = px // lab.shape[0]
    return big, np.repeat(np.repeat(lab, k, 0), k, 1)


def _unit_tiles(unit: int, px: int, ids: list[int]) -> list[tuple[np.ndarray, ...]]:
    """Per example: (image with the unit's region, segmentation, unit vs concept mask)."""
    palette = np.array([scenes.PALETTE[c] for c in scenes.CONCEPTS], np.uint8)
    out = []
    rng = np.random.default_rng(unit)
    for sample in ids:
        img, lab = _scene(sample, px)
        concept = int(np.bincount(lab.ravel()).argmax())
        yy, xx = np.mgrid[:px, :px]
        cy, cx, r = (
            rng.uniform(0.2, 0.8) * px,
            rng.uniform(0.2, 0.8) * px,
            rng.uniform(0.1, 0.3) * px,
        )
        region = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        edge = region & ~np.roll(region, 1, 0) | region & ~np.roll(region, 1, 1)
        shown = np.where(region[..., None], img, (img * 0.3).astype(np.uint8))
        shown[edge] = (255, 214, 0)
        seg = palette[lab]
        seg[edge] = (255, 214, 0)
        colours = np.array([[32, 32, 32], [41, 121, 255], [255, 214, 0], [255, 255, 255]])
        versus = colours[(region.astype(int) << 1) | (lab == concept)].astype(np.uint8)
        out.append((shown, seg, versus))
    return out


def make_report(root: Path, layers: int, units: int, px: int, distinct: int) -> None:
    spec = SyntheticSpec(
        layers=tuple(f"layer{i + 1}" for i in range(layers)), units=units, images=False
    )
    write_synthetic_report(root, spec)
    rng = np.random.default_rng(0)
    pool = 4 * units  # the samples units show (the built-in world: 958 for 448 units)
    drawn: dict[int, dict[str, bytes]] = {}
    bands = [b.key for b in BANDS]
    for u in range(distinct):
        ids = [int(i) for i in rng.integers(0, pool, len(bands) * PER_BAND)]
        tiles = _unit_tiles(u, px, ids)
        files: dict[str, bytes] = {}
        for b, key in enumerate(bands):
            rows = tiles[b * PER_BAND : (b + 1) * PER_BAND]
            stacks = [np.stack([t[r] for t in rows]) for r in range(3)]
            for name, data in band_files(0, key, stacks[0], stacks[1:], GAP).items():
                files[name[2:]] = data  # "0-top.webp" -> "top.webp"
        files["thumb.webp"] = thumb_bytes(np.stack([t[0] for t in tiles[:PER_BAND]]), GAP)
        drawn[u] = files
    for layer in spec.layers:
        unit_dir = root / "layers" / layer / "units"
        rows = []
        for u in range(units):
            for name, data in drawn[u % distinct].items():
                write_bytes(unit_dir / f"{u}-{name}", data)
            ids = rng.integers(0, pool, len(bands) * PER_BAND)
            for k, sample in enumerate(ids):
                band = bands[k // PER_BAND]
                rows.append(ExampleRow(u, band, k % PER_BAND, int(sample), float(10 - k * 0.3)))
        table = to_table(rows, ExampleRow)
        write_table(root / "layers" / layer / "examples.parquet", table, EXAMPLES)
        write_json(
            root / "layers" / layer / "examples.json",
            {
                "tile": [px, px],
                "gap": GAP,
                "per_band": PER_BAND,
                "bands": [{"key": b.key, "label": b.label, "lo": b.lo, "hi": b.hi} for b in BANDS],
                "rows": ["image", "segmentation", "mask"],
                "band_files": {"display_factor": max(1, -(-px // 128)), "images": "webp",
                               "masks": "png"},
            },
        )  # fmt: skip
    palette = np.array([scenes.PALETTE[c] for c in scenes.CONCEPTS], np.uint8)
    pair = {}
    for s in range(min(pool, distinct * 4)):
        img, lab = _scene(s, px)
        pair[s] = (webp_bytes(img), exact_png_bytes(palette[lab]))
    for s in range(pool):
        a, b = pair[s % len(pair)]
        write_bytes(root / "samples" / f"{s}.webp", a)
        write_bytes(root / "samples" / f"{s}-seg.png", b)
    index = [SampleRow(s, ("sky", "grass"), (0.5, 0.5)) for s in range(pool)]
    write_table(root / "samples" / "index.parquet", to_table(index, SampleRow), SAMPLES_INDEX)


def zipped_bytes(site: Path) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for here, _dirs, names in os.walk(site):
            for name in names:
                path = Path(here, name)
                z.write(path, path.relative_to(site).as_posix())
    return len(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--report", type=Path, help="an existing report (default: synthetic)")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--units", type=int, default=512)
    p.add_argument("--px", type=int, default=256, help="sample size in pixels")
    p.add_argument("--distinct", type=int, default=32, help="units drawn (bytes reused)")
    p.add_argument("--max-site-mb", type=float, default=None)
    p.add_argument("--keep", type=Path, help="write the synthetic report here (kept)")
    args = p.parse_args(argv)
    progress.set_quiet(True)
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        report = args.report
        if report is None:
            report = args.keep or Path(tmp) / "report"
            t = time.perf_counter()
            make_report(report, args.layers, args.units, args.px, args.distinct)
            print(f"synthetic report written in {time.perf_counter() - t:.0f} s")
        result = render_site(report, out=Path(tmp) / "site", max_site_mb=args.max_site_mb)
        sizes = result.sizes
        assert sizes is not None
        units = max(1, result.unit_pages)
        search = result.site_dir / "search" / "search_index.json"
        print(f"machine: {platform.machine()} {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}")
        print(
            f"report: {report if args.report else f'{args.layers} x {args.units} units, {args.px} px'}"
        )
        print("| what | MB | KB per unit |")
        print("|---|---:|---:|")
        for kind, size in sizes.kinds.items():
            print(f"| {kind} | {size / 1e6:.1f} | {size / units / 1e3:.1f} |")
        print(f"| **site** | **{sizes.total / 1e6:.1f}** | **{sizes.total / units / 1e3:.1f}** |")
        zipped = zipped_bytes(result.site_dir)
        print(f"| site zipped | {zipped / 1e6:.1f} | {zipped / units / 1e3:.1f} |")
        print(f"| search index (json) | {search.stat().st_size / 1e6:.2f} | "
              f"{search.stat().st_size / units / 1e3:.2f} |")  # fmt: skip
        print(f"pages {result.pages}, files {sizes.files}, render {result.seconds:.0f} s")
        if result.budget_note:
            print(f"budget: {result.budget_note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Paint brushes before and after: what a stroke on the ground turns into, by the segmenter.

Usage::

    python bench/bench_brushes.py REPORT                       # a report after `intervene`
    python bench/bench_brushes.py REPORT --concepts tree,building,water --measure 64

For each concept: the interventions' top units by IoU (the brush Paint offered before,
``top_units`` of concepts/index.parquet, all of them) against the brush
:func:`dissect_report.paint.brushes.make_brush` chooses (an optimized unit set ranked by
learned alpha, n chosen on the dissection's samples). Both are measured the same way on the same held-out
strokes (2x2 cells of the layer on grass, one per sample, the interventions' held-out seed,
samples from ``--first``), through the interventions' edit hook and the real segmenter:
precision = share of the stroke's changed pixels that become the concept. Prints a Markdown
table; never asserted.

A second table measures each brush (the after set, at its n) where its concept belongs too:
strokes at the windows where the concept occurs most often in the dissection's samples
(:func:`dissect_report.paint.brushes.concept_prior`), context = what those strokes covered
before (sky for cloud, ...), beside the strokes on the ground: one row per (concept, context).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch

from dissect_report.modeltools.frozen import frozen
from dissect_report.modeltools.reopen import models_from_manifest
from dissect_report.paint import brushes as B
from dissect_report.paint.stage import brush_inputs, concept_brush
from dissect_report.reportdir.report import open_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--concepts", default="", help="comma-separated; default: all intervened")
    parser.add_argument("--select", type=int, default=B.BrushSettings().select_samples)
    parser.add_argument("--measure", type=int, default=B.BrushSettings().measure_samples)
    parser.add_argument("--first", type=int, default=B.BrushSettings().measure_first)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    opened = open_report(args.report)
    models = models_from_manifest(opened.raw)
    settings = B.BrushSettings(
        select_samples=args.select,
        measure_samples=args.measure,
        measure_first=args.first,
    )
    inputs = brush_inputs(args.report, opened.raw)
    wanted = [c for c in args.concepts.split(",") if c] or [i.name for i in inputs.concepts]
    names = models.concepts
    rows, places = [], []
    for item in inputs.concepts:
        if item.name not in wanted:
            continue
        c = names.index(item.name)
        start = time.perf_counter()
        brush = concept_brush(models, inputs, item, settings)
        seconds = time.perf_counter() - start
        mea_z = models.latents(settings.measure_ids(), seed=inputs.measure_seed)
        with frozen(models.generator):
            before = B._labels(models, mea_z, settings.batch_size)
            hw = B._layer_hw(models, inputs.layer, mea_z[:1])
        ground = [names.index(g) for g in settings.ground if g in names and g != item.name]
        strokes = B.find_strokes(before, c, hw, settings.stroke, ground)
        old = B.score(
            models, inputs.layer, mea_z, before, strokes, settings.stroke, hw,
            list(item.top_units), item.all_levels,
        )  # fmt: skip
        others = ", ".join(f"{n} {v:.0%}" for n, v in old.others(c, names))
        new_others = ", ".join(f"{n} {v:.0%}" for n, v in brush.others)
        rows.append(
            f"| {item.name} | {len(item.top_units)} by IoU | {old.precision(c):.0%} "
            f"| {old.coverage(c):.0%} | {others} | {brush.n} by {brush.method} "
            f"| {brush.precision:.0%} | {brush.coverage:.0%} | {new_others} "
            f"| {'yes' if brush.offered else 'marked'} | {brush.strokes} | {seconds:.1f} s |"
        )
        print(rows[-1], flush=True)
        where = "ground (" + ", ".join(settings.ground) + ")" if brush.on_ground else "lowest"
        places.append(
            f"| {item.name} | {where} | {brush.strokes} | {brush.precision:.0%} "
            f"| {brush.coverage:.0%} | {new_others} | {brush.n} |"
        )
        if brush.place is not None:
            p = brush.place
            else_ = ", ".join(f"{n} {v:.0%}" for n, v in p.others)
            places.append(
                f"| {item.name} | in its place ({p.context}) | {p.strokes} | {p.precision:.0%} "
                f"| {p.coverage:.0%} | {else_} | {brush.n} |"
            )
    print(
        "\n| concept | before: units | precision | coverage | else | after: units | precision "
        "| coverage | else | offered | strokes | time |\n|---|---|---:|---:|---|---|---:|---:|---|"
        "---|---:|---:|"
    )
    print("\n".join(rows))
    print(
        "\n| concept | context | strokes | precision | coverage | else | units |"
        "\n|---|---|---:|---:|---:|---|---:|"
    )
    print("\n".join(places))


if __name__ == "__main__":
    main()

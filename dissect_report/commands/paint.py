"""``dissect-report paint REPORT``: export what the site's Paint page needs (GANPaint offline).

Usage::

    dissect-report paint report                 # after `intervene`; then `dissect-report render`
    dissect-report paint report --samples 16 --full-weights
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from dissect_report.paint.settings import PaintConfig

DESCRIPTION = """\
Export the generator's tail (the intervention layer -> the image) to ONNX and store held-out
samples' activations at that layer with the interventions' per-concept unit sets and
insertion levels, into REPORT/paint/. 'dissect-report render' then adds a Paint page where
anyone can add or remove a concept's units on a grid over a sample and see the generator
redraw it, in the browser, offline (ONNX Runtime Web). 'run' does this by default for the
built-in world ('--paint' for your own generator). A generator that cannot be exported gets
a one-line note (here and on the page); the rest of the report is unaffected."""


def print_summary(result: Any) -> None:
    """One line on the Paint stage and one per brush (also used by ``run``); the note goes
    to stderr."""
    from dissect_report.render.fmt import pct, usual_position

    if result.available:
        print(
            f"paint: {result.samples} samples at {result.layer}, tail {result.model_bytes / 1e6:.1f}"
            f" MB ONNX, {result.seconds:.1f} s"
        )
        for b in result.brushes:
            mark = "" if b.offered else " (below the bar: offered marked)"
            measured = (
                f"{pct(b.precision)} of the pixels its strokes changed became {b.concept}"
                if math.isfinite(b.precision)
                else "its held-out strokes changed no pixel, so how much of a stroke becomes "
                f"{b.concept} is unknown"
            )
            place = (
                ""
                if b.place is None
                else f"; {usual_position(b.place.context)}: {pct(b.place.precision)}"
                if math.isfinite(b.place.precision)
                else f"; {usual_position(b.place.context)} its strokes changed no pixel"
            )
            print(f"  {b.concept} brush: {b.n} units by {b.method}; {measured}{place}{mark}")
    else:
        print(f"paint: not available: {result.note}", file=sys.stderr)


def add_paint_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--paint-samples",
        type=int,
        default=PaintConfig.samples,
        help=f"held-out samples offered on the Paint page (default {PaintConfig.samples})",
    )
    p.add_argument(
        "--full-weights",
        action="store_true",
        help="keep the tail's weights in float32 (default: float16, half the bytes)",
    )

    p.add_argument(
        "--brush-select",
        type=int,
        default=PaintConfig.brush_select,
        help="dissection samples each brush's unit count is chosen on "
        f"(default {PaintConfig.brush_select})",
    )
    p.add_argument(
        "--brush-measure",
        type=int,
        default=PaintConfig.brush_measure,
        help="held-out samples each brush's precision is measured on "
        f"(default {PaintConfig.brush_measure})",
    )
    p.add_argument(
        "--no-brushes",
        action="store_true",
        help="keep the interventions' top units by IoU as the brushes, unmeasured",
    )


def config_from_args(args: argparse.Namespace) -> PaintConfig:
    return PaintConfig(
        samples=args.paint_samples,
        half_weights=not args.full_weights,
        brushes=not args.no_brushes,
        brush_select=args.brush_select,
        brush_measure=args.brush_measure,
    )


def handler(args: argparse.Namespace) -> int:
    from dissect_report.commands.dissect import command_line
    from dissect_report.outlock import locked
    from dissect_report.paint.stage import build_paint

    config = config_from_args(args)
    with locked(args.report, command_line()):  # one writer per report
        print_summary(build_paint(config, args.report))
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "paint",
        help="export the generator's tail for the site's Paint page",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("report", type=Path, help="report directory (with interventions)")
    add_paint_flags(p)
    p.set_defaults(func=handler)

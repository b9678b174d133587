"""``dissect-report artifacts REPORT``: find the units that cause artifacts, and repair them.

Usage::

    dissect-report artifacts report
    dissect-report artifacts report --layer layer4 --samples 1024 --repair-units 8
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path
from typing import Any

from dissect_report.artifacts.settings import ArtifactConfig

DESCRIPTION = """\
Score every unit of one layer by the quality of the images it activates most on: the
discriminator's realism logit (when the model has one; the built-in world does) and the
Frechet distance of their features to all generated images. Rank the units, ablate the worst
--repair-units on separate held-out samples, and report quality before/after (FSD to real
images where the model provides them, mean realism) with before/after images of the worst
samples. Writes REPORT/artifacts/ and updates manifest.json (see docs/report-format.md)."""

FLAGS: dict[str, tuple[str, type, str]] = {
    "--layer": ("layer", str, "layer to score (default: the interventions' layer, else the last)"),
    "--samples": ("samples", int, "scoring samples that rank the units"),
    "--repair-samples": ("repair_samples", int, "held-out samples the repair is measured on"),
    "--score-seed": (
        "score_seed",
        int,
        "seed of the scoring samples (default: dissection seed + 2)",
    ),
    "--repair-seed": (
        "repair_seed",
        int,
        "seed of the repair samples (default: dissection seed + 3)",
    ),
    "--top-k": ("top_k", int, "top-activating images per unit"),
    "--repair-units": ("repair_units", int, "most confirmed units ablated by the repair"),
    "--candidates": ("candidates", int, "worst-scored units checked by ablating each alone"),
    "--min-gain": ("min_gain", float, "improvement that confirms a candidate as artifact unit"),
    "--show-units": ("show_units", int, "worst units whose top images are drawn"),
    "--worst-samples": ("worst_samples", int, "rows of before_after.png"),
    "--batch-size": ("batch_size", int, "images per forward pass (results do not depend on it)"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    defaults = {f.name: f.default for f in fields(ArtifactConfig)}
    p.add_argument("report", type=Path, help="report directory (must have manifest.json)")
    for flag, (name, typ, text) in FLAGS.items():
        shown = "" if defaults[name] is None else f" (default {defaults[name]})"
        p.add_argument(flag, dest=name, type=typ, default=None, help=text + shown)
    p.add_argument(
        "--discriminator",
        help="factory 'pkg.module:make' of a discriminator (images -> logits); "
        "'none' turns the built-in world's off",
    )
    p.add_argument(
        "--discriminator-weights", help=".safetensors/.pt state dict for --discriminator"
    )
    p.add_argument(
        "--features",
        help="factory 'pkg.module:make' returning a feature extractor (images -> (N, D)); "
        "default: the segmenter's features",
    )


def handler(args: argparse.Namespace) -> int:
    from dissect_report.artifacts.stage import find_artifacts
    from dissect_report.interventions import reportio
    from dissect_report.interventions.loading import bundle_from_manifest

    values = {
        name: getattr(args, name) for name, *_ in FLAGS.values() if getattr(args, name) is not None
    }
    config = ArtifactConfig(**values)
    models = bundle_from_manifest(
        reportio.read_manifest(args.report),
        discriminator=args.discriminator,
        discriminator_weights=args.discriminator_weights,
        features=args.features,
    )
    print_summary(find_artifacts(config, args.report, models=models))
    return 0


def print_summary(result: Any) -> None:
    """The worst units and the repair's effect (also used by ``run``)."""
    rep = result.repair
    print(f"artifact units of {result.layer} ({result.seconds:.1f} s), worst first:")
    for s in result.units[: max(len(rep.units), 5)]:
        print(f"  unit {s.unit}: score {s.score:.2f}, fsd {s.fsd:.3g}, realism {s.realism:.3g}")
    print(
        f"repair (ablate units {', '.join(map(str, rep.units)) or 'none'}) on {rep.count} samples:"
    )
    print(f"  FSD {rep.fsd_before:.4g} -> {rep.fsd_after:.4g}")
    print(f"  realism {rep.realism_before:.4g} -> {rep.realism_after:.4g}")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "artifacts",
        help="rank units by artifact score and repair by ablation on an existing report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=handler)

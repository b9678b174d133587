"""``dissect-report artifacts REPORT``: find the units that cause artifacts, and repair them.

Usage::

    dissect-report artifacts report
    dissect-report artifacts report --layer layer4 --samples 1024 --repair-units 8
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dissect_report.artifacts.settings import ArtifactConfig
from dissect_report.commands.flagtable import FlagTable, add_flags, given
from dissect_report.config import read_table

DESCRIPTION = """\
Score every unit of one layer by the quality of the images it activates most on: the
discriminator's realism logit (when the model has one; the built-in world does) and the
Frechet distance of their features to all generated images. That ranking is a correlation,
so the worst --candidates units are then screened causally: each is ablated alone, and it is
confirmed when the scoring samples get better by --metric (FSD to real images where the
model has them) on both halves of them. The repair set grows from the confirmed units, best
first, while it keeps improving; it is measured on separate held-out samples (FSD and mean
realism before/after, with before/after images of the worst samples). Writes
REPORT/artifacts/ and updates manifest.json (see docs/report-format.md)."""

FLAGS: FlagTable = {
    "--layer": ("layer", str, "layer to score (default: the last dissected layer)"),
    "--samples": ("samples", int, "scoring samples that rank the units"),
    "--repair-samples": ("repair_samples", int, "held-out samples the repair is measured on"),
    "--reference-samples": (
        "reference_samples",
        int,
        "real images the FSD compares with (when the model has them)",
    ),
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
    "--candidates": ("candidates", int, "worst-scored units screened by ablating each alone"),
    "--metric": (
        "metric",
        str,
        "quality the screen and repair improve: auto (fsd with real images, else realism), "
        "fsd, realism or feature-distance",
    ),
    "--min-gain": ("min_gain", float, "improvement that confirms a candidate as artifact unit"),
    "--show-units": ("show_units", int, "worst units whose top images are drawn"),
    "--worst-samples": ("worst_samples", int, "rows of before_after.png"),
    "--batch-size": ("batch_size", int, "images per forward pass (results do not depend on it)"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("report", type=Path, help="report directory (must have manifest.json)")
    p.add_argument(
        "--config", metavar="FILE", help="TOML file whose [artifacts] table sets these settings"
    )
    add_flags(p, FLAGS, ArtifactConfig)
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

    config = ArtifactConfig(
        **{**read_table(args.config, "artifacts", ArtifactConfig), **given(args, FLAGS)}
    )
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
    print(f"artifact units of {result.layer} ({result.seconds:.1f} s)")
    worst = ", ".join(f"{s.unit} ({s.score:.2f})" for s in result.units[:5])
    print(f"  worst by artifact score: {worst}")
    confirmed = [result.gains[u] for u in result.confirmed]
    best = sorted(confirmed, key=lambda g: (-g.gain, g.unit))
    helped = ", ".join(f"{g.unit} ({g.gain:+.3g})" for g in best[:5])
    print(
        f"  causal screen of {len(result.gains)} units by {result.metric}: "
        f"{len(result.confirmed)} confirmed" + (f"; best {helped}" if helped else "")
    )
    units = ", ".join(map(str, rep.units)) or "none"
    print(f"repair (ablate units {units}) on {rep.count} held-out samples:")
    for name, before, after, higher in (
        ("FSD", rep.fsd_before, rep.fsd_after, False),
        ("realism", rep.realism_before, rep.realism_after, True),
    ):
        if before == before:  # not NaN: the model has what this metric needs
            better = (after > before) if higher else (after < before)
            verdict = "same" if after == before else "better" if better else "worse"
            print(f"  {name} {before:.4g} -> {after:.4g} ({verdict})")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "artifacts",
        help="rank units by artifact score and repair by ablation on an existing report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=handler)

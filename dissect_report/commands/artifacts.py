"""``dissect-report artifacts REPORT``: find the units that cause artifacts, and repair them.

Usage::

    dissect-report artifacts report
    dissect-report artifacts report --layer layer4 --samples 1024 --repair-units 8
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from dissect_report.artifacts.settings import ArtifactConfig
from dissect_report.commands.flagtable import FlagTable, add_flags, given
from dissect_report.commands.overrides import add_model_override_arguments
from dissect_report.config import read_table

DESCRIPTION = """\
Score every unit of one layer by the quality of the images it activates most on (the
Frechet distance of their features to all generated images, minus the discriminator's
realism when there is one) and draw the worst units' top images. That ranking is a
correlation. A repair needs a quality metric: FSD against real images (--real-images: a folder
of PNG/JPEG, an .npz or a Parquet of images; the built-in world renders its own) or a
discriminator's realism logits (--discriminator; a final sigmoid is detected and undone). With
one, the worst --candidates units are screened causally (each ablated alone, confirmed when the
scoring samples get better on both halves of them), the repair set grows from the confirmed
units while it keeps improving, and the set is kept only if, on separate held-out samples, it
improves the metric and does not degrade an independent check (realism when FSD chose it; the
share of pixels whose segmenter label changes, at most --max-label-change). Without a quality
metric nothing is repaired, and the summary says so. Writes REPORT/artifacts/ and updates
manifest.json (see docs/report-format.md)."""

REAL_IMAGES_HELP = (
    "real images for FSD: a folder of PNG/JPEG, an .npz (N,H,W,3 uint8) or a .parquet with "
    "an 'image' column; resized to the generator's output"
)

FLAGS: FlagTable = {
    "--layer": ("layer", str, "layer to score (default: the last dissected layer)"),
    "--real-images": ("real_images", str, REAL_IMAGES_HELP),
    "--samples": ("samples", int, "scoring samples that rank the units"),
    "--repair-samples": ("repair_samples", int, "held-out samples the repair is measured on"),
    "--reference-samples": (
        "reference_samples",
        int,
        "real images the FSD uses (split in half: screen / held-out measurement)",
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
        "quality the screen and repair improve: auto (fsd with real images, else realism "
        "with a discriminator, else none: nothing is repaired), fsd or realism",
    ),
    "--min-gain": ("min_gain", float, "improvement that confirms a candidate as artifact unit"),
    "--max-label-change": (
        "max_label_change",
        float,
        "damage guard: most share of held-out pixels whose segmenter label a repair may change",
    ),
    "--show-units": ("show_units", int, "worst units whose top images are drawn"),
    "--worst-samples": ("worst_samples", int, "samples in the before/after images"),
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
    add_model_override_arguments(p)
    p.add_argument(
        "--features",
        help="factory 'pkg.module:make' returning a feature extractor (images -> (N, D)); "
        "default: the segmenter's features",
    )


def handler(args: argparse.Namespace) -> int:
    from dissect_report.artifacts.stage import find_artifacts
    from dissect_report.commands.dissect import command_line
    from dissect_report.modeltools.reopen import models_from_manifest
    from dissect_report.outlock import locked
    from dissect_report.reportdir.read import read_manifest_dict
    from dissect_report.swap import check_schema

    config = ArtifactConfig(
        **{**read_table(args.config, "artifacts", ArtifactConfig), **given(args, FLAGS)}
    )
    with locked(args.report, command_line()):
        check_schema(args.report)
        models = models_from_manifest(
            read_manifest_dict(args.report),
            discriminator=args.discriminator,
            discriminator_weights=args.discriminator_weights,
            features=args.features,
            generator=args.generator,
            weights=args.weights,
        )
        print_summary(find_artifacts(config, args.report, models=models))
    return 0


def _num(x: float) -> str:
    from dissect_report.render.fmt import num  # the site's rule: never "-0"

    return num(x, 4)


def _fixed(x: float) -> str:
    from dissect_report.render.fmt import fixed

    return fixed(x, 2)


def print_summary(result: Any) -> None:
    """Every number the stage computed, with its direction, then the verdict (also ``run``)."""
    from dissect_report.artifacts.stage import repair_doc

    print(f"artifact units of {result.layer} ({result.seconds:.1f} s)")
    scored = [s for s in result.units if not math.isnan(s.score)]
    worst = ", ".join(f"{s.unit} ({_fixed(s.score)})" for s in scored[:5]) or "none"
    unscored = len(result.units) - len(scored)
    dead = f"; {unscored} constant (dead) unit(s) not scored" if unscored else ""
    print(f"  ranked by artifact score (higher is worse): {worst}{dead}")
    ref = result.settings.get("reference") or {}
    if ref.get("kind") == "real-images":
        print(
            f"  real images: {ref['count']} of {ref['found']} from {ref['source']} "
            f"(sha256 {ref['sha256'][:12]}), half for the screen, half held out"
        )
    if result.settings.get("discriminator_output"):
        print(f"  discriminator output: {result.settings['discriminator_output']}")
    if result.metric != "none":
        lower = result.metric == "fsd"
        direction = "lower is better" if lower else "higher is better"
        print(
            f"  quality metric: {result.metric} ({direction}); "
            f"{_num(result.baseline)} on the unedited scoring samples"
        )
        confirmed = [result.gains[u] for u in result.confirmed]
        best = sorted(confirmed, key=lambda g: (-g.gain, g.unit))
        helped = ", ".join(f"{g.unit} ({g.gain:+.3g})" for g in best[:5])
        print(
            f"  causal screen of {len(result.gains)} units (gain when ablated, higher is "
            f"better): {len(result.confirmed)} confirmed" + (f"; best {helped}" if helped else "")
        )
        for st in repair_doc(result).greedy:  # the metric as reported (realism: a logit)
            print(
                f"  greedy: + unit {st.unit}: {result.metric} {_num(st.value)} "
                f"({'kept' if st.kept else 'not kept'})"
            )
    rep = result.repair
    if rep is not None:
        units = ", ".join(map(str, rep.units))
        print(f"held-out check of ablating units {units} on {rep.count} samples:")
        for r in rep.rows:
            state = (
                ("improved" if r.passed else "not improved")
                if r.role == "metric"
                else ("passed" if r.passed else "FAILED")
            )
            detail = f"; {r.detail}" if r.detail else ""
            print(
                f"  {r.role} {r.label} ({r.direction}): {_num(r.before)} -> {_num(r.after)} "
                f"({state}{detail})"
            )
    verdict = result.verdict
    head = "REPAIRED" if verdict.repaired else "NOT REPAIRED"
    print(f"verdict: {head}: {verdict.reason}")
    if verdict.enable:
        print(f"  to enable a repair: {verdict.enable}")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "artifacts",
        help="rank units by artifact score and repair by ablation on an existing report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=handler)

"""``dissect-report intervene REPORT``: prove units causal by ablation and insertion.

Usage::

    dissect-report intervene report
    dissect-report intervene report --layer layer3 --concepts tree,door --samples 256 --max-units 32
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from dissect_report.commands.flagtable import FlagTable, add_flags, given
from dissect_report.commands.overrides import add_model_override_arguments
from dissect_report.config import read_table
from dissect_report.errors import ConfigError
from dissect_report.interventions.settings import InterventionConfig

DESCRIPTION = """\
Run interventions on an existing report (made by 'dissect-report run' or 'dissect'):
for each concept with interpretable units in one layer, rank the layer's units by IoU with
it at each unit's own threshold for it, ablate the top n (n = 1, 2, 4, ... up to
--max-units) on held-out samples and measure how much of the concept disappears (ACE, net;
and the share of its pixels erased), against n random units and against the whole layer
switched off; insert its units in patches where the concept is absent and report where it
appears (by what was there before), with the unit set that inserts best on the dissection's
samples (top units by learned alpha, or the IoU-top set) beside the IoU-top set; learn an
optimized unit set with the segmenter's
gradients on the dissection's samples; and draw original | ablated | inserted images.
Writes REPORT/concepts/ and updates manifest.json (see docs/report-format.md)."""

# flag -> (config field, type, help); defaults come from InterventionConfig.
FLAGS: FlagTable = {
    "--layer": ("layer", str, "layer to intervene on (default: the most interpretable units)"),
    "--max-concepts": ("max_concepts", int, "concepts to study when --concepts is not given"),
    "--samples": ("samples", int, "held-out samples for ablation ACE"),
    "--seed": ("seed", int, "held-out seed (default: the dissection seed + 1)"),
    "--max-units": ("max_units", int, "largest number of units ablated at once"),
    "--random-trials": ("random_trials", int, "random-unit control draws per n (0: none)"),
    "--quantile": ("quantile", float, "activation quantile used as insertion level"),
    "--insert-samples": ("insert_samples", int, "held-out samples tried for insertion"),
    "--insert-select": (
        "insert_select",
        int,
        "dissection samples the inserted unit set is chosen on (by insertion success)",
    ),
    "--grid": ("grid", int, "insertion sites per side (grid x grid per sample)"),
    "--patch": ("patch", int, "insertion patch side in layer pixels (default: 1/4 of the side)"),
    "--compare-samples": ("compare_samples", int, "rows of compare.png (0: no picture)"),
    "--optimize-steps": ("optimize_steps", int, "Adam steps of the optimized unit set"),
    "--l2": ("l2", float, "L2 penalty on the learned alpha"),
    "--unit-samples": (
        "unit_samples",
        int,
        "held-out samples for each labelled unit's own ablation effect (0: skip)",
    ),
    "--batch-size": ("batch_size", int, "images per forward pass (results do not depend on it)"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("report", type=Path, help="report directory (must have manifest.json)")
    p.add_argument(
        "--config", metavar="FILE", help="TOML file whose [intervene] table sets these settings"
    )
    p.add_argument("--concepts", help="comma-separated concepts (default: the best covered)")
    add_flags(p, FLAGS, InterventionConfig)
    p.add_argument(
        "--insert-level",
        dest="insert_level",
        choices=["quantile", "concept_mean"],
        default=None,
        help="per-unit insertion level: its --quantile activation, or its mean on the concept "
        f"(default {InterventionConfig.insert_level})",
    )
    p.add_argument("--no-optimize", action="store_true", help="skip the optimized unit sets")
    add_model_override_arguments(p)


def config_from_args(args: argparse.Namespace) -> InterventionConfig:
    values = read_table(args.config, "intervene", InterventionConfig)
    values.update(given(args, FLAGS, extra=("insert_level",)))
    if args.concepts:
        concepts = tuple(c.strip() for c in args.concepts.split(","))
        if any(not c for c in concepts):
            raise ConfigError(f"empty concept name in --concepts {args.concepts!r}")
        values["concepts"] = concepts
    if args.no_optimize:
        values["optimize"] = False
    return InterventionConfig(**values)


def handler(args: argparse.Namespace) -> int:
    from dissect_report.commands.dissect import command_line
    from dissect_report.interventions.stage import intervene
    from dissect_report.modeltools.reopen import models_from_manifest
    from dissect_report.outlock import locked
    from dissect_report.reportdir.read import read_manifest_dict
    from dissect_report.swap import check_schema

    config = config_from_args(args)
    with locked(args.report, command_line()):
        check_schema(args.report)
        models = None
        if args.generator is not None or args.weights is not None:
            manifest = read_manifest_dict(args.report)
            models = models_from_manifest(manifest, generator=args.generator, weights=args.weights)
        print_summary(intervene(config, args.report, models=models))
    return 0


def _inserted(c: Any) -> str:
    """The inserted set in a few words: ``measured set of 16`` or ``IoU-top 32``."""
    n = len(c.insert_units or c.top_units)
    return f"measured set of {n}" if c.insert_method == "optimized" else f"IoU-top {n}"


def print_summary(result: Any) -> None:
    """The interventions' findings, one line per concept (also used by ``run``)."""
    # the site's numbers: percentages ("n/a" for NaN) and decimals that never read "-0.00"
    from dissect_report.render.fmt import fixed, pct

    print(f"interventions on {result.layer} (held-out seed {result.seed}), {result.seconds:.1f} s")
    for c in result.concepts:
        optimized = pct(c.share_optimized, "not run")
        insertion = (
            "no insertion site (no patch without the concept)"
            if math.isnan(c.insert_success)
            else f"insertion ({_inserted(c)}) succeeds at {c.insert_success:.0%} of sites, "
            f"adding {fixed(c.insert_added, 2)} of a patch per site"
            + (
                f" (IoU-top units: {pct(c.insert_success_iou, 'n/a')})"
                if c.insert_method != "iou"
                else ""
            )
        )
        print(
            f"  {c.concept}: top {c.n_max} units remove {pct(c.share, 'n/a')} of it, net "
            f"({pct(c.erased, 'n/a')} of its pixels erased; random units {pct(c.share_random, 'n/a')}, "
            f"optimized {optimized}); {insertion}"
        )


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "intervene",
        help="ablation/insertion ACE per concept on an existing report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=handler)

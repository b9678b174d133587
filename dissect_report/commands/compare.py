"""``dissect-report compare GOLDEN NEW``: regression-test a report against a golden report.

Usage::

    dissect-report compare tests/golden/builtin report --iou-atol 0.05
    echo $?   # 0 within tolerance, 1 outside it, 2 bad input (no/corrupt manifest, ...)
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

_DESCRIPTION = """\
Compare report NEW with report GOLDEN: structure (layers, units, concepts, files), the
units and iou tables with per-column tolerances, unit labels (which units changed concept),
images with a tolerance, the interventions and artifacts tables with their own tolerances,
and manifest settings. A derived fact (interpretable flag, best concept, rank, repair-set
membership) that flipped while the number behind it stayed within tolerance is printed as
"within tolerance, near a boundary" and does not fail. Settings that differ (seed, sample
count, model or segmenter hash, tool version; batch size or device when the tables differ)
are printed first as the probable cause. Writes a JSON and a Markdown diff (by default
NEW/compare/diff.json and diff.md). Tolerances and the figures behind their defaults:
docs/regression-tests.md.

exit status: 0 within tolerance, 1 outside it, 2 bad input (a missing or corrupt manifest,
a missing table, schema versions that cannot be compared).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compare`` command."""
    from dissect_report.compare.model import Tolerances

    parser = subparsers.add_parser(
        "compare",
        help="compare a report with a golden report (exit 0 same, 1 changed, 2 bad input)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("golden", type=Path, metavar="GOLDEN", help="the golden report directory")
    parser.add_argument("new", type=Path, metavar="NEW", help="the report directory to check")
    tol = parser.add_argument_group("tolerances")
    for f in fields(Tolerances):
        tol.add_argument(
            "--" + f.name.replace("_", "-"),
            type=float,
            default=f.default,
            metavar="X",
            help=f"{f.metadata['help']} (default {f.default:g})",
        )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--diff-out",
        type=Path,
        metavar="DIR",
        help="directory for diff.json and diff.md (default NEW/compare)",
    )
    out.add_argument("--json", type=Path, metavar="PATH", help="write the JSON diff here instead")
    out.add_argument(
        "--markdown", type=Path, metavar="PATH", help="write the Markdown diff here instead"
    )
    out.add_argument(
        "--no-diff-files", action="store_true", help="only print the summary; write no files"
    )
    out.add_argument(
        "--max-items",
        type=int,
        default=10,
        metavar="N",
        help="list at most N items per kind of difference in the summary (default 10)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compare, print the summary, write the diffs; return the exit status."""
    from dissect_report.compare import Tolerances, compare_reports, write_diffs

    tolerances = Tolerances(**{f.name: getattr(args, f.name) for f in fields(Tolerances)})
    comparison = compare_reports(args.golden, args.new, tolerances)
    text = comparison.summary(max_items=max(args.max_items, 0))
    if not args.no_diff_files:
        json_path, md_path = write_diffs(
            comparison, args.diff_out, json_path=args.json, markdown_path=args.markdown
        )
        text += f"\ndiffs: {json_path} {md_path}\n"
    print(text, end="")
    return 0 if comparison.passed else 1

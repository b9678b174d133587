"""``dissect-report compare GOLDEN NEW``: regression-test a report against a golden report;
``dissect-report compare --findings A B [C ...]``: compare what reports found.

Usage::

    dissect-report compare tests/golden/builtin report --iou-atol 0.05
    echo $?   # 0 within tolerance, 1 outside it, 2 bad input (no/corrupt manifest, ...)
    dissect-report compare --findings ckpt-early ckpt-late --json findings.json
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

Two different models (another generator weights hash or factory, or no layer in common)
are said so in the first line and, past 200 differences, counted per table (all of them in
the diffs); they exit 1.

With --findings, compare what two or more reports (any models, layer names, checkpoints or
datasets, in the order given) found instead, as GAN Dissection's figures do: interpretable
units per concept per layer, concepts gained and lost, mean/max IoU per concept, ACE per
concept, artifact verdicts; for reports of the same architecture, units matched by their
activation correlation on shared samples (or by IoU profile) and the units whose concept
changed; and the recorded settings that differ. Images are not compared.

exit status: 0 within tolerance, 1 outside it, 2 bad input (a missing or corrupt manifest,
a missing table, schema versions that cannot be compared). With --findings: 0, or 2.
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
    parser.add_argument(
        "more", type=Path, nargs="*", metavar="MORE", help="with --findings: more reports"
    )
    found = parser.add_argument_group("findings (compare what reports found)")
    found.add_argument(
        "--findings",
        action="store_true",
        help="compare the findings of two or more reports (GOLDEN NEW MORE... in order)",
    )
    found.add_argument(
        "--names", metavar="A,B,...", help="labels of the reports (default: directory names)"
    )
    found.add_argument(
        "--match",
        choices=("auto", "activation", "iou"),
        default="auto",
        help="match units by activation correlation on shared samples (auto: where both "
        "reports can regenerate them) or by IoU profile (default auto)",
    )
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
    from dissect_report.errors import ConfigError

    if args.findings:
        return _findings(args)
    if args.more:
        raise ConfigError("compare takes two reports (GOLDEN NEW); more need --findings")
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


def _findings(args: argparse.Namespace) -> int:
    """``compare --findings``: print the text, write the JSON if asked."""
    from dissect_report.compare.findings import compare_findings
    from dissect_report.reportdir.atomic import write_json

    names = [n.strip() for n in args.names.split(",")] if args.names else None
    found = compare_findings(args.golden, args.new, *args.more, names=names, match=args.match)
    text = found.summary(max_items=max(args.max_items, 0))
    if args.json is not None:
        write_json(args.json, found.to_dict())
        text += f"\nfindings: {args.json}\n"
    print(text, end="")
    return 0

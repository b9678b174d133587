"""``dissect-report merge``: combine shard directories into one report.

Usage::

    dissect-report dissect --shard 1/2 --out part1
    dissect-report dissect --shard 2/2 --out part2
    dissect-report merge part1 part2 --out report     # identical tables to an unsplit run
"""

from __future__ import annotations

import argparse

from dissect_report.commands.dissect import command_line


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="merge the shards of a dissection into one report",
        description=(
            "Add the statistics of shard directories made by 'dissect --shard i/n' (all n of "
            "them, same config) and write the full report, exactly as an unsplit run would."
        ),
        epilog="Example: dissect-report merge part1 part2 --out report",
    )
    parser.add_argument(
        "shards", nargs="+", metavar="SHARD", help="shard directories (each has shard.json)"
    )
    parser.add_argument("--out", required=True, metavar="REPORT", help="report directory to write")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing report in REPORT"
    )
    parser.add_argument(
        "--no-images", dest="images", action="store_false", help="skip the per-unit image grids"
    )
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from dissect_report.dissection.stage import merge_shards
    from dissect_report.outlock import locked

    with locked(args.out, command_line()):
        result = merge_shards(
            args.shards,
            args.out,
            overwrite=args.overwrite,
            images=args.images,
            command=command_line(),
        )
    print(f"merged {len(args.shards)} shards ({result.samples} samples) into {args.out}")
    return 0

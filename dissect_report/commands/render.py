"""``dissect-report render REPORT``: build the report's static site (offline, shareable).

Usage::

    dissect-report render report                     # -> report/site/index.html
    dissect-report render report --out /tmp/site --baseline tests/golden/builtin
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

DESCRIPTION = """\
Render a report directory into a static website with MkDocs (Material): an overview, a page
per layer (sortable, filterable unit gallery), per unit, per concept, the run's settings, and
the Interventions / Artifacts sections when the report has them. Reads only the report
directory. The site works from the file system with no network: open index.html, or zip it."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "render",
        help="build the static site of a report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("report", type=Path, help="report directory (must have manifest.json)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="site directory (default: REPORT/site); replaced only if it holds a site we built",
    )
    p.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="GOLDEN",
        help="golden report to compare with; adds a Compare page",
    )
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from dissect_report.commands.dissect import command_line
    from dissect_report.outlock import locked
    from dissect_report.render import render_site
    from dissect_report.swap import remove_stale_builds

    # Into REPORT/site: one writer at a time. Elsewhere (--out): the report may be read-only.
    lock = locked(args.report, command_line()) if args.out is None else contextlib.nullcontext()
    with lock:
        if args.out is None:
            remove_stale_builds(args.report)  # a killed render's; the lock keeps others out
        result = render_site(args.report, out=args.out, baseline=args.baseline)
    print(f"site: {result.index} ({result.pages} pages, {result.seconds:.1f} s)")
    return 0

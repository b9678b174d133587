"""``dissect-report render REPORT``: build the report's static site (offline, shareable).

Usage::

    dissect-report render report                     # -> report/site/index.html
    dissect-report render report --out /tmp/site --baseline tests/golden/builtin
    dissect-report render early mid late --out site --ordered   # one site over three reports
    dissect-report render collection.toml                      # the same from a file
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dissect_report.render.site import RenderResult

DESCRIPTION = """\
Render a report directory into a static website with MkDocs (Material): an overview, a page
per layer (sortable, filterable unit gallery), per unit, per concept, the run's settings, and
the Interventions / Artifacts sections when the report has them. Reads only the report
directory. The site works from the file system with no network: open index.html, or zip it.

Several reports (or a collection.toml: [[reports]] path/name, out, ordered) build one site:
each report's site under reports/<name>/, and a comparison page at index.html (interpretable
units per concept x (model, layer) with links into every unit page, a chart of units per
concept across the reports (a bar per report; with --ordered, for training snapshots, a line
per concept), the units whose concept changed); every page of each report's site links back
to it. --out is required then (or out in the file)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "render",
        help="build the static site of a report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "report",
        type=Path,
        nargs="+",
        help="report directory (must have manifest.json); several, or a collection.toml, "
        "build one collection site",
    )
    p.add_argument(
        "--ordered",
        action="store_true",
        help="collection: the reports are snapshots in training order (dynamics chart)",
    )
    p.add_argument(
        "--names", metavar="A,B,...", help="collection: labels of the reports (default: names)"
    )
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
    p.add_argument(
        "--max-site-mb",
        type=positive_mb,
        default=None,
        metavar="N",
        help="size budget of the site in MB: leave out the zoom's full-size files, then example "
        "bands from the weakest up, until it fits (the pages say what was left out)",
    )
    p.add_argument(
        "--all-sample-pages",
        action="store_true",
        help="a page for every sample a unit shows (default: the samples of each unit's two "
        "strongest bands; weaker bands' tiles show the id, unlinked)",
    )
    p.set_defaults(func=handler)


def _collection(args: argparse.Namespace) -> int:
    """Several reports, or a collection.toml: one site with a comparison page."""
    from dissect_report.errors import ConfigError
    from dissect_report.render.collection import Collection, read_collection, render_collection

    if len(args.report) == 1 and args.report[0].suffix == ".toml":
        found = read_collection(args.report[0])
    else:
        names = tuple(n.strip() for n in args.names.split(",")) if args.names else None
        found = Collection(tuple(args.report), names, None, args.ordered)
    out = args.out or found.out
    if out is None:
        raise ConfigError('a collection site needs --out DIR (or out = "DIR" in the file)')
    if args.baseline is not None:
        raise ConfigError("--baseline renders one report; a collection compares its reports")
    labels = list(found.names) if found.names else None
    result = render_collection(
        list(found.reports), out, labels, ordered=found.ordered or args.ordered
    )
    print(f"site: {result.index} ({len(result.prefixes)} reports, {result.seconds:.1f} s)")
    return 0


def positive_mb(text: str) -> float:
    """An argparse type: a size in MB above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a size above 0 MB; got {text!r}")
    return value


def print_site(result: RenderResult) -> None:
    """The render's summary lines: where, how many pages, and the bytes by page kind."""
    print(f"site: {result.index} ({result.pages} pages, {result.seconds:.1f} s)")
    if result.sizes is not None:
        print(f"size: {result.sizes.summary()}")
    if result.budget_note:
        print(f"budget: {result.budget_note}")


def handler(args: argparse.Namespace) -> int:
    if len(args.report) > 1 or args.report[0].suffix == ".toml":
        return _collection(args)
    args.report = args.report[0]
    from dissect_report.commands.dissect import command_line
    from dissect_report.outlock import locked
    from dissect_report.render import render_site
    from dissect_report.swap import remove_stale_builds

    # Into REPORT/site: one writer at a time. Elsewhere (--out): the report may be read-only.
    lock = locked(args.report, command_line()) if args.out is None else contextlib.nullcontext()
    with lock:
        if args.out is None:
            remove_stale_builds(args.report)  # a killed render's; the lock keeps others out
        result = render_site(
            args.report,
            out=args.out,
            baseline=args.baseline,
            max_site_mb=args.max_site_mb,
            all_sample_pages=args.all_sample_pages,
        )
    print_site(result)
    return 0

"""The ``dissect-report`` command line: a thin layer over the Python API.

Usage::

    dissect-report --help
    dissect-report run --out report

Each command lives in the module that implements its stage and exposes
``register(subparsers)``; this file only wires them together and turns
:class:`~dissect_report.errors.UserError` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from dissect_report import __version__
from dissect_report.errors import UserError

# Modules that define ``register(subparsers) -> None``; each adds one command (or a group).
# A module that does not exist yet is skipped, so stages can land one at a time.
COMMAND_MODULES = [
    "dissect_report.commands.run",
    "dissect_report.commands.layers",
    "dissect_report.commands.dissect",
    "dissect_report.commands.merge",
    "dissect_report.commands.render",
    "dissect_report.commands.serve",
    "dissect_report.commands.intervene",
    "dissect_report.commands.artifacts",
    "dissect_report.commands.compare",
    "dissect_report.world.cli",
]

log = logging.getLogger("dissect_report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dissect-report",
        description="Dissect a GAN's units into concepts and publish the findings as a site.",
    )
    parser.add_argument("--version", action="version", version=f"dissect-report {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside an existing module
                raise
            continue
        module.register(sub)
    _add_global_flags(sub)
    return parser


def _add_global_flags(sub: argparse._SubParsersAction) -> None:
    """Accept ``--quiet``/``--verbose`` after the command too (``dissect-report run -q``)."""
    for parser in set(sub.choices.values()):
        for flags, help_ in (
            (("-q", "--quiet"), "no progress bars or logs"),
            (("-v", "--verbose"), "debug logging"),
        ):
            with contextlib.suppress(argparse.ArgumentError):  # the command defines it itself
                parser.add_argument(
                    *flags, action="store_true", default=argparse.SUPPRESS, help=help_
                )
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_global_flags(action)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from dissect_report import progress

    handler = progress.TqdmLogHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO,
        handlers=[handler],
    )
    if args.command is None or not hasattr(args, "func"):
        parser.print_help()
        return 0 if args.command is None else 2
    progress.set_quiet(args.quiet)
    try:
        result = args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (piped into head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())

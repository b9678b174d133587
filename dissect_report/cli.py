"""The ``dissect-report`` command line: a thin layer over the Python API.

Usage::

    dissect-report --help
    dissect-report run --out report

Each command lives in its module of :mod:`dissect_report.commands` (the built-in world's in
:mod:`dissect_report.world.cli`) and exposes ``register(subparsers)``; this file only wires
them together (:data:`COMMAND_MODULES`) and is the one error boundary:
a :class:`~dissect_report.errors.UserError` (also an exception raised inside the user's
generator, segmenter or discriminator, named as such), a problem of the machine (no space
left, no permission, no CUDA) and a bad flag all become one line on stderr and exit code 2.
``--debug`` prints the traceback as well. Anything else is a bug: one line, exit code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from dissect_report import __version__
from dissect_report.errors import UserError, environment_problem, one_line

# Modules that define ``register(subparsers) -> None``; each adds one command (or a group).
COMMAND_MODULES = [
    "dissect_report.commands.run",
    "dissect_report.commands.layers",
    "dissect_report.commands.check",
    "dissect_report.commands.dissect",
    "dissect_report.commands.merge",
    "dissect_report.commands.render",
    "dissect_report.commands.serve",
    "dissect_report.commands.intervene",
    "dissect_report.commands.artifacts",
    "dissect_report.commands.paint",
    "dissect_report.commands.compare",
    "dissect_report.world.cli",
]

log = logging.getLogger("dissect_report")


class UsageError(UserError):
    """A bad command line; raised instead of argparse's exit so the boundary prints it."""


class _Parser(argparse.ArgumentParser):
    """argparse without the usage dump: a bad flag is one line naming the command's --help."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


GLOBAL_FLAGS = (
    (("-q", "--quiet"), "no progress bars or logs"),
    (("-v", "--verbose"), "debug logging"),
    (("--debug",), "print the traceback of an error (for bug reports)"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dissect-report",
        description="Dissect a GAN's units into concepts and publish the findings as a site.",
    )
    parser.add_argument("--version", action="version", version=f"dissect-report {__version__}")
    for flags, help_ in GLOBAL_FLAGS:
        parser.add_argument(*flags, action="store_true", help=help_)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _add_global_flags(sub)
    return parser


def _add_global_flags(sub: argparse._SubParsersAction) -> None:
    """Accept ``--quiet``/``--verbose``/``--debug`` after the command too (``run -q``)."""
    for parser in set(sub.choices.values()):
        for flags, help_ in GLOBAL_FLAGS:
            with contextlib.suppress(argparse.ArgumentError):  # the command defines it itself
                parser.add_argument(
                    *flags, action="store_true", default=argparse.SUPPRESS, help=help_
                )
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_global_flags(action)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv  # known before parsing, so a failing parse can honour it
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return _fail(exc, debug, 2)
    from dissect_report import progress

    # The handler goes on the package's logger, not the root: main() may run several times in
    # one process (tests, notebooks), and the root's handlers (pytest's caplog, a user's own
    # logging set-up) stay as they are while records still propagate to them.
    handler = progress.TqdmLogHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    for old in [h for h in log.handlers if isinstance(h, progress.TqdmLogHandler)]:
        log.removeHandler(old)
    log.addHandler(handler)
    # --debug also logs at debug level: Ray workers' output then reaches the terminal
    verbose = args.verbose or args.debug
    log.setLevel(logging.DEBUG if verbose else logging.WARNING if args.quiet else logging.INFO)
    if args.command is None or not hasattr(args, "func"):
        build_parser().print_help()
        return 0 if args.command is None else 2
    progress.set_quiet(args.quiet)
    try:
        result = args.func(args)
    except UserError as exc:
        return _fail(exc, args.debug, 2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (piped into head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        problem = environment_problem(exc)
        if problem is not None:  # the machine's fault (disk full, no permission, no CUDA)
            return _fail(problem, args.debug, 2, cause=exc)
        return _fail(exc, args.debug, 1, bug=True)
    return int(result or 0)


def _fail(
    exc: BaseException,
    debug: bool,
    code: int,
    *,
    cause: BaseException | None = None,
    bug: bool = False,
) -> int:
    """Print ``exc`` as one line (after its traceback with ``--debug``); return the exit code."""
    sys.stdout.flush()
    if debug:
        traceback.print_exception(cause or exc, file=sys.stderr)
    line = one_line(exc)
    if bug and not debug:
        line = f"internal error: {line} (a bug: rerun with --debug and report the traceback)"
    print(f"error: {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

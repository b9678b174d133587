"""Flags that map one to one onto a settings dataclass (``intervene`` and ``artifacts``).

Usage::

    FLAGS = {"--samples": ("samples", int, "scoring samples")}     # flag -> (field, type, help)
    add_flags(parser, FLAGS, ArtifactConfig)        # help shows each field's default
    config = ArtifactConfig(**given(args, FLAGS))   # only the flags the user gave

Every flag defaults to None so that the dataclass keeps the one true default.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

FlagTable = dict[str, tuple[str, type, str]]


def add_flags(p: argparse.ArgumentParser, flags: FlagTable, settings: type) -> None:
    defaults = {f.name: f.default for f in fields(settings)}
    for flag, (name, typ, text) in flags.items():
        shown = "" if defaults[name] is None else f" (default {defaults[name]})"
        p.add_argument(flag, dest=name, type=typ, default=None, help=text + shown)


def given(args: argparse.Namespace, flags: FlagTable, extra: Iterable[str] = ()) -> dict[str, Any]:
    """The settings the user gave: the table's fields (and ``extra`` ones) that are not None."""
    names = [name for name, *_ in flags.values()] + list(extra)
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}

"""``--generator`` / ``--weights`` on commands that work on a finished report.

Usage::

    dissect-report intervene report --weights /elsewhere/g.safetensors
    dissect-report artifacts report --generator mypkg.models:make_generator

A report records its models by absolute path and content hash; these flags point a stage
at the same model elsewhere (another directory or machine). The model they load must have
the recorded hashes, or the stage refuses it and names what differs.
"""

from __future__ import annotations

import argparse


def add_model_override_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("the report's model, elsewhere")
    g.add_argument(
        "--generator",
        metavar="PKG.MOD:FACTORY",
        help="the generator factory, if the recorded one cannot be imported here "
        "(must load the recorded model: checked by hash)",
    )
    g.add_argument(
        "--weights",
        metavar="FILE",
        help="the generator weights, if the recorded path does not exist here "
        "(checked against the recorded sha256)",
    )

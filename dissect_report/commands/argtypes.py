"""argparse value types that refuse what no command can use, in the parser's one line.

Usage::

    parser.add_argument("--z-dim", type=positive_int)   # '--z-dim -3' -> one-line usage error
"""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An integer >= 1 (``'0'`` and ``'-3'`` are refused with the value named)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value

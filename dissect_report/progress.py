"""Progress bars that respect ``--quiet``.

Usage::

    from dissect_report.progress import bar
    for batch in bar(batches, desc="dissect", unit="batch"):
        ...
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence every progress bar (the CLI's ``--quiet``)."""
    global _quiet
    _quiet = quiet


class TqdmLogHandler(logging.StreamHandler):
    """Log lines written above the progress bars instead of through them."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


def bar(iterable: Iterable[T] | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr, disabled when quiet or when stderr is not a terminal and quiet."""
    kwargs.setdefault("disable", _quiet)
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)

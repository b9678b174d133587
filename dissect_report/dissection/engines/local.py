"""The local engine: the whole pass in this process, checkpointed every few batches.

Usage::

    from dissect_report.dissection.engines.local import run_local
    states, shapes = run_local(models, config, 0, 500, partial=Path("report/.partial"), resume=True)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dissect_report.dissection.statspass import run_pass

if TYPE_CHECKING:
    from dissect_report.config import DissectConfig
    from dissect_report.dissection.engines.base import Shapes
    from dissect_report.dissection.stats import LayerState
    from dissect_report.models import Models


def run_local(
    models: Models,
    config: DissectConfig,
    start: int,
    stop: int,
    *,
    partial: Path | None,
    resume: bool,
) -> tuple[dict[str, LayerState], Shapes]:
    """:func:`dissect_report.dissection.statspass.run_pass` with its checkpoint under ``partial``."""

    checkpoint = partial / "checkpoint.npz" if partial is not None else None
    return run_pass(models, config, start, stop, checkpoint=checkpoint, resume=resume)

"""Engines run the one statistics pass: in this process (``local``) or as shards on Ray.

Usage::

    from dissect_report.dissection.engines import run_engine
    states, shapes = run_engine(models, config, 0, config.samples, partial=None, resume=False)

Every engine returns the same mergeable :class:`~dissect_report.dissection.stats.LayerState` per layer
(counts are integers and top-k ties break by sample id), so the tables never depend on the
engine, the number of shards or the workers. ``config.engine`` picks one; ``address``,
``shards`` and ``workers`` belong to the ``ray`` engine.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from dissect_report.dissection.engines.base import Shapes, check_engine_fields

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from dissect_report.config import DissectConfig
    from dissect_report.dissection.stats import LayerState
    from dissect_report.models import Models


def run_engine(
    models: Models,
    config: DissectConfig,
    start: int,
    stop: int,
    *,
    partial: Path | None,
    resume: bool,
) -> tuple[dict[str, LayerState], Shapes]:
    """The state of every layer over samples ``[start, stop)``, by ``config.engine``.

    ``partial`` is the report's directory of unfinished work (checkpoints for ``resume``);
    ``None`` keeps nothing on disk.
    """
    check_engine_fields(config)
    if config.engine == "ray":
        from dissect_report.dissection.engines.ray_engine import run_ray

        return run_ray(models, config, start, stop, partial=partial, resume=resume)
    from dissect_report.dissection.engines.local import run_local

    return run_local(models, config, start, stop, partial=partial, resume=resume)


def driver_config(config: DissectConfig) -> DissectConfig:
    """The config the driver loads its own models with: on the Ray engine, a driver without
    ``config.device`` (a CPU-only head node driving GPU workers) loads them on the CPU for
    the model check and the unit images; calibration and shards run on the workers."""
    if config.engine != "ray" or device_available(config.device):
        return config
    log.info("no %s on this machine: the driver's models load on the CPU", config.device)
    return config.model_copy(update={"device": "cpu"})


def device_available(device: str) -> bool:
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return torch.backends.mps.is_available()
    return True

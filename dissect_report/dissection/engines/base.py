"""What every engine shares: the pass's result types, its errors, the engine-field check.

Usage::

    from dissect_report.dissection.engines.base import Calibration, EngineError, Shapes, ShardError
    edges, shapes = calibration          # Calibration: (edges per layer, (U, H, W) per layer)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dissect_report.errors import ConfigError, UserError

if TYPE_CHECKING:
    from dissect_report.config import DissectConfig

Shapes = dict[str, tuple[int, int, int]]
Calibration = tuple[dict[str, np.ndarray], Shapes]
_RAY_ONLY = ("address", "shards", "workers", "runtime_env", "stall_timeout")


class EngineError(UserError):
    """The engine cannot run (not installed, no cluster) or a shard failed past its retries."""


class ShardError(EngineError):
    """A shard failed for good; the finished shards are checkpointed for ``--resume``."""

    resumable = True  # the report directory keeps its checkpoint (see dissect._Cleanup)


def check_engine_fields(config: DissectConfig) -> None:
    """``address``/``shards``/``workers``/... mean nothing to the local engine: say so, once."""
    if config.engine == "ray":
        return
    used = [name for name in _RAY_ONLY if getattr(config, name) is not None]
    if used:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in used)
        raise ConfigError(f"{flags} need --engine ray (engine is {config.engine!r})")

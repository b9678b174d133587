"""Sample ranges for a distributed pass, and the driver's checkpoint of the finished ones.

Usage::

    from dissect_report.dissection.engines.shards import plan_shards, ShardCheckpoint
    spans = plan_shards(0, 2000, shards=None, workers=4, batch_size=64)   # 16 ranges
    ckpt = ShardCheckpoint(Path("report/.partial/ray.npz"), config.table_key(), 0, 2000)
    ckpt.save(spans, done={0, 3}, states=merged)            # after each finished shard
    spans, done, merged = ckpt.load()                       # on --resume (None if absent)

A shard is a contiguous range of sample ids. Every shard's state uses the same bin edges,
so the merged state of any set of shards is exact; the checkpoint keeps the merged state of
the finished shards and which they are, so a resumed run only computes the others.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dissect_report.dissection.stats import LayerState
from dissect_report.errors import ConfigError, ReportError
from dissect_report.reportdir.atomic import write_npz
from dissect_report.sampler import shard_range

Span = tuple[int, int]
SHARDS_PER_WORKER = 4  # smaller shards balance load and lose less work when a worker dies


def default_shards(samples: int, workers: int, batch_size: int) -> int:
    """A few shards per worker, but no shard smaller than one batch."""
    batches = -(-samples // batch_size)
    return max(1, min(batches, SHARDS_PER_WORKER * max(1, workers), samples))


def plan_shards(
    start: int, stop: int, *, shards: int | None, workers: int, batch_size: int
) -> list[Span]:
    """Split ``[start, stop)`` into ``shards`` contiguous ranges (default: :func:`default_shards`)."""
    samples = stop - start
    count = shards if shards is not None else default_shards(samples, workers, batch_size)
    if count > samples:
        raise ConfigError(f"shards = {count} is more than the {samples} samples to process")
    spans = []
    for i in range(1, count + 1):
        lo, hi = shard_range(samples, i, count)
        spans.append((start + lo, start + hi))
    return spans


def merge_states(
    merged: dict[str, LayerState] | None, states: dict[str, LayerState]
) -> dict[str, LayerState]:
    """Add one shard's states to the running total (exact, any order)."""
    if merged is None:
        return dict(states)
    if merged.keys() != states.keys():
        raise ReportError(f"a shard returned layers {sorted(states)}, expected {sorted(merged)}")
    return {name: merged[name].merge(states[name]) for name in merged}


class ShardCheckpoint:
    """The merged state of the finished shards of one pass, in one ``.npz`` (atomic)."""

    def __init__(
        self,
        path: Path,
        table_key: str,
        start: int,
        stop: int,
        models: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.meta: dict[str, Any] = {"table_key": table_key, "start": start, "stop": stop}
        if models is not None:  # the model fingerprint: resume refuses other models by name
            self.meta["models"] = models

    def save(self, spans: list[Span], done: set[int], states: dict[str, LayerState]) -> None:
        meta = {**self.meta, "spans": [list(s) for s in spans], "done": sorted(done)}
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        for name, state in states.items():
            for key, value in state.arrays().items():
                arrays[f"{name}//{key}"] = value
        write_npz(self.path, arrays)

    def load(self) -> tuple[list[Span], set[int], dict[str, LayerState]] | None:
        """The saved plan, finished shard indices and their merged state; None if no file."""
        if not self.path.exists():
            return None
        where = str(self.path)
        try:
            with np.load(self.path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                if "models" in self.meta and meta.get("models") != self.meta["models"]:
                    from dissect_report.models import fingerprint_differences

                    differs = fingerprint_differences(meta.get("models") or {}, self.meta["models"])
                    raise ReportError(
                        f"checkpoint {where!r} was made with a different model "
                        f"({'; '.join(differs[:4]) or 'no fingerprint'}); use --overwrite"
                    )
                if {k: meta.get(k) for k in self.meta} != self.meta:
                    raise ReportError(
                        f"checkpoint {where!r} was made with a different config or sample "
                        "range; use --overwrite to start again"
                    )
                layers: dict[str, dict[str, np.ndarray]] = {}
                for key in data.files:
                    if "//" in key:
                        name, _, field = key.partition("//")
                        layers.setdefault(name, {})[field] = data[key]
            states = {name: LayerState.from_arrays(a, where) for name, a in layers.items()}
            spans = [(int(a), int(b)) for a, b in meta["spans"]]
            return spans, {int(i) for i in meta["done"]}, states
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReportError(f"cannot read checkpoint {where!r}: {exc}; use --overwrite") from None

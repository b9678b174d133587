"""The one statistics pass: run a span of samples into mergeable state, checkpointed.

Usage::

    from dissect_report.dissection.calibration import calibrate
    from dissect_report.dissection.statspass import run_pass
    calibration = calibrate(models, config)           # bin edges per layer, from the first samples
    states, shapes = run_pass(models, config, 0, 500, calibration=calibration)

The engines (:mod:`dissect_report.dissection.engines`) run this pass, in this process or as shards
on Ray; :mod:`dissect_report.dissection.stage` orchestrates the engines and writes the report.
Counts are integers, so batching, sharding and resuming never change the tables.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dissect_report.config import DissectConfig
from dissect_report.dissection.calibration import calibrate, forward_traced
from dissect_report.dissection.stats import LayerState, LayerStats, downsample_labels
from dissect_report.errors import ModelError, ReportError
from dissect_report.models import Models, model_fingerprint
from dissect_report.progress import bar
from dissect_report.reportdir.atomic import write_npz

log = logging.getLogger(__name__)


@dataclass
class _Pass:
    """Mutable bookkeeping of one pass: accumulators and the next sample to process."""

    stats: dict[str, LayerStats]
    shapes: dict[str, tuple[int, int, int]]
    position: int


def _checkpoint_arrays(run: _Pass, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    for name, acc in run.stats.items():
        for key, value in acc.state().arrays().items():
            arrays[f"{name}//{key}"] = value
    return arrays


def _load_checkpoint(
    path: Path, meta: dict[str, Any], config: DissectConfig
) -> tuple[dict[str, LayerState], int] | None:
    layers = config.layers
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            saved = json.loads(bytes(data["meta"]).decode())
            refuse_other_run(
                f"checkpoint {str(path)!r}",
                saved.get("models"),
                meta["models"],
                saved.get("config"),
                config,
                "use --overwrite to start again",
            )
            if {k: saved.get(k) for k in meta} != meta:
                raise ReportError(
                    f"checkpoint {str(path)!r} was made with a different config or shard; "
                    "use --overwrite to start again"
                )
            states = {}
            for name in layers:
                prefix = f"{name}//"
                states[name] = LayerState.from_arrays(
                    {k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)},
                    str(path),
                )
            return states, int(saved["position"])
    except (OSError, ValueError, KeyError) as exc:
        raise ReportError(f"cannot read checkpoint {str(path)!r}: {exc}; use --overwrite") from None


def config_json(config: DissectConfig) -> dict[str, Any]:
    return config.model_dump(mode="json")


def refuse_other_run(
    what: str,
    old_models: dict[str, Any] | None,
    new_models: dict[str, Any],
    old_config: dict[str, Any] | None,
    config: DissectConfig,
    fix: str,
) -> None:
    """Raise :class:`ReportError` naming what differs if ``what`` came from other models/config."""
    from dissect_report.models import config_differences, fingerprint_differences

    differs = fingerprint_differences(old_models, new_models) if old_models else []
    if old_config is not None:
        differs += config_differences(old_config, config_json(config))
    if differs:
        shown = "; ".join(differs[:4]) + (
            f"; ... ({len(differs)} in all)" if len(differs) > 4 else ""
        )
        raise ReportError(f"{what} was made with a different model or config ({shown}); {fix}")


def run_pass(
    models: Models,
    config: DissectConfig,
    start: int,
    stop: int,
    *,
    checkpoint: Path | None = None,
    resume: bool = False,
    calibration: tuple[dict[str, np.ndarray], dict[str, tuple[int, int, int]]] | None = None,
    on_batch: Callable[[], object] | None = None,
) -> tuple[dict[str, LayerState], dict[str, tuple[int, int, int]]]:
    """The one pass over samples ``[start, stop)``: the mergeable state of every layer.

    ``calibration`` is :func:`calibrate`'s result when the caller already has it (an engine
    calibrates once and hands the same edges to every worker). ``on_batch`` is called after
    each batch (the Ray engine's heartbeat).
    """
    layers = list(config.layers)
    edges, shapes = calibration if calibration is not None else calibrate(models, config)
    concepts = len(models.concepts)
    meta = {
        "table_key": config.table_key(),
        "start": start,
        "stop": stop,
        "models": model_fingerprint(models.identity),
    }
    # The statistics stay on the models' device (counts on the GPU with --device cuda).
    stats = {n: LayerStats(edges[n], concepts, config.top_k, models.device) for n in layers}
    run = _Pass(stats, shapes, start)
    if checkpoint is not None and resume:
        loaded = _load_checkpoint(checkpoint, meta, config)
        if loaded is not None:
            states, run.position = loaded
            for name, state in states.items():
                if not np.array_equal(state.edges, edges[name]):
                    raise ReportError(
                        f"checkpoint {str(checkpoint)!r} has other bin edges; use --overwrite"
                    )
                run.stats[name] = LayerStats.from_state(state, models.device)
            log.info("resuming at sample %d of [%d, %d)", run.position, start, stop)
    seg_size: tuple[int, ...] | None = None
    positions = range(run.position, stop, config.batch_size)
    progress = bar(total=stop - start, initial=run.position - start, desc="dissect", unit="sample")
    try:
        for done, pos in enumerate(positions, 1):
            ids = range(pos, min(pos + config.batch_size, stop))
            acts, images = forward_traced(models, layers, ids)
            labels = models.segment(images)
            if seg_size is None:
                seg_size = tuple(labels.shape[1:])
            elif tuple(labels.shape[1:]) != seg_size:
                raise ModelError(
                    f"segmenter returned size {tuple(labels.shape[1:])}, earlier {seg_size}"
                )
            id_tensor = torch.arange(ids.start, ids.stop, dtype=torch.int64, device=labels.device)
            for name in layers:
                lab = labels
                if config.downsample_segmentation:
                    lab = downsample_labels(labels, shapes[name][1:], concepts)
                run.stats[name].add(acts[name], lab, id_tensor)
            run.position = ids.stop
            progress.update(len(ids))
            if on_batch is not None:
                on_batch()
            every = config.checkpoint_every
            if checkpoint is not None and every and done % every == 0 and run.position < stop:
                saved = {**meta, "position": run.position, "config": config_json(config)}
                write_npz(checkpoint, _checkpoint_arrays(run, saved))
    finally:
        progress.close()
    return {n: acc.state() for n, acc in run.stats.items()}, shapes

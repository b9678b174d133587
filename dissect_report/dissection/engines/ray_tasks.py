"""What runs on the Ray nodes: calibration, one shard's pass, merging states on a node.

Usage (the driver, :mod:`dissect_report.dissection.engines.ray_engine`, does this)::

    job = Job(config.model_dump_json(), fingerprint, weights, beats)
    info, state = shard_task.options(num_returns=2).remote(job, 0, 500, calibration_ref)
    merged = merge_task.remote(state_a, state_b)      # stays in that node's object store

Every function is a plain Ray task: Ray retries it on a live worker when its process or node
dies, and on any exception (``retry_exceptions``: the generator raising on one batch, a CUDA
out-of-memory, a flaky file system), up to ``max_retries`` times. A node that cannot set up
the models (a module it cannot import, other weights) *returns* that error instead: retrying
cannot help, and it reaches the driver as one line naming the node. The
models load once per worker process (:func:`worker_models` keeps them), and each task calls
the driver's :class:`Beats` after every batch, so the driver can tell a slow run from a
stalled one.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dissect_report.dissection.engines.base import Calibration, EngineError
from dissect_report.dissection.engines.shards import merge_states
from dissect_report.dissection.stats import LayerState
from dissect_report.errors import ModelError, UserError

if TYPE_CHECKING:
    from dissect_report.models import Models

log = logging.getLogger(__name__)
_LOADED: dict[str, Models] = {}  # per worker process: the job's key -> its models


class Beats:
    """A Ray actor counting batches done anywhere (the driver's stall clock)."""

    def __init__(self) -> None:
        self.count = 0

    def beat(self) -> None:
        self.count += 1

    def total(self) -> int:
        return self.count


@dataclass(frozen=True)
class Job:
    """What every task of one run needs: the config, the driver's model fingerprint, the
    weight file's bytes by reference (``[ref]``: fetched only by a node that lacks the file)
    and the heartbeat actor."""

    config_json: str
    fingerprint: dict[str, Any]
    weights: list[Any]
    beats: Any

    @property
    def key(self) -> str:
        return hashlib.sha256(self.config_json.encode()).hexdigest()


@dataclass(frozen=True)
class Failure:
    """A user error on a node, returned (not raised: Ray would retry it)."""

    kind: type[UserError]
    message: str
    node: str
    missing: str | None = None  # a module the node cannot import


def _node() -> str:
    import ray

    return ray.util.get_node_ip_address()


def _check_imports(config_json: str) -> None:
    """A factory module missing on this node is a one-line error naming it and the node."""
    from dissect_report.config import DissectConfig

    config = DissectConfig.model_validate_json(config_json)
    for spec in (config.generator, config.segmenter):
        if ":" not in spec or spec.startswith("hf:"):
            continue
        module = spec.partition(":")[0]
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            raise _MissingModule(module, exc.name or module) from None


class _MissingModule(EngineError):
    def __init__(self, module: str, missing: str) -> None:
        self.module, self.missing = module, missing
        super().__init__(f"cannot import {module!r} (no module named {missing!r})")


def _local_weights(config_json: str, job: Job) -> str:
    """The config with ``weights`` pointing at a file this node has with the driver's hash:
    the same path on a shared file system, else the driver's bytes written to a temp file."""
    from dissect_report.config import DissectConfig
    from dissect_report.weights_io import file_sha256

    config = DissectConfig.model_validate_json(config_json)
    want = job.fingerprint.get("generator weights sha256")
    if config.weights is None or want is None:
        return config_json
    path = Path(config.weights)
    if path.is_file() and file_sha256(path) == want:
        return config_json
    if not job.weights:
        raise ModelError(
            f"node {_node()} has no weight file {str(path)!r} with the driver's hash; put it "
            "on a shared file system or on every node"
        )
    import ray

    local = Path(tempfile.gettempdir()) / "dissect-report-weights" / f"{want}{path.suffix}"
    if not (local.is_file() and file_sha256(local) == want):
        local.parent.mkdir(parents=True, exist_ok=True)
        part = local.with_suffix(f".{os.getpid()}.part")
        part.write_bytes(ray.get(job.weights[0]))
        part.replace(local)
    log.info("node %s: weights from the driver in %s", _node(), local)
    return config.model_copy(update={"weights": str(local)}).model_dump_json()


def worker_models(job: Job) -> Models:
    """The job's models, loaded once per worker process and checked against the driver's."""
    models = _LOADED.get(job.key)
    if models is not None:
        return models
    from dissect_report import progress
    from dissect_report.config import DissectConfig
    from dissect_report.models import fingerprint_differences, load_models, model_fingerprint

    progress.set_quiet(True)  # one bar, the driver's: shards done
    _check_imports(job.config_json)
    config = DissectConfig.model_validate_json(_local_weights(job.config_json, job))
    models = load_models(config, check=False)  # the driver checked them
    differs = fingerprint_differences(job.fingerprint, model_fingerprint(models.identity))
    if differs:
        raise ModelError(
            f"Ray node {_node()} loaded a different model ({'; '.join(differs[:3])}, driver -> "
            "node); every node needs the same packages and weight files as the driver"
        )
    _LOADED.clear()  # one job's models at a time
    _LOADED[job.key] = models
    return models


def _failure(exc: UserError) -> Failure:
    missing = exc.missing if isinstance(exc, _MissingModule) else None
    kind = EngineError if isinstance(exc, _MissingModule) else type(exc)
    return Failure(kind, str(exc), _node(), missing)


def calibrate_task(job: Job) -> Calibration | Failure:
    """The bin edges and shapes (on a worker, so a CPU-only driver can drive GPU nodes)."""
    from dissect_report.dissection.calibration import calibrate

    try:
        models = worker_models(job)
    except UserError as exc:
        return _failure(exc)
    return calibrate(models, models_config(job))


def models_config(job: Job) -> Any:
    from dissect_report.config import DissectConfig

    return DissectConfig.model_validate_json(job.config_json)


def shard_task(
    job: Job, start: int, stop: int, calibration: Calibration
) -> tuple[dict[str, Any] | Failure, dict[str, LayerState] | None]:
    """``(info, states)`` of samples ``[start, stop)``; ``info`` names the node, which keeps
    ``states`` in its object store until the driver merges it there."""
    import ray

    from dissect_report.dissection.statspass import run_pass

    try:
        models = worker_models(job)
    except UserError as exc:
        return _failure(exc), None
    states, _ = run_pass(
        models,
        models_config(job),
        start,
        stop,
        calibration=calibration,
        on_batch=job.beats.beat.remote,
    )
    node = ray.get_runtime_context().get_node_id()
    return {"node": node, "bytes": state_bytes(states)}, states


def merge_task(*parts: dict[str, LayerState]) -> dict[str, LayerState]:
    """The sum of several shards' states, computed on the node that holds them."""
    merged: dict[str, LayerState] | None = None
    for part in parts:
        merged = merge_states(merged, part)
    assert merged is not None
    return merged


def state_bytes(states: dict[str, LayerState]) -> int:
    """The raw size of a state (what one transfer of it costs)."""
    return sum(a.nbytes for s in states.values() for a in s.arrays().values())

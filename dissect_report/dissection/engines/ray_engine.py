"""The Ray engine: sample ranges run on Ray actors, the driver merges their states.

Usage::

    dissect-report dissect --engine ray --shards 16 --out report              # local cluster
    dissect-report dissect --engine ray --address ray://head:10001 --out report

    import dissect_report as dr
    dr.dissect(dr.DissectConfig(engine="ray", shards=16, samples=20000), out="report")

The driver loads the models (for the manifest's identity and the unit images), calibrates
the bin edges once, and starts ``workers`` actors (one CPU each, or one GPU when
``config.device`` is CUDA). Each actor loads the generator and segmenter once, checks that
they hash like the driver's, and then runs shard after shard with the same
:func:`~dissect_report.dissection.statspass.run_pass` as the local engine, returning only the shard's
:class:`~dissect_report.dissection.stats.LayerState` per layer (numpy arrays, a few MB). The driver adds
each state to a running total as it arrives, so it holds one state at a time, and writes
that total to ``REPORT/.partial/ray.npz`` for ``--resume`` every
:data:`CHECKPOINT_INTERVAL_S` seconds and when the run fails (``checkpoint_every = 0``:
never).

A worker that dies (killed, out of memory, node lost) is restarted by Ray and its shards are
retried (``max_restarts``/``max_task_retries``); if it cannot be restarted, the driver starts
a new actor and resubmits the shard, up to :data:`RETRIES` times per shard.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dissect_report.dissection.engines.base import Calibration, EngineError, Shapes, ShardError
from dissect_report.dissection.engines.shards import (
    ShardCheckpoint,
    Span,
    merge_states,
    plan_shards,
)
from dissect_report.dissection.stats import LayerState
from dissect_report.errors import ModelError, ReportError, UserError
from dissect_report.progress import bar

if TYPE_CHECKING:
    from dissect_report.config import DissectConfig
    from dissect_report.models import Models

log = logging.getLogger(__name__)
RETRIES = 3  # per shard, and per actor restart
IN_FLIGHT = 2  # shards queued per actor, so it never waits for the driver
PROBE_TIMEOUT_S = 10.0
CHECKPOINT_INTERVAL_S = 30.0  # a driver killed outright loses at most this much work
INSTALL_HINT = 'the Ray engine needs Ray: pip install "dissect-report[ray]"'


def import_ray() -> Any:
    """The ``ray`` module, or an :class:`EngineError` that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise EngineError(f"{INSTALL_HINT} ({exc})") from None
    return ray


class ShardWorker:
    """A Ray actor: the models load once, then :meth:`run` processes sample ranges."""

    def __init__(self, config_json: str) -> None:
        from dissect_report import progress
        from dissect_report.config import DissectConfig
        from dissect_report.models import load_models

        progress.set_quiet(True)  # one bar, the driver's: shards done
        self.config = DissectConfig.model_validate_json(config_json)
        self.models = load_models(self.config, check=False)  # the driver checked them

    def identity(self) -> dict[str, Any]:
        return self.models.identity

    def run(self, start: int, stop: int, calibration: Calibration) -> dict[str, LayerState]:
        """The states of samples ``[start, stop)``; ``calibration`` arrives by reference,
        once per node, and lives with the driver, so a restarted actor still finds it."""
        from dissect_report.dissection.statspass import run_pass

        states, _ = run_pass(self.models, self.config, start, stop, calibration=calibration)
        return states


def _check_identity(driver: dict[str, Any], worker: dict[str, Any]) -> None:
    from dissect_report.models import fingerprint_differences, model_fingerprint

    differs = fingerprint_differences(model_fingerprint(driver), model_fingerprint(worker))
    if differs:
        raise ModelError(
            f"a Ray worker loaded a different model ({'; '.join(differs[:3])}, driver -> "
            "worker); workers need the same packages and weight files as the driver"
        )


def _cause(ray: Any, exc: Exception) -> BaseException | None:
    """The application exception inside a Ray error (a task's, or an actor constructor's)."""
    seen = exc
    for _ in range(4):
        cause = getattr(seen, "cause", None)
        if cause is None or cause is seen:
            break
        if not isinstance(cause, ray.exceptions.RayError):
            return cause
        seen = cause
    return None


def _reraise_user_error(ray: Any, exc: Exception) -> None:
    """A worker's bad-input error is the user's, on the driver too: same class, one line."""
    cause = _cause(ray, exc)
    if isinstance(cause, UserError):
        raise type(cause)(str(cause)) from None


def _one_line(exc: BaseException, limit: int = 160) -> str:
    """The gist of a (often many-line, paragraph-long) Ray error."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[-1] if lines else type(exc).__name__
    text = text.split(". ")[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ready_states(ray: Any, inflight: dict[Any, tuple[int, int, Any]]) -> list[tuple[int, Any]]:
    """Shards that finished while another failed: ``(shard, states)`` of those ready now."""
    out = []
    try:
        ready, _ = ray.wait(list(inflight), num_returns=len(inflight), timeout=0)
        for ref in ready:
            try:
                out.append((inflight[ref][0], ray.get(ref)))
            except Exception:  # this one failed too
                log.debug("shard failed as well", exc_info=True)
    except Exception:  # the cluster is going away; keep what we have
        log.debug("cannot collect finished shards", exc_info=True)
    return out


class _Pool:
    """Actors by slot; a slot whose actor died for good gets a fresh one."""

    def __init__(self, ray: Any, options: dict[str, Any], config_json: str, size: int) -> None:
        self.ray = ray
        self.cls = ray.remote(**options)(ShardWorker)
        self.config_json = config_json
        self.actors = [self.cls.remote(config_json) for _ in range(size)]

    def replace(self, slot: int, dead: Any) -> Any:
        if self.actors[slot] is dead:  # several shards may report the same death
            self.ray.kill(dead, no_restart=True)
            self.actors[slot] = self.cls.remote(self.config_json)
        return self.actors[slot]

    def kill_all(self) -> None:
        for actor in self.actors:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # already gone; nothing to free
                log.debug("actor already gone", exc_info=True)


def _probe(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Fail fast on an unreachable ``host:port``: Ray itself retries for minutes."""
    hostport = address.removeprefix("ray://").rsplit("/", 1)[0]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return  # 'auto', 'local' or something only Ray understands
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout).close()
    except OSError as exc:
        raise EngineError(
            f"cannot start or join Ray at {address!r}: {exc.strerror or exc}"
        ) from None


def _connect(ray: Any, address: str | None) -> bool:
    """Join ``address`` (or start a local cluster); True if this call started Ray."""
    if ray.is_initialized():  # the caller's own session (a notebook, a test): keep it
        return False
    if address is not None:
        _probe(address)
    quiet = logging.getLogger("dissect_report").getEffectiveLevel() > logging.INFO  # -q
    kwargs: dict[str, Any] = {
        "logging_level": logging.ERROR if quiet else logging.WARNING,
        "log_to_driver": not quiet,
    }
    if address is None:
        kwargs["include_dashboard"] = False
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
        where = "a local Ray cluster" if address is None else f"Ray at {address!r}"
        raise EngineError(f"cannot start or join {where}: {_one_line(exc)}") from None
    return True


def _slots(ray: Any, gpu: bool) -> int:
    resources = ray.cluster_resources()
    return max(1, int(resources.get("GPU" if gpu else "CPU", 1)))


def run_ray(
    models: Models,
    config: DissectConfig,
    start: int,
    stop: int,
    *,
    partial: Path | None,
    resume: bool,
    retries: int | None = None,
) -> tuple[dict[str, LayerState], Shapes]:
    """The merged state of samples ``[start, stop)``, computed in shards on Ray.

    ``retries`` (default :data:`RETRIES`) bounds Ray's restarts of a worker, its retries of
    a shard, and the driver's resubmissions of a shard to a new worker.
    """
    from dissect_report.dissection.calibration import calibrate
    from dissect_report.models import model_fingerprint

    retries = RETRIES if retries is None else retries

    ray = import_ray()
    checkpoint = (
        ShardCheckpoint(
            partial / "ray.npz", config.table_key(), start, stop, model_fingerprint(models.identity)
        )
        if partial is not None
        else None
    )
    saved = checkpoint.load() if checkpoint is not None and resume else None
    edges, shapes = calibrate(models, config)  # once, so every worker bins identically
    started = _connect(ray, config.address)
    try:
        gpu = models.device.type == "cuda"
        workers = config.workers or _slots(ray, gpu)
        if saved is not None:
            spans, done, merged = saved
            log.info("resuming: %d of %d shards already done", len(done), len(spans))
        else:
            spans = plan_shards(
                start, stop, shards=config.shards, workers=workers, batch_size=config.batch_size
            )
            done, merged = set(), None
        merged = _run_shards(
            ray,
            models,
            config,
            (edges, shapes),
            spans,
            done,
            merged or None,
            checkpoint,
            workers,
            retries,
        )
    finally:
        if started:
            ray.shutdown()
    for name, state in merged.items():
        if not np.array_equal(state.edges, edges[name]):
            raise ReportError(
                f"the checkpoint's {name!r} state has other bin edges; use --overwrite"
            )
    return merged, shapes


def _owned(states: dict[str, LayerState]) -> dict[str, LayerState]:
    """Copies of a shard's arrays: Ray hands out views of its object store, which goes away
    with the cluster, and a state's ``edges`` outlives every merge."""
    return {
        n: LayerState.from_arrays({k: np.array(v) for k, v in s.arrays().items()})
        for n, s in states.items()
    }


def _save(
    checkpoint: ShardCheckpoint | None,
    config: DissectConfig,
    spans: list[Span],
    done: set[int],
    merged: dict[str, LayerState],
) -> float:
    if checkpoint is None or not config.checkpoint_every:  # checkpoint_every = 0: never
        return 0.0
    t0 = time.perf_counter()
    checkpoint.save(spans, done, merged)
    return time.perf_counter() - t0


def _run_shards(
    ray: Any,
    models: Models,
    config: DissectConfig,
    calibration: Calibration,
    spans: list[Span],
    done: set[int],
    merged: dict[str, LayerState] | None,
    checkpoint: ShardCheckpoint | None,
    workers: int,
    retries: int,
) -> dict[str, LayerState]:
    todo = deque(k for k in range(len(spans)) if k not in done)
    if not todo:
        assert merged is not None
        return merged
    gpu = models.device.type == "cuda"
    options = {
        "num_cpus": 0 if gpu else 1,
        "num_gpus": 1 if gpu else 0,
        "max_restarts": retries,
        "max_task_retries": retries,
    }
    pool = _Pool(ray, options, config.model_dump_json(), min(workers, len(todo)))
    edges_ref = ray.put(calibration)  # one copy per node, however many shards
    attempts = dict.fromkeys(todo, 0)
    inflight: dict[Any, tuple[int, int, Any]] = {}  # ref -> (shard, slot, actor)
    t0, merge_s, save_s = time.perf_counter(), 0.0, 0.0
    saved_at, unsaved = t0, 0
    progress = bar(total=len(spans), initial=len(done), desc="dissect (ray)", unit="shard")

    def submit(slot: int) -> None:
        if todo:
            k = todo.popleft()
            actor = pool.actors[slot]
            inflight[actor.run.remote(*spans[k], edges_ref)] = (k, slot, actor)

    try:
        identities = [actor.identity.remote() for actor in pool.actors]
        for slot in range(len(pool.actors)):
            for _ in range(IN_FLIGHT):
                submit(slot)
        try:
            for identity in ray.get(identities):
                _check_identity(models.identity, identity)
        except ray.exceptions.RayError as exc:
            _reraise_user_error(ray, exc)
            raise EngineError(f"a Ray worker could not start: {_one_line(exc)}") from None
        while inflight:
            (ref,), _ = ray.wait(list(inflight), num_returns=1)
            k, slot, actor = inflight.pop(ref)
            try:
                states = ray.get(ref)
            except ray.exceptions.RayActorError as exc:  # died past Ray's own restarts
                _reraise_user_error(ray, exc)
                attempts[k] += 1
                if attempts[k] > retries:
                    raise ShardError(
                        f"shard {k + 1}/{len(spans)} (samples {spans[k][0]}..{spans[k][1] - 1}) "
                        f"lost its worker {attempts[k]} time(s) ({_one_line(exc)}); the "
                        "finished shards are kept: run the same command with --resume"
                    ) from None
                log.warning("shard %d/%d: worker lost; resubmitting", k + 1, len(spans))
                pool.replace(slot, actor)
                todo.appendleft(k)
                submit(slot)
                continue
            except ray.exceptions.RayError as exc:
                _reraise_user_error(ray, exc)
                raise ShardError(
                    f"shard {k + 1}/{len(spans)} failed ({_one_line(exc)}); the finished "
                    "shards are kept: run the same command with --resume"
                ) from None
            t1 = time.perf_counter()
            merged = merge_states(merged, _owned(states))
            done.add(k)
            unsaved += 1
            t2 = time.perf_counter()
            merge_s += t2 - t1
            if t2 - saved_at >= CHECKPOINT_INTERVAL_S and len(done) < len(spans):
                save_s += _save(checkpoint, config, spans, done, merged)
                saved_at, unsaved = time.perf_counter(), 0
            progress.update(1)
            submit(slot)
    except BaseException:
        for k, states in _ready_states(ray, inflight) if inflight else []:
            merged = merge_states(merged, _owned(states))
            done.add(k)
            unsaved += 1
        if unsaved and merged is not None:  # keep the finished shards for --resume
            _save(checkpoint, config, spans, done, merged)
        raise
    finally:
        progress.close()
        pool.kill_all()
    elapsed = time.perf_counter() - t0
    ran = len(attempts)
    log.info(
        "ray: %d shards on %d workers in %.1f s (%.2f shards/s; merging %.2f s, checkpoints %.2f s)",
        ran,
        len(pool.actors),
        elapsed,
        ran / elapsed if elapsed > 0 else float("inf"),
        merge_s,
        save_s,
    )
    assert merged is not None
    return merged

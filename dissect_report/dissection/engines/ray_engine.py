"""The Ray engine: sample ranges run as Ray tasks, states are summed per node, then here.

Usage::

    dissect-report dissect --engine ray --shards 16 --out report              # local cluster
    dissect-report dissect --engine ray --address auto --out report           # on a Ray node
    dissect-report dissect --engine ray --address ray://head:10001 --out report

    import dissect_report as dr
    dr.dissect(dr.DissectConfig(engine="ray", shards=16, samples=20000), out="report")

Ray's own mechanisms do the work (:mod:`dissect_report.dissection.engines.ray_tasks`):

- calibration and every shard are **tasks** (one CPU, or one GPU with ``--device cuda``),
  scheduled by Ray on whatever is free; at most ``workers`` run at once (default: the
  cluster's free CPUs/GPUs). A task whose worker or node dies, or that raises, is retried
  by Ray on a live worker (``max_retries``/``retry_exceptions``, :data:`RETRIES`);
- the factories' modules (and the weight file, for nodes without it) travel with
  ``runtime_env`` and the object store (:mod:`dissect_report.dissection.engines.ray_cluster`);
- a shard's state stays in its node's object store; :data:`FAN_IN` states on one node are
  summed **on that node** (a merge task), and only one state per node reaches the driver
  when it checkpoints, so the driver's bytes grow with nodes, not with shards;
- the driver's clock: a batch finished anywhere, or a shard finished, is progress; after
  ``stall_timeout`` seconds without any, the run stops (:class:`RayStalled`).

Whatever stops a run (a shard failing past its retries, a stall, a user error on a node,
Ctrl-C) first sums the finished shards into ``REPORT/.partial/ray.npz``, so the report
directory is kept and ``--resume`` runs only the other shards.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dissect_report.dissection.engines.base import Calibration, EngineError, Shapes, ShardError
from dissect_report.dissection.engines.ray_cluster import (
    connect,
    free_slots,
    import_fix,
    import_ray,
    one_line,
    runtime_env,
)
from dissect_report.dissection.engines.ray_tasks import (
    Beats,
    Failure,
    Job,
    calibrate_task,
    merge_task,
    shard_task,
    state_bytes,
)
from dissect_report.dissection.engines.shards import (
    ShardCheckpoint,
    Span,
    merge_states,
    plan_shards,
)
from dissect_report.dissection.stats import LayerState
from dissect_report.errors import ReportError, UserError
from dissect_report.progress import bar

if TYPE_CHECKING:
    from dissect_report.config import DissectConfig
    from dissect_report.models import Models

__all__ = ["RETRIES", "RayRun", "RayStalled", "import_ray", "run_ray"]

log = logging.getLogger(__name__)
RETRIES = 3  # Ray's retries of a task (process or node lost, or an exception)
FAN_IN = 4  # states summed by one merge task on a node
POLL_S = 1.0
RESCUE_WAIT_S = 60.0  # a failed run waits this long for the shards still running, to keep them
STALL_TIMEOUT_S = 600.0  # default of config.stall_timeout
CHECKPOINT_INTERVAL_S = 30.0  # at least; then 20x the last checkpoint's cost (<= 5 % of the run)
WEIGHTS_SHIP_LIMIT = 2 * 2**30  # larger weight files must be on every node
RESUME_HINT = "the finished shards are kept: run the same command with --resume"


class RayStalled(ShardError):
    """Nothing finished anywhere on the cluster for ``stall_timeout`` seconds."""


@dataclass
class RayRun:
    """What one run moved and where (``run_ray(..., record=RayRun())`` fills it)."""

    shards: int = 0
    nodes: set[str] = field(default_factory=set)
    shard_bytes: list[int] = field(default_factory=list)  # per shard, left on its node
    driver_bytes: int = 0  # states fetched by the driver
    driver_states: int = 0
    merge_s: float = 0.0
    checkpoint_s: float = 0.0


def run_ray(
    models: Models,
    config: DissectConfig,
    start: int,
    stop: int,
    *,
    partial: Path | None,
    resume: bool,
    retries: int | None = None,
    record: RayRun | None = None,
) -> tuple[dict[str, LayerState], Shapes]:
    """The merged state of samples ``[start, stop)``, computed in shards on Ray.

    ``retries`` (default :data:`RETRIES`) bounds Ray's retries of each task.
    """
    from dissect_report.models import model_fingerprint

    ray = import_ray()
    fingerprint = model_fingerprint(models.identity)
    checkpoint = (
        ShardCheckpoint(partial / "ray.npz", config.table_key(), start, stop, fingerprint)
        if partial is not None
        else None
    )
    saved = checkpoint.load() if checkpoint is not None and resume else None
    started = connect(ray, config.address, runtime_env(config))
    try:
        retries = RETRIES if retries is None else retries
        env = None if started else config.runtime_env  # the job's, or the caller's session
        driver = _Driver(ray, config, fingerprint, checkpoint, record or RayRun(), retries)
        driver.set_env(env)
        edges, shapes = driver.calibrate()
        if saved is not None:
            spans, done, merged = saved
            log.info("resuming: %d of %d shards already done", len(done), len(spans))
        else:
            spans = plan_shards(
                start,
                stop,
                shards=config.shards,
                workers=driver.workers,
                batch_size=config.batch_size,
            )
            done, merged = set(), {}
        merged = driver.run(spans, done, merged or None)
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
    """Copies of a state's arrays: Ray hands out views of its object store, which goes away
    with the cluster, and a state's ``edges`` outlives every merge."""
    return {
        n: LayerState.from_arrays({k: np.array(v) for k, v in s.arrays().items()})
        for n, s in states.items()
    }


@dataclass
class _Part:
    """Finished shards whose summed state lives on one node, not yet on the driver."""

    shards: set[int]
    ref: Any


class _Driver:
    """One run's bookkeeping: tasks in flight, states per node, the stall clock."""

    def __init__(
        self,
        ray: Any,
        config: DissectConfig,
        fingerprint: dict[str, Any],
        checkpoint: ShardCheckpoint | None,
        record: RayRun,
        retries: int,
    ) -> None:
        self.ray, self.config, self.checkpoint, self.record = ray, config, checkpoint, record
        self.retries = retries
        gpu = config.device.startswith("cuda")  # the workers' device, not the driver's
        self.workers = config.workers or free_slots(ray, gpu)
        self.stall_s = config.stall_timeout or STALL_TIMEOUT_S
        self.options: dict[str, Any] = {
            "num_cpus": 0 if gpu else 1,
            "num_gpus": 1 if gpu else 0,
            "max_retries": self.retries,
            "retry_exceptions": True,
        }
        self.merge_options: dict[str, Any] = {"num_cpus": 0, "max_retries": self.retries}
        here = ray.get_runtime_context().get_node_id()
        self.beats = (
            ray.remote(Beats)
            .options(num_cpus=0, max_restarts=-1, scheduling_strategy=_on_node(here))
            .remote()
        )
        self.job = Job(config.model_dump_json(), fingerprint, _weights(ray, config), self.beats)
        self.beat_count, self.moved_at = 0, time.monotonic()
        self.done: set[int] = set()
        self.parts: dict[str, list[_Part]] = {}  # node -> summed states living there

    def set_env(self, env: dict[str, Any] | None) -> None:
        """A task-level ``runtime_env`` (in a session the caller started)."""
        if env:
            self.options["runtime_env"] = self.merge_options["runtime_env"] = env

    # --- the stall clock ---------------------------------------------------------------

    def _progress(self) -> None:
        self.moved_at = time.monotonic()

    def _check_stall(self, waiting: int) -> None:
        try:
            count = self.ray.get(self.beats.total.remote(), timeout=POLL_S * 5)
        except Exception:  # the actor is restarting; the clock keeps running
            log.debug("heartbeat unavailable", exc_info=True)
            count = self.beat_count
        if count != self.beat_count:
            self.beat_count = count
            self._progress()
        idle = time.monotonic() - self.moved_at
        if idle > self.stall_s:
            need = "GPU" if self.options["num_gpus"] else "CPU"
            free = self.ray.available_resources().get(need, 0)
            total = self.ray.cluster_resources().get(need, 0)
            kept = bool(self.done) or any(self.parts.values())
            stalled = RayStalled(
                f"no progress on Ray for {idle:.0f} s (stall_timeout; {waiting} task(s) waiting, "
                f"{free:g} of {total:g} {need}s free); "
                f"{RESUME_HINT if kept else 'no shard had finished'}"
            )
            stalled.resumable = kept  # type: ignore[misc]  # nothing to resume from otherwise
            raise stalled

    def _wait(self, refs: list[Any], waiting: int) -> list[Any]:
        ready, _ = self.ray.wait(refs, num_returns=1, timeout=POLL_S, fetch_local=False)
        if ready:  # take everything that is ready now, not one per poll
            ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
            self._progress()
        else:
            self._check_stall(waiting)
        return ready

    # --- calibration -------------------------------------------------------------------

    def calibrate(self) -> Calibration:
        task = self.ray.remote(calibrate_task).options(**self.options)
        ref = task.remote(self.job)
        while not self._wait([ref], 1):
            pass
        result = self._get(ref, "calibration")
        self.calibration_ref = self.ray.put(result)  # once per node, however many shards
        return result

    def _get(self, ref: Any, what: str) -> Any:
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            cause = _cause(self.ray, exc)
            why = str(cause) if isinstance(cause, UserError) else one_line(exc)
            raise ShardError(
                f"{what} failed on Ray after {self.retries} retries ({why}); {RESUME_HINT}"
            ) from None
        if isinstance(result, Failure):
            raise _user_error(result)
        return result

    # --- the pass ----------------------------------------------------------------------

    def run(
        self, spans: list[Span], done: set[int], merged: dict[str, LayerState] | None
    ) -> dict[str, LayerState]:
        self.spans, self.done, self.merged = spans, done, merged
        todo = deque(k for k in range(len(spans)) if k not in done)
        if not todo:
            assert merged is not None
            return merged
        task = self.ray.remote(shard_task).options(num_returns=2, **self.options)
        running: dict[Any, tuple[int, Any]] = {}  # info ref -> (shard, state ref)
        fetching: dict[Any, _Part] = {}  # a node's sum on its way to the driver
        t0 = time.monotonic()
        interval, saved_at, save_due, fetched_at = CHECKPOINT_INTERVAL_S, t0, False, t0
        progress = bar(total=len(spans), initial=len(done), desc="dissect (ray)", unit="shard")
        try:
            while len(self.done) < len(spans):
                while todo and len(running) < self.workers:
                    k = todo.popleft()
                    info, state = task.remote(self.job, *spans[k], self.calibration_ref)
                    running[info] = (k, state)
                if not running and not fetching:  # all finished: the final sums
                    fetching = self._fetch_all()
                refs = [*running, *fetching]
                for ref in self._wait(refs, len(todo) + len(running)):
                    if ref in running:
                        k, state = running.pop(ref)
                        self._finished(k, self._get(ref, self._name(k)), state)
                        progress.update(1)
                    else:
                        self._add(fetching.pop(ref), todo)
                if save_due and not fetching and running:  # the nodes' sums have arrived
                    self._save()
                    saved_at = time.monotonic()  # fetch, add and save: <= 5 % of the run
                    interval = max(CHECKPOINT_INTERVAL_S, 20 * (saved_at - fetched_at))
                    save_due = False
                elif not fetching and running and time.monotonic() - saved_at >= interval:
                    fetching, save_due, fetched_at = self._fetch_all(), True, time.monotonic()
        except BaseException as exc:
            self._rescue(exc, running)
            raise
        finally:
            progress.close()
        elapsed = time.monotonic() - t0
        log.info(
            "ray: %d shards on %d node(s) in %.1f s; %d states (%.1f MB) reached the driver, "
            "%.1f MB stayed on the nodes",
            len(self.record.shard_bytes),
            len(self.record.nodes),
            elapsed,
            self.record.driver_states,
            self.record.driver_bytes / 1e6,
            sum(self.record.shard_bytes) / 1e6,
        )
        assert self.merged is not None
        return self.merged

    def _name(self, k: int) -> str:
        a, b = self.spans[k]
        return f"shard {k + 1}/{len(self.spans)} (samples {a}..{b - 1})"

    def _finished(self, k: int, info: dict[str, Any], state: Any) -> None:
        node = info["node"]
        self.record.nodes.add(node)
        self.record.shard_bytes.append(int(info["bytes"]))
        parts = self.parts.setdefault(node, [])
        parts.append(_Part({k}, state))
        if len(parts) >= FAN_IN:
            self.parts[node] = [self._sum(node, parts)]

    def _sum(self, node: str, parts: list[_Part]) -> _Part:
        if len(parts) == 1:
            return parts[0]
        task = self.ray.remote(merge_task).options(
            scheduling_strategy=_on_node(node), **self.merge_options
        )
        return _Part(set().union(*(p.shards for p in parts)), task.remote(*(p.ref for p in parts)))

    def _fetch_all(self) -> dict[Any, _Part]:
        """One summed state per node, on its way to the driver."""
        sums = [self._sum(node, parts) for node, parts in self.parts.items() if parts]
        self.parts = {}
        return {part.ref: part for part in sums}

    def _add(self, part: _Part, todo: deque[int] | None) -> None:
        """A node's sum arrives: into the total; if it was lost for good, run it again."""
        try:
            states = self.ray.get(part.ref)
        except self.ray.exceptions.RayError as exc:
            _reraise_user_error(self.ray, exc)
            if todo is None:
                raise
            log.warning("%d finished shard(s) were lost with their node; running them again",
                        len(part.shards))  # fmt: skip
            todo.extend(sorted(part.shards))
            return
        t0 = time.perf_counter()
        self.record.driver_bytes += state_bytes(states)
        self.record.driver_states += 1
        self.merged = merge_states(self.merged, _owned(states))
        self.done |= part.shards
        self.record.merge_s += time.perf_counter() - t0

    def _save(self) -> None:
        if self.checkpoint is None or not self.config.checkpoint_every or self.merged is None:
            return
        t0 = time.perf_counter()
        self.checkpoint.save(self.spans, self.done, self.merged)
        self.record.checkpoint_s += time.perf_counter() - t0

    def _rescue(self, exc: BaseException, running: dict[Any, tuple[int, Any]]) -> None:
        """Keep every finished shard the cluster still has: sum, fetch, checkpoint.

        After a shard fails for good, the shards still running are given up to
        ``RESCUE_WAIT_S`` to finish, so the work they are doing is kept too (an interrupt
        or a stall does not wait).
        """
        before = len(self.done)
        if running and not isinstance(exc, KeyboardInterrupt | RayStalled):  # stalled: futile
            try:
                ready, _ = self.ray.wait(
                    list(running),
                    num_returns=len(running),
                    timeout=min(RESCUE_WAIT_S, self.stall_s),
                )
                for ref in ready:
                    k, state = running[ref]
                    try:
                        self._finished(k, self.ray.get(ref), state)
                    except Exception:  # this shard failed too: it runs again on --resume
                        log.debug("%s did not finish", self._name(k), exc_info=True)
            except Exception:  # the cluster is going away
                log.debug("cannot wait for the running shards", exc_info=True)
        try:
            pending = self._fetch_all()
            if pending:
                ready, _ = self.ray.wait(list(pending), num_returns=len(pending), timeout=30)
                for ref in ready:
                    try:
                        self._add(pending[ref], None)
                    except Exception:  # lost with its node; those shards run again
                        log.debug("a node's finished shards are lost", exc_info=True)
        except Exception:  # the cluster is going away; keep what the driver has
            log.debug("cannot collect finished shards", exc_info=True)
        fresh = self.checkpoint is not None and not self.checkpoint.path.exists()
        if self.merged is not None and (len(self.done) > before or fresh):
            self._save()
        if self.checkpoint is not None and isinstance(exc, UserError):
            # keep the report directory exactly when it holds finished work (stage._Cleanup)
            exc.resumable = self.checkpoint.path.exists()  # type: ignore[attr-defined]


def _on_node(node: str) -> Any:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node, soft=True)


def _weights(ray: Any, config: DissectConfig) -> list[Any]:
    """The weight file's bytes in the object store, for nodes that lack the file."""
    if config.weights is None:
        return []
    path = Path(config.weights)
    if not path.is_file() or path.stat().st_size > WEIGHTS_SHIP_LIMIT:
        return []
    return [ray.put(path.read_bytes())]


def _user_error(failure: Failure) -> UserError:
    if failure.missing is not None:
        return EngineError(
            f"Ray node {failure.node} {failure.message}; {import_fix(failure.missing)}"
        )
    return failure.kind(failure.message)


def _cause(ray: Any, exc: Exception) -> BaseException | None:
    """The application exception inside a Ray error (a task's)."""
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
    """A user error raised (not returned) on a node is the user's here too: one line."""
    cause = _cause(ray, exc)
    if isinstance(cause, UserError):
        raise type(cause)(str(cause)) from None

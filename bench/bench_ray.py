"""What scale-out costs: state size per layer, merge vs pass time, and shards/s on Ray.

Usage::

    python bench/bench_ray.py                                  # built-in world, 2 workers
    python bench/bench_ray.py --samples 512 --shards 16 --workers 1,2,4 --bins 256
    python bench/bench_ray.py --no-ray                         # sizes and merge cost only

The local pass runs with ``--threads`` torch threads (default 1, like one Ray worker per CPU),
so "speed-up" compares equal per-worker resources.

Prints, for the built-in world's layers (trained weights):

1. one local pass over ``--samples`` vs the same samples as ``--shards`` shard passes whose
   states are then merged: the merge time, per merge and in total, as a share of the pass
   (and a check that the merged state equals the one-pass state exactly);
2. per layer, the mergeable state's size: raw arrays, as pickled for Ray (what a worker
   sends per shard), and as compressed ``stats.npz``; it depends on units x bins x
   concepts, never on the number of samples;
3. for each ``--workers`` count, a real local Ray cluster with that many CPUs running the
   Ray engine: wall time (cluster start excluded, actors' model loading included),
   shards/s and samples/s, against the local engine's samples/s.

Timings depend on the machine and its load; the script prints both.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import time
from pathlib import Path

import numpy as np
import torch

from dissect_report import progress
from dissect_report.config import DissectConfig
from dissect_report.dissection.calibration import calibrate
from dissect_report.dissection.engines.shards import merge_states, plan_shards
from dissect_report.dissection.statspass import run_pass
from dissect_report.models import load_models
from dissect_report.reportdir.atomic import write_npz


def _mb(n: float) -> str:
    return f"{n / 1e6:8.2f} MB"


def state_sizes(states: dict, tmp: str) -> None:
    print("\n2. state size per layer (what one shard sends; independent of samples)")
    print(f"   {'layer':8s} {'units':>5s} {'bins':>5s} {'concepts':>8s}  {'raw':>11s}"
          f"  {'pickled':>11s}  {'npz':>11s}")  # fmt: skip
    for name, state in states.items():
        arrays = state.arrays()
        raw = sum(a.nbytes for a in arrays.values())
        pickled = len(pickle.dumps(state, protocol=5))
        path = os.path.join(tmp, f"{name}.npz")
        write_npz(Path(path), arrays)
        npz = os.path.getsize(path)
        units, bins, concepts = state.counts.shape
        print(
            f"   {name:8s} {units:5d} {bins:5d} {concepts:8d}  {_mb(raw)}  {_mb(pickled)}  {_mb(npz)}"
        )


def merge_cost(config: DissectConfig, shards: int) -> float:
    """Sections 1 and 2; returns the local engine's time (calibration + pass)."""
    models = load_models(config)
    t0 = time.perf_counter()
    calibration = calibrate(models, config)
    t_cal = time.perf_counter() - t0
    t0 = time.perf_counter()
    whole, _ = run_pass(models, config, 0, config.samples, calibration=calibration)
    t_pass = time.perf_counter() - t0
    spans = plan_shards(0, config.samples, shards=shards, workers=1, batch_size=config.batch_size)
    t0 = time.perf_counter()
    parts = [run_pass(models, config, a, b, calibration=calibration)[0] for a, b in spans]
    t_shards = time.perf_counter() - t0
    t0 = time.perf_counter()
    merged = None
    for part in parts:
        merged = merge_states(merged, part)
    t_merge = time.perf_counter() - t0
    assert merged is not None
    same = all(
        all(np.array_equal(a, merged[n].arrays()[k]) for k, a in whole[n].arrays().items())
        for n in whole
    )
    per_layer = {}
    for name in whole:
        t0 = time.perf_counter()
        for _ in range(5):
            whole[name].merge(parts[0][name])
        per_layer[name] = (time.perf_counter() - t0) / 5
    print(f"\n1. merge cost: {config.samples} samples, {shards} shards, batch {config.batch_size}")
    print(f"   calibration ({config.calibration_samples} samples, once)  {t_cal:8.2f} s")
    print(f"   one pass                          {t_pass:8.2f} s  "
          f"({config.samples / t_pass:.1f} samples/s)")  # fmt: skip
    print(f"   {shards} shard passes                   {t_shards:8.2f} s")
    print(f"   merging the {shards} states            {t_merge * 1e3:8.1f} ms "
          f"({t_merge / t_pass:.3%} of the pass; merged == one pass: {same})")  # fmt: skip
    for name, sec in per_layer.items():
        print(f"   one merge, {name:8s}              {sec * 1e3:8.2f} ms")
    state_sizes(whole, os.environ.get("TMPDIR", "/tmp"))
    return t_cal + t_pass


def ray_runs(config: DissectConfig, shards: int, workers: list[int], local_s: float) -> None:
    import ray

    from dissect_report.dissection.engines.ray_engine import run_ray

    print(f"\n3. Ray engine: {config.samples} samples in {shards} shards "
          f"(local engine, calibration + pass: {local_s:.1f} s)")  # fmt: skip
    print(
        f"   {'workers':>7s} {'start':>8s} {'run':>8s} {'shards/s':>9s} {'samples/s':>10s} {'speed-up':>9s}"
    )
    for n in workers:
        t0 = time.perf_counter()
        ray.init(num_cpus=n, include_dashboard=False, logging_level=logging.WARNING)
        t_start = time.perf_counter() - t0
        try:
            cfg = config.model_copy(update={"engine": "ray", "shards": shards, "workers": n})
            models = load_models(cfg)
            t0 = time.perf_counter()
            run_ray(models, cfg, 0, cfg.samples, partial=None, resume=False)
            t_run = time.perf_counter() - t0
        finally:
            ray.shutdown()
        print(f"   {n:7d} {t_start:7.1f}s {t_run:7.1f}s {shards / t_run:9.2f} "
              f"{cfg.samples / t_run:10.1f} {local_s / t_run:8.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", default="layer2,layer3,layer4")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bins", type=int, default=256)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--workers", default="2", help="comma-separated worker counts")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray runs")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads here (a Ray worker has 1 per CPU)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    progress.set_quiet(True)
    config = DissectConfig(
        layers=args.layers,
        samples=args.samples,
        batch_size=args.batch_size,
        bins=args.bins,
        calibration_samples=min(128, args.samples),
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    local_s = merge_cost(config, args.shards)
    if not args.no_ray:
        ray_runs(config, args.shards, [int(w) for w in args.workers.split(",")], local_s)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

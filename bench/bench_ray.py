"""What scale-out costs: state size per layer, merge cost, and a local run vs a Ray cluster.

Usage::

    python bench/bench_ray.py                                  # built-in world, head + 2 nodes
    python bench/bench_ray.py --samples 300 --layers layer3,layer4 --shards 8 --nodes 2
    python bench/bench_ray.py --no-ray                         # sizes and merge cost only
    python bench/bench_ray.py --only-ray                       # local vs Ray only

Prints, for the built-in world's layers (trained weights):

1. one local pass over ``--samples`` vs the same samples as ``--shards`` shard passes whose
   states are then merged: the merge time, per merge and in total, as a share of the pass
   (and a check that the merged state equals the one-pass state exactly);
2. per layer, the mergeable state's size: raw arrays, as pickled for Ray, and as compressed
   ``stats.npz``; it depends on units x bins x concepts, never on the number of samples;
3. side by side, the CLI's ``dissect`` as one local process (one torch thread) and on a real
   Ray cluster (``ray start``: a head without CPUs and ``--nodes`` one-CPU nodes): wall time
   and CPU-seconds (the driver's, and the cluster's processes' and their children's, sampled
   from ``/proc``), the bytes of one shard's state (left on its node) and the bytes that
   reached the driver, and whether the tables are identical.

Timings depend on the machine and its load; the script prints both.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
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


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-equal arrays, NaN equal to NaN (a dead unit's peaks are NaN)."""
    return np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


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
        all(_equal(a, merged[n].arrays()[k]) for k, a in whole[n].arrays().items()) for n in whole
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


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU-seconds so far) of every process (/proc/PID/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return table


class ClusterCPU(threading.Thread):
    """CPU-seconds of a cluster's processes and all their descendants (Ray's worker
    processes come and go), sampled every 0.2 s; a process's last 0.2 s may be missed."""

    def __init__(self, roots: set[int]) -> None:
        super().__init__(daemon=True)
        self.roots, self.seen, self.base = roots, {}, {}
        self.stop = threading.Event()
        self._sample(self.base)

    def _sample(self, into: dict[int, float]) -> None:
        table = _proc_table()
        for pid, (_, cpu) in table.items():
            p, depth = pid, 0
            while p > 1 and p not in self.roots and depth < 50:
                p, depth = table.get(p, (0, 0.0))[0], depth + 1
            if p in self.roots:
                into[pid] = max(into.get(pid, 0.0), cpu)

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self._sample(self.seen)

    def seconds(self) -> float:
        self.stop.set()
        self.join()
        self._sample(self.seen)
        return sum(cpu - self.base.get(pid, 0.0) for pid, cpu in self.seen.items())


def _cli(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU-seconds of one CLI run in its own process, and its stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dissect_report.cli", *args], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"run failed: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr


def _same_tables(a: Path, b: Path, layers: list[str]) -> bool:
    for name in layers:
        with (
            np.load(a / "layers" / name / "stats.npz") as x,
            np.load(b / "layers" / name / "stats.npz") as y,
        ):
            if x.files != y.files or any(not _equal(x[k], y[k]) for k in x.files):
                return False
    return True


def local_vs_ray(config: DissectConfig, nodes: int, shards: int) -> None:
    """Section 3: the same dissection, one local process vs a real Ray cluster of ``nodes``
    one-CPU worker nodes plus a head (``ray start``), as the CLI runs them."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from ray_cluster import LocalCluster, _pids_of

    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root, "OMP_NUM_THREADS": "1", "RAY_AUTH_MODE": "disabled"}
    flags = [
        "dissect", "--layers", ",".join(config.layers), "--samples", str(config.samples),
        "--batch-size", str(config.batch_size), "--bins", str(config.bins),
        "--calibration-samples", str(config.calibration_samples), "--no-images",
    ]  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="bench_ray"))
    wall_l, cpu_l, _ = _cli(["-q", *flags, "--out", str(tmp / "local")], env)
    t0 = time.perf_counter()
    with LocalCluster(nodes=nodes, env=env) as cluster:
        t_start = time.perf_counter() - t0
        meter = ClusterCPU(_pids_of(cluster.temp_dir))
        meter.start()
        wall_r, cpu_d, err = _cli(
            [*flags, "--engine", "ray", "--address", cluster.address, "--shards", str(shards),
             "--out", str(tmp / "ray")],
            env,
        )  # fmt: skip
        cpu_c = meter.seconds()
    moved = re.search(
        r"ray: (\d+) shards on (\d+) node\(s\) in ([\d.]+) s; (\d+) states \(([\d.]+) MB\) reached "
        r"the driver, ([\d.]+) MB stayed on the nodes",
        err,
    )
    same = _same_tables(tmp / "local", tmp / "ray", list(config.layers))
    print(f"\n3. local vs Ray, {config.samples} samples, layers {','.join(config.layers)}: "
          f"head + {nodes} one-CPU nodes (cluster start {t_start:.1f} s, not counted)")  # fmt: skip
    print(f"   {'':24s} {'wall':>8s} {'CPU-s':>8s}")
    print(f"   {'local (1 thread)':24s} {wall_l:7.1f}s {cpu_l:8.1f}")
    print(f"   {'ray: driver':24s} {wall_r:7.1f}s {cpu_d:8.1f}")
    print(f"   {'ray: cluster processes':24s} {'':8s} {cpu_c:8.1f}")
    print(f"   {'ray: total':24s} {wall_r:7.1f}s {cpu_d + cpu_c:8.1f}"
          f"   ({wall_l / wall_r:.2f}x the local wall, {(cpu_d + cpu_c) / cpu_l:.2f}x its CPU)")  # fmt: skip
    if moved:
        n, used, _, states, driver_mb, node_mb = moved.groups()
        print(f"   bytes: {int(n)} shards of {float(node_mb) / int(n):.2f} MB each stayed on "
              f"{used} node(s); {states} summed states, {float(driver_mb):.2f} MB in all, "
              f"reached the driver (without the per-node sums: {float(node_mb):.2f} MB)")  # fmt: skip
    print(f"   tables identical: {same}")
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", default="layer2,layer3,layer4")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bins", type=int, default=256)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--nodes", type=int, default=2, help="one-CPU worker nodes (+ a head)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray runs (section 3)")
    parser.add_argument("--only-ray", action="store_true", help="section 3 only")
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
    if not args.only_ray:
        merge_cost(config, args.shards)
    if not args.no_ray:
        local_vs_ray(config, args.nodes, args.shards)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""Scale-out through the engine-agnostic shard protocol: N shard processes, then ``merge``.

Usage::

    python bench/bench_shards.py --samples 2048 --shards 1,2,4,8,16

Each shard is a separate ``dissect-report dissect --shard i/N`` process with one torch
thread (as one Slurm array task per core would be), all started at once; then ``dissect-report
merge`` combines them. Prints the wall time of the shard phase and of the merge for each N,
the speed-up over N = 1, and checks that the merged tables are identical to the N = 1 run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

CLI = [sys.executable, "-m", "dissect_report", "-q"]


def _run_shards(root: Path, n: int, args: argparse.Namespace) -> tuple[float, float, Path]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    common = ["dissect", "--samples", str(args.samples), "--layers", args.layers, "--no-images"]
    start = time.perf_counter()
    if n == 1:  # the unsplit run: a report directly, nothing to merge
        subprocess.run([*CLI, *common, "--out", str(root / "n1")], check=True, env=env)
        return time.perf_counter() - start, 0.0, root / "n1"
    procs = [
        subprocess.Popen(
            [*CLI, *common, "--shard", f"{i}/{n}", "--out", str(root / f"n{n}-s{i}")], env=env
        )
        for i in range(1, n + 1)
    ]
    if any(p.wait() != 0 for p in procs):
        raise SystemExit(f"a shard of {n} failed")
    shard_s = time.perf_counter() - start
    out = root / f"n{n}-merged"
    start = time.perf_counter()
    shards = [str(root / f"n{n}-s{i}") for i in range(1, n + 1)]
    subprocess.run([*CLI, "merge", *shards, "--out", str(out), "--no-images"], check=True, env=env)
    return shard_s, time.perf_counter() - start, out


def _tables(report: Path) -> dict[str, list]:
    return {
        p.parent.name: pq.read_table(p).to_pylist()
        for p in sorted(report.glob("layers/*/units.parquet"))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--layers", default="layer2,layer3,layer4")
    parser.add_argument("--shards", default="1,2,4")
    args = parser.parse_args()
    counts = [int(n) for n in args.shards.split(",")]
    print(f"{args.samples} samples, layers {args.layers}, {os.cpu_count()} CPUs, 1 thread/shard")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base_s = None
        reference = None
        for n in counts:
            shard_s, merge_s, out = _run_shards(root, n, args)
            base_s = base_s or shard_s
            same = "reference" if reference is None else _tables(out) == reference
            reference = reference or _tables(out)
            print(
                f"shards {n:3d}: pass {shard_s:7.1f} s  merge {merge_s:5.1f} s  "
                f"speed-up {base_s / shard_s:5.2f}x  "
                f"({args.samples / shard_s:6.1f} samples/s)  tables identical: {same}"
            )


if __name__ == "__main__":
    main()

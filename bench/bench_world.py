"""Throughput of the procedural world renderer (scenes with labels per second).

Usage::

    python bench/bench_world.py [--scenes 4000] [--repeats 3]

Prints the median of ``--repeats`` runs for one process and for all cores (the training
data path, ``dissect_report.world.scenes.render_dataset``). Target: >= 1,000 scenes/s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from dissect_report.world.scenes import render_dataset, render_scenes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    one, many = [], []
    for r in range(args.repeats):
        t = time.perf_counter()
        render_scenes(r, range(args.scenes // 4))
        one.append(args.scenes // 4 / (time.perf_counter() - t))
        t = time.perf_counter()
        render_dataset(r, args.scenes, workers=cores)
        many.append(args.scenes / (time.perf_counter() - t))
    print(f"1 process : {statistics.median(one):8.0f} scenes/s (median of {args.repeats})")
    print(
        f"{cores} processes: {statistics.median(many):8.0f} scenes/s (median of {args.repeats}, incl. pool start)"
    )


if __name__ == "__main__":
    main()

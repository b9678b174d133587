"""Peak memory (RSS) of a dissection pass at two sample counts, each in a fresh subprocess.

Usage::

    python bench/bench_memory.py                      # 1,000 vs 10,000 samples
    python bench/bench_memory.py --small 200 --large 2000 --device cuda

The statistics state has a fixed size, so peak RSS should not grow with the sample count
(target: the large run within 10% of the small one).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path


def child(samples: int, batch: int, layers: str, device: str) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_dissect import builtin_models

    from dissect_report.config import DissectConfig
    from dissect_report.dissection.stage import finalize
    from dissect_report.dissection.statspass import run_pass
    from dissect_report.progress import set_quiet

    set_quiet(True)
    config = DissectConfig(layers=layers, samples=samples, batch_size=batch, device=device)
    models, _ = builtin_models(config)
    t0 = time.perf_counter()
    states, shapes = run_pass(models, config, 0, samples)
    finalize(config, list(models.concepts), ["#000000"] * len(models.concepts), states, shapes)
    seconds = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{samples} {peak_kib} {seconds:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--layers", default="layer2,layer3,layer4")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batch_size, args.layers, args.device)
        return
    peaks = {}
    for samples in (args.small, args.large):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(samples),
                "--batch-size",
                str(args.batch_size),
                "--layers",
                args.layers,
                "--device",
                args.device,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        peaks[samples] = int(out[1]) / 1024
        print(f"{samples:>6} samples: peak RSS {peaks[samples]:8.1f} MiB  ({out[2]} s)")
    ratio = peaks[args.large] / peaks[args.small]
    print(f"ratio large/small: {ratio:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()

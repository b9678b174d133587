"""Write a synthetic report (random numbers, small images) that follows docs/report-format.md.

Usage::

    python bench/make_synthetic_report.py /tmp/synthetic            # 4 layers x 512 units
    python bench/make_synthetic_report.py /tmp/small --layers 2 --units 16 --sections

The generator lives in dissect_report.testing, shared with the tests (it writes through the
real report writer).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dissect_report.testing import SyntheticSpec, write_synthetic_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="report directory to create (must not exist)")
    p.add_argument("--layers", type=int, default=4, help="number of layers (default 4)")
    p.add_argument("--units", type=int, default=512, help="units per layer (default 512)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sections", action="store_true", help="add Interventions and Artifacts")
    args = p.parse_args(argv)
    if args.out.exists():
        print(f"error: {args.out} exists", file=sys.stderr)
        return 2
    spec = SyntheticSpec(
        layers=tuple(f"layer{i + 1}" for i in range(args.layers)),
        units=args.units,
        seed=args.seed,
        interventions=args.sections,
        artifacts=args.sections,
    )
    start = time.perf_counter()
    write_synthetic_report(args.out, spec)
    took = time.perf_counter() - start
    print(f"wrote {args.out} ({args.layers} x {args.units} units) in {took:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

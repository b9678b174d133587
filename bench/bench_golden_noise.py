"""How far float noise and real changes move each compared number: the figures behind the
default tolerances of ``dissect-report compare`` (README, "Regression tests of findings").

Usage::

    PYTHONPATH=tests python bench/bench_golden_noise.py --out runs/noise          # dissection
    PYTHONPATH=tests python bench/bench_golden_noise.py --out runs/noise --sections   # + ACE, artifacts
    python bench/bench_golden_noise.py --compare runs/noise/exact runs/noise/perturbed  # two reports

Runs the pipeline on the built-in world at the golden test's size four times: as it is,
with every block's activations perturbed by relative noise 1e-6 (tests/world_variants.py:
what another BLAS or a GPU in float32 changes), by 1e-3 (the size of TF32 matmuls), and with
another seed (a real change). For each table
column it prints the largest absolute and relative change against the unperturbed report,
then the ``compare`` verdict at the default tolerances. ``--sections`` adds interventions
and artifacts (with the discriminator and rendered real images as reference).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from dissect_report.compare import compare_reports
from dissect_report.compare.tables import row_key
from dissect_report.reportdir.read import list_files

DISSECT = [
    "--layers", "layer3,layer4", "--samples", "64", "--calibration-samples", "32",
    "--top-k", "3", "--batch-size", "64",
]  # fmt: skip
INTERVENE = [
    "--max-concepts", "2", "--samples", "16", "--insert-samples", "4", "--grid", "2",
    "--compare-samples", "1", "--random-trials", "2", "--max-units", "8",
]  # fmt: skip
ARTIFACTS = [
    "--layer", "layer3", "--samples", "32", "--repair-samples", "16", "--reference-samples", "64", "--top-k", "4",
    "--show-units", "1", "--worst-samples", "1", "--candidates", "4",
    "--discriminator", "dissect_report.world:load_discriminator",
]  # fmt: skip
VARIANTS = {
    "exact": [],
    "perturbed": ["--generator", "world_variants:perturbed_generator"],
    "tf32": ["--generator", "world_variants:tf32_perturbed_generator"],
    "seed": ["--seed", "2"],
}


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "dissect_report", "-q", *args], check=True)


def make(out: Path, sections: bool) -> dict[str, Path]:
    """The three reports, made through the CLI (skipped where a report is already there)."""
    reports = {}
    if sections:  # the FSD reference of a wrapped generator: rendered scenes as real images
        from dissect_report.world.scenes import render_scenes

        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "real.npz", images=render_scenes(7, range(64))[0])
    for name, flags in VARIANTS.items():
        report = reports[name] = out / name
        if not (report / "manifest.json").is_file():
            _cli("dissect", *DISSECT, *flags, "--out", str(report))
        if sections and not (report / "artifacts").is_dir():
            _cli("intervene", str(report), *INTERVENE)
            _cli("artifacts", str(report), *ARTIFACTS, "--real-images", str(out / "real.npz"))
    return reports


def _numbers(value: object) -> list[float]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return []


def column_deltas(golden: Path, new: Path) -> list[tuple[str, float, float, int]]:
    """Per (table, column): largest |delta|, largest |delta| / |golden|, values compared."""
    rows = []
    for rel in sorted(r for r in list_files(golden) & list_files(new) if r.endswith(".parquet")):
        g, n = pq.read_table(golden / rel).to_pydict(), pq.read_table(new / rel).to_pydict()
        key = row_key(g, n)
        if key is None or set(g) != set(n):
            continue
        n_index = {k: i for i, k in enumerate(zip(*(n[c] for c in key), strict=True))}
        pairs = [
            (i, n_index[k])
            for i, k in enumerate(zip(*(g[c] for c in key), strict=True))
            if k in n_index
        ]
        for column in sorted(set(g) - set(key)):
            diffs, rels = [], []
            for gi, ni in pairs:
                a, b = _numbers(g[column][gi]), _numbers(n[column][ni])
                for x, y in zip(a, b, strict=False):
                    if math.isfinite(x) and math.isfinite(y):
                        diffs.append(abs(y - x))
                        rels.append(abs(y - x) / abs(x) if x else (0.0 if x == y else math.inf))
            if diffs:
                table = rel.replace("layers/", "").replace(".parquet", "")
                rows.append((f"{table}.{column}", max(diffs), max(rels), len(diffs)))
    return rows


def report_figures(golden: Path, new: Path, label: str) -> None:
    print(f"\n{label}: {new} against {golden}")
    print(f"{'table.column':<46} {'max |diff|':>11} {'max rel':>9} {'values':>7}")
    for name, diff, rel, count in column_deltas(golden, new):
        print(f"{name:<46} {diff:>11.3g} {rel:>9.3g} {count:>7}")
    comparison = compare_reports(golden, new)
    verdict = "PASS" if comparison.passed else f"FAIL ({comparison.failures} differences)"
    print(f"compare at default tolerances: {verdict}, {len(comparison.notes)} boundary note(s)")
    for layer in comparison.layers:
        print(f"  layer {layer.name}: {layer.failures} difference(s), {len(layer.notes)} note(s)")
    for table in comparison.tables:
        print(f"  {table.path}: {table.failures} difference(s), {len(table.notes)} note(s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/noise"))
    parser.add_argument("--sections", action="store_true", help="interventions and artifacts too")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("GOLDEN", "NEW"))
    args = parser.parse_args()
    if args.compare:
        report_figures(*args.compare, "given reports")
        return
    reports = make(args.out, args.sections)
    report_figures(reports["exact"], reports["perturbed"], "relative noise 1e-6")
    report_figures(reports["exact"], reports["tf32"], "relative noise 1e-3 (TF32-sized)")
    report_figures(reports["exact"], reports["seed"], "another seed (a real change)")


if __name__ == "__main__":
    main()

"""Time (and, on a real report, measure) the intervention and artifact stages.

Usage::

    python bench/bench_intervene.py REPORT                 # on a dissected report (copied first)
    python bench/bench_intervene.py --untrained            # timing only: untrained built-in nets
    python bench/bench_intervene.py REPORT --samples 256 --max-units 32 --threads 2

Prints wall times and the headline figures (share of each concept removed by its top units vs
random units, insertion success by context, artifact repair before/after). Never asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from dissect_report.artifacts import ArtifactConfig, find_artifacts
from dissect_report.interventions import InterventionConfig, intervene
from dissect_report.models import Models


def untrained_report(root: Path, layer: str = "layer4") -> tuple[Path, Models]:
    """A synthetic report over the untrained built-in architecture (for timing only)."""
    from dissect_report import world
    from dissect_report.modeltools.reopen import builtin_reference
    from dissect_report.world.nets import Discriminator, Generator, SegNet
    from dissect_report.world.weights import WorldSegmenter

    torch.manual_seed(0)
    gen, seg = Generator().eval(), WorldSegmenter(SegNet(len(world.CONCEPTS)))
    units = dict(Generator().named_children())[layer][0].out_channels
    rng = np.random.default_rng(0)
    concepts = [world.CONCEPTS[i] for i in rng.integers(0, 6, units)]
    d = root / "layers" / layer
    d.mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "unit": pa.array(range(units), pa.int32()),
                "concept": concepts,
                "iou": rng.uniform(0.05, 0.3, units),
                "interpretable": [True] * units,
            }
        ),
        d / "units.parquet",
    )
    manifest = {
        "samples": {"seed": 1},
        "layers": [{"name": layer, "slug": layer, "interpretable": units}],
        "sections": {},
        "timings": {},
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    bundle = Models.from_modules(
        gen, seg, discriminator=Discriminator().eval(), reference=builtin_reference
    )
    return root, bundle


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("report", nargs="?", type=Path)
    p.add_argument("--untrained", action="store_true")
    p.add_argument("--samples", type=int, default=InterventionConfig.samples)
    p.add_argument("--max-units", type=int, default=InterventionConfig.max_units)
    p.add_argument("--max-concepts", type=int, default=InterventionConfig.max_concepts)
    p.add_argument("--concepts", default="")
    p.add_argument("--layer")
    p.add_argument("--insert-level", default="quantile")
    p.add_argument("--no-optimize", action="store_true")
    p.add_argument("--artifact-layer", help="default: the last dissected layer")
    p.add_argument("--artifact-samples", type=int, default=ArtifactConfig.samples)
    p.add_argument("--repair-samples", type=int, default=ArtifactConfig.repair_samples)
    p.add_argument("--repair-units", type=int, default=ArtifactConfig.repair_units)
    p.add_argument("--candidates", type=int, default=ArtifactConfig.candidates)
    p.add_argument("--metric", default=ArtifactConfig.metric)
    p.add_argument("--no-artifacts", action="store_true")
    p.add_argument(
        "--single-threshold",
        action="store_true",
        help="rank units by iou.parquet (each unit's single threshold), as before stats.npz "
        "ranking: the copy of the report is made without stats.npz",
    )
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-intervene-"))
    models = None
    if args.untrained or args.report is None:
        report, models = untrained_report(tmp / "report")
    else:
        report = tmp / "report"
        skip = ("site", "stats.npz") if args.single_threshold else ("site",)
        shutil.copytree(args.report, report, ignore=shutil.ignore_patterns(*skip))
    config = InterventionConfig(
        layer=args.layer,
        samples=args.samples,
        max_units=args.max_units,
        max_concepts=args.max_concepts,
        concepts=tuple(c for c in args.concepts.split(",") if c),
        insert_level=args.insert_level,
        optimize=not args.no_optimize,
    )
    t0 = time.perf_counter()
    res = intervene(config, report, models=models)
    t1 = time.perf_counter()
    print(
        f"intervene: {t1 - t0:.1f} s on {res.layer} "
        f"({len(res.concepts)} concepts, {config.samples} samples, "
        f"units ranked by {res.settings['ranking']})"
    )
    for c in res.concepts:
        ctx = ", ".join(f"{r.context} {r.success:.0%}/{r.sites}" for r in c.insertion[:4])
        print(
            f"  {c.concept:9s} units={c.units:3d} n={c.n_max:2d} fraction={c.fraction:.3f} "
            f"removed={c.share:6.1%} erased={c.erased:6.1%} random={c.share_random:6.1%} "
            f"optimized={c.share_optimized:6.1%} all-units={c.share_all:7.1%} "
            f"insert: added={c.insert_added:.2f} success={c.insert_success:.0%} [{ctx}]"
        )
    if args.no_artifacts:
        print(f"output: {report}")
        return
    acfg = ArtifactConfig(
        layer=args.artifact_layer,
        samples=args.artifact_samples,
        repair_samples=args.repair_samples,
        repair_units=args.repair_units,
        candidates=args.candidates,
        metric=args.metric,
    )
    t2 = time.perf_counter()
    art = find_artifacts(acfg, report, models=models)
    t3 = time.perf_counter()
    r = art.repair
    print(
        f"artifacts: {t3 - t2:.1f} s on {art.layer}; worst units {[s.unit for s in art.units[:8]]}"
    )
    best = sorted((art.gains[u] for u in art.confirmed), key=lambda g: (-g.gain, g.unit))[:6]
    print(
        f"  screen by {art.metric}: {len(art.gains)} units, {len(art.confirmed)} confirmed; "
        f"best {[(g.unit, round(g.gain, 5)) for g in best]}"
    )
    if r is not None:
        rows = "; ".join(
            f"{m.metric} {m.before:.4g} -> {m.after:.4g} ({m.direction}, "
            f"{'passed' if m.passed else 'failed'})"
            for m in r.rows
        )
        print(f"  held-out check of {r.units} on {r.count} samples: {rows}")
    print(f"  verdict: {art.verdict.status}: {art.verdict.reason}")
    print(f"output: {report}")


if __name__ == "__main__":
    main()

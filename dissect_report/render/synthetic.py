"""Write a synthetic report directory that follows docs/report-format.md exactly.

Random numbers and small blocky images, no model: for render tests and the render benchmark.

Usage::

    from dissect_report.render.synthetic import SyntheticSpec, write_synthetic_report
    write_synthetic_report(Path("/tmp/rep"), SyntheticSpec(layers=("layer3",), units=16))
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from dissect_report.render.svg import concept_bars_svg
from dissect_report.reportdir.atomic import write_bytes, write_text
from dissect_report.slug import unique_slugs
from dissect_report.world.scenes import CONCEPTS, PALETTE


def _default_concepts() -> tuple[tuple[str, str], ...]:
    return tuple((c, "#{:02x}{:02x}{:02x}".format(*PALETTE[c])) for c in CONCEPTS)


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate: layer names, units per layer, concepts ``(name, #rrggbb)``, sizes."""

    layers: tuple[str, ...] = ("layer1", "layer2", "layer3", "layer4")
    units: int = 512
    concepts: tuple[tuple[str, str], ...] = field(default_factory=_default_concepts)
    model_name: str = "synthetic"
    top_k: int = 8
    bins: int = 32
    sample_px: int = 24
    strip_samples: int = 4
    iou_floor: float = 0.04
    seed: int = 0
    interventions: bool = False
    artifacts: bool = False


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _write_parquet(path: Path, table: pa.Table) -> None:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    write_bytes(path, buf.getvalue())


def _write_csv(path: Path, table: pa.Table) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow([";".join(map(str, v)) if isinstance(v, list) else v for v in row.values()])
    write_text(path, buf.getvalue())


def _blocks(rng: np.random.Generator, colors: np.ndarray, n: int, px: int) -> np.ndarray:
    """``n`` blocky label maps (4x4 cells) coloured by concept: (n, px, px, 3) uint8."""
    labels = rng.integers(0, len(colors), size=(n, 4, 4))
    big = labels.repeat(px // 4, axis=1).repeat(px // 4, axis=2)
    return colors[big]


def _layer_tables(spec: SyntheticSpec, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    u, c, k = spec.units, len(spec.concepts), spec.top_k
    names = [name for name, _ in spec.concepts]
    iou = rng.beta(0.6, 12.0, size=(u, c))
    iqr = iou * rng.uniform(0.2, 0.8, size=(u, c))
    order = np.argsort(-iou, axis=1, kind="stable")
    best = order[:, 0]
    rows = np.arange(u)
    top_ids = np.sort(rng.choice(100_000, size=(u, k)), axis=1)
    top_act = -np.sort(-rng.gamma(2.0, 2.0, size=(u, k)), axis=1)
    units = pa.table(
        {
            "unit": pa.array(rows, pa.int32()),
            "threshold": pa.array(rng.uniform(0.5, 3.0, size=u), pa.float64()),
            "concept": pa.array([names[i] for i in best], pa.string()),
            "iou": pa.array(iou[rows, best], pa.float64()),
            "iqr": pa.array(iqr[rows, best], pa.float64()),
            "interpretable": pa.array(iou[rows, best] >= spec.iou_floor, pa.bool_()),
            "top_samples": pa.array(top_ids.tolist(), pa.list_(pa.int64())),
            "top_activations": pa.array(top_act.tolist(), pa.list_(pa.float64())),
            "top_concepts": pa.array(
                [[names[j] for j in order[i, :5]] for i in range(u)], pa.list_(pa.string())
            ),
            "top_ious": pa.array(
                [iou[i, order[i, :5]].tolist() for i in range(u)], pa.list_(pa.float64())
            ),
        }
    )
    long = pa.table(
        {
            "unit": pa.array(np.repeat(rows, c), pa.int32()),
            "concept": pa.array(names * u, pa.string()),
            "iou": pa.array(iou.reshape(-1), pa.float64()),
            "iqr": pa.array(iqr.reshape(-1), pa.float64()),
        }
    )
    return units, long


def _stats(spec: SyntheticSpec, units: pa.Table, rng: np.random.Generator) -> bytes:
    u, b, c, k = spec.units, spec.bins, len(spec.concepts), spec.top_k
    edges = np.sort(rng.uniform(-1.0, 4.0, size=(u, b + 1)), axis=1)
    counts = rng.poisson(np.exp(-np.linspace(0, 6, b))[None, :, None] * 50, size=(u, b, c))
    hist = counts.sum(axis=2) + rng.poisson(200, size=(u, b)) * (np.arange(b) < b // 4)
    buf = io.BytesIO()
    np.savez(
        buf,
        edges=edges,
        counts=counts.astype(np.int64),
        unit_hist=hist.astype(np.int64),
        concept_totals=counts.sum(axis=(0, 1)).astype(np.int64),
        topk_values=np.array(units.column("top_activations").to_pylist(), np.float64),
        topk_ids=np.array(units.column("top_samples").to_pylist(), np.int64).reshape(u, k),
        nonfinite=np.int64(0),
        samples=np.int64(1000),
    )
    return buf.getvalue()


def _write_layer(root: Path, spec: SyntheticSpec, slug: str, rng: np.random.Generator) -> dict:
    d = root / "layers" / slug
    units, long = _layer_tables(spec, rng)
    _write_parquet(d / "units.parquet", units)
    _write_csv(d / "units.csv", units)
    _write_parquet(d / "iou.parquet", long)
    write_bytes(d / "stats.npz", _stats(spec, units, rng))
    interp = units.column("interpretable").to_numpy(zero_copy_only=False)
    concept_of = units.column("concept").to_pylist()
    per = {name: 0 for name, _ in spec.concepts}
    for name, ok in zip(concept_of, interp, strict=True):
        per[name] += int(ok)
    rows = sorted(((n, col, per[n]) for n, col in spec.concepts if per[n]), key=lambda r: -r[2])
    write_text(d / "concepts.svg", concept_bars_svg(rows))
    colors = np.array([[int(col[i : i + 2], 16) for i in (1, 3, 5)] for _, col in spec.concepts])
    colors = colors.astype(np.uint8)
    px, k = spec.sample_px, spec.top_k
    for unit in range(spec.units):
        seg = _blocks(rng, colors, k, px)
        img = (seg * 0.6 + rng.integers(0, 90, size=(k, 1, 1, 3))).astype(np.uint8)
        grid = np.concatenate([np.concatenate(list(img), 1), np.concatenate(list(seg), 1)], 0)
        (d / "units").mkdir(parents=True, exist_ok=True)
        (d / "units" / f"{unit}.png").write_bytes(_png(grid))
        strip = np.concatenate(list(img[: spec.strip_samples, ::2, ::2]), 1)
        (d / "units" / f"{unit}-strip.png").write_bytes(_png(strip))
    return {
        "units": spec.units,
        "interpretable": int(interp.sum()),
        "concepts_covered": sum(1 for v in per.values() if v),
        "table": units,
    }


def _write_interventions(
    root: Path, spec: SyntheticSpec, layer: str, units: pa.Table, slugs: dict[str, str], rng
) -> dict:
    names = [n for n, _ in spec.concepts]
    rows = units.to_pylist()
    index = []
    for name in names[:3]:
        mine = sorted(
            (r for r in rows if r["interpretable"] and r["concept"] == name),
            key=lambda r: -r["iou"],
        )
        n_max = max(1, min(8, len(mine)))
        ns = sorted({1, 2, 4, n_max} - {x for x in (2, 4) if x > n_max})
        frac = float(rng.uniform(0.05, 0.3))
        ace = np.sort(rng.uniform(0, frac, size=len(ns)))
        d = root / "concepts" / slugs[name]
        top = [r["unit"] for r in mine[:n_max]] or [0]
        _write_parquet(
            d / "ace.parquet",
            pa.table(
                {
                    "method": pa.array(["iou"] * len(ns), pa.string()),
                    "n": pa.array(ns, pa.int32()),
                    "units": pa.array([top[:n] for n in ns], pa.list_(pa.int32())),
                    "trials": pa.array([1] * len(ns), pa.int32()),
                    "fraction_before": pa.array([frac] * len(ns), pa.float64()),
                    "fraction_after": pa.array((frac - ace).tolist(), pa.float64()),
                    "ace": pa.array(ace.tolist(), pa.float64()),
                    "ace_std": pa.array([0.0] * len(ns), pa.float64()),
                    "share": pa.array((ace / frac).tolist(), pa.float64()),
                }
            ),
        )
        curve = {"concept": name, "layer": layer, "fraction": frac, "n": ns}
        curve |= {"iou": ace.tolist(), "random": [0.0] * len(ns), "random_std": [0.0] * len(ns)}
        write_text(d / "ace.json", json.dumps(curve | {"optimized": None}))
        write_text(d / "ace.svg", concept_bars_svg([(f"n={n}", "#3f51b5", 1) for n in ns]))
        _write_parquet(
            d / "insertion.parquet",
            pa.table(
                {
                    "context": pa.array(names[:2], pa.string()),
                    "sites": pa.array([5, 3], pa.int64()),
                    "added": pa.array([0.2, 0.01], pa.float64()),
                    "success": pa.array([0.8, 0.0], pa.float64()),
                }
            ),
        )
        cmp = _blocks(rng, np.array([[200, 200, 200], [40, 90, 40]], np.uint8), 6, 24)
        write_bytes(d / "compare.png", _png(np.concatenate(list(cmp), 1)))
        index.append(
            {
                "concept": name,
                "slug": slugs[name],
                "layer": layer,
                "units": len(mine),
                "top_units": top,
                "n_max": n_max,
                "fraction": frac,
                "ace": float(ace[-1]),
                "share": float(ace[-1] / frac),
                "ace_random": 0.001,
                "share_random": 0.001 / frac,
                "ace_optimized": float("nan"),
                "share_optimized": float("nan"),
                "erased": float(ace[-1] / frac) + 0.05,
                "erased_random": 0.02,
                "ace_all": frac,
                "share_all": 1.0,
                "insert_sites": 8,
                "insert_added": 0.12,
                "insert_success": 0.5,
                "compare_samples": [1, 2, 3],
            }
        )
    schema = pa.schema(
        [
            ("concept", pa.string()),
            ("slug", pa.string()),
            ("layer", pa.string()),
            ("units", pa.int32()),
            ("top_units", pa.list_(pa.int32())),
            ("n_max", pa.int32()),
        ]
        + [(c, pa.float64()) for c in ("fraction", "ace", "share", "ace_random", "share_random")]
        + [("ace_optimized", pa.float64()), ("share_optimized", pa.float64())]
        + [(c, pa.float64()) for c in ("erased", "erased_random", "ace_all", "share_all")]
        + [("insert_sites", pa.int64()), ("insert_added", pa.float64())]
        + [("insert_success", pa.float64()), ("compare_samples", pa.list_(pa.int64()))]
    )
    table = pa.Table.from_pylist(index, schema=schema)
    _write_parquet(root / "concepts" / "index.parquet", table)
    _write_csv(root / "concepts" / "index.csv", table)
    return {"layer": layer, "seed": spec.seed + 1, "samples": 64, "concepts": names[:3]}


def _write_artifacts(root: Path, spec: SyntheticSpec, layer: str, rng) -> dict:
    d = root / "artifacts"
    n = min(spec.units, 16)
    score = np.sort(rng.normal(size=n))[::-1]
    table = pa.table(
        {
            "unit": pa.array(rng.permutation(spec.units)[:n], pa.int32()),
            "rank": pa.array(np.arange(1, n + 1), pa.int32()),
            "score": pa.array(score, pa.float64()),
            "fsd": pa.array(rng.uniform(1, 5, n), pa.float64()),
            "realism": pa.array(rng.normal(size=n), pa.float64()),
            "top_samples": pa.array([[1, 2, 3]] * n, pa.list_(pa.int64())),
            "ablation_gain": pa.array(rng.normal(0, 0.01, n), pa.float64()),
            "repaired": pa.array(np.arange(n) < 4, pa.bool_()),
        }
    )
    _write_parquet(d / "units.parquet", table)
    _write_csv(d / "units.csv", table)
    rows = [(f"unit {u}", "#e53935", 1) for u in table.column("unit").to_pylist()[:8]]
    write_text(d / "scores.svg", concept_bars_svg(rows))
    gray = np.array([[90, 90, 90], [220, 120, 60]], np.uint8)
    for u in table.column("unit").to_pylist()[:4]:
        write_bytes(
            d / "units" / f"{u}.png", _png(np.concatenate(list(_blocks(rng, gray, 4, 24)), 1))
        )
    repair = {"metric": ["fsd", "realism", "labels"], "before": [3.0, -0.5, 0.0]}
    repair |= {"after": [2.5, -0.2, 0.03], "improved": [True, True, False]}
    repair |= {
        "label": ["FSD to real images", "discriminator realism (mean logit)", "label change"],
        "role": ["metric", "check", "check"],
        "lower_is_better": [True, False, True],
        "passed": [True, True, True],
        "detail": ["", "not significantly lower", "3.0% of pixels change label (limit 10%)"],
    }
    _write_parquet(d / "repair.parquet", pa.table(repair))
    units = table.column("unit").to_pylist()[:4]
    metrics = {"fsd": {"before": 3.0, "after": 2.5}, "realism": {"before": -0.5, "after": -0.2}}
    doc = {"layer": layer, "units": units, "metrics": metrics, "worst_samples": [4, 5]}
    reason = f"ablating units {', '.join(map(str, units))} improved FSD on held-out samples"
    doc |= {"tried": units, "verdict": {"status": "repaired", "repaired": True, "reason": reason}}
    fsd = 3.0 - 0.1 * np.arange(1, len(units) + 1)
    doc |= {"metric": "fsd", "baseline": 3.0, "confirmed": units}
    doc["greedy"] = [
        {"unit": u, "fsd": float(v), "kept": True} for u, v in zip(units, fsd, strict=True)
    ]
    write_text(d / "repair.json", json.dumps(doc))
    for name in ("before", "after"):
        write_bytes(d / f"{name}.png", _png(np.concatenate(list(_blocks(rng, gray, 2, 24)), 1)))
    return {"layer": layer, "score_seed": 7, "repair_seed": 8, "top_k": 3, "repair_units": 4}


def write_synthetic_report(root: Path, spec: SyntheticSpec | None = None) -> Path:
    """Write a complete report under ``root`` (created; must not hold a manifest yet)."""
    spec = spec or SyntheticSpec()
    root = Path(root)
    rng = np.random.default_rng(spec.seed)
    layer_slugs = unique_slugs(list(spec.layers))
    concept_slugs = unique_slugs([n for n, _ in spec.concepts])
    layers = []
    tables = {}
    for name in spec.layers:
        info = _write_layer(root, spec, layer_slugs[name], rng)
        tables[name] = info.pop("table")
        size = 4 * 2 ** len(layers)
        layers.append(
            {"name": name, "slug": layer_slugs[name], "shape": [spec.units, size, size]} | info
        )
    sections = {"interventions": spec.interventions, "artifacts": spec.artifacts}
    manifest: dict = {
        "schema_version": 1,
        "tool": {"name": "dissect-report", "version": "0.1.0"},
        "created": "2026-11-23T06:00:00+00:00",
        "command": f"dissect-report run --out {root.name} --seed {spec.seed}",
        "config": {"seed": spec.seed, "samples": 1000, "layers": list(spec.layers)},
        "model": {
            "name": spec.model_name,
            "factory": "synthetic:none",
            "weights": None,
            "weights_sha256": "ab" * 32,
            "z_dim": 128,
        },
        "segmenter": {"name": "synthetic", "weights_sha256": None},
        "concepts": [
            {"name": n, "slug": concept_slugs[n], "color": col} for n, col in spec.concepts
        ],
        "layers": layers,
        "samples": {"count": 1000, "seed": spec.seed, "top_k": spec.top_k},
        "threshold": {"policy": "quantile", "level": 0.99, "iou_floor": spec.iou_floor},
        "nonfinite": {name: 0 for name in spec.layers},
        "timings": {"dissect_s": 1.5, "visualize_s": 0.5},
        "sections": sections,
    }
    last = spec.layers[-1]
    if spec.interventions:
        manifest["interventions"] = _write_interventions(
            root, spec, last, tables[last], concept_slugs, rng
        )
    if spec.artifacts:
        manifest["artifacts"] = _write_artifacts(root, spec, last, rng)
    write_text(root / "manifest.json", json.dumps(manifest, indent=2))
    return root

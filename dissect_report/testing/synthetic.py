"""One synthetic-report builder for the tests and benchmarks of render, compare and the plugin.

Usage::

    from dissect_report.testing.synthetic import SyntheticSpec, write_synthetic_report
    write_synthetic_report(Path("/tmp/rep"), SyntheticSpec(layers=("layer3",), units=16))
    write_synthetic_report(Path("/tmp/g"), layers={"layer1": 4, "layer2": 6}, images=False)

Numbers, not a dissection: every unit has a clear best concept (IoU ``0.1 + 0.02 * (unit % 40)``),
with the features of real reports: units ``4, 9, 14, ...`` are not interpretable (their best
IoU is under the floor), the last concept is empty (no pixels, never a unit's best), and
``stats.npz`` has open outer bins (``edges[:, 0] = -inf``, ``edges[:, -1] = +inf``) whose low
bin is counted but not split by concept. Two calls with the same spec write identical reports.
All files go through :mod:`dissect_report.reportdir` (atomic, schema columns, manifest last).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dissect_report.charts import vertical_bar_chart
from dissect_report.reportdir.atomic import write_bytes, write_json, write_npz
from dissect_report.reportdir.schema import (
    ACE,
    ARTIFACT_REPAIR,
    ARTIFACT_UNITS,
    CONCEPT_INDEX,
    INSERTION,
    IOU,
    SCHEMA_VERSION,
    UNITS,
    AceRow,
    ArtifactUnitRow,
    ArtifactVerdict,
    ConceptIndexRow,
    InsertionRow,
    IouRow,
    RepairDoc,
    RepairRow,
    RepairStep,
    UnitRow,
    to_table,
)
from dissect_report.reportdir.write import write_manifest, write_table
from dissect_report.slug import unique_slugs

DEFAULT_CONCEPTS: tuple[tuple[str, str], ...] = (
    ("sky", "#7ec0ee"),
    ("tree", "#2e7d32"),
    ("grass", "#7cb342"),
    ("door", "#6d4c41"),
    ("window", "#90caf9"),
)


@dataclass(frozen=True)
class SyntheticSpec:
    """What to write.

    ``layers``: names (each with ``units`` units) or ``{name: units}``. ``concepts``: names or
    ``(name, "#rrggbb")`` pairs; the last one is the empty concept. ``value_seed`` draws the
    values that are not fixed (thresholds, top samples), ``seed`` is the dissection seed the
    manifest records. ``images``: unit grids and strips (``sample_px`` pixels per sample).
    ``interventions`` / ``artifacts``: add those sections, on the last layer.
    """

    layers: tuple[str, ...] | dict[str, int] = ("layer1", "layer2")
    units: int = 8
    concepts: tuple[str, ...] | tuple[tuple[str, str], ...] = DEFAULT_CONCEPTS
    model_name: str = "synthetic"
    value_seed: int = 0
    seed: int = 1
    samples: int = 32
    top_k: int = 3
    bins: int = 8
    iou_floor: float = 0.04
    images: bool = True
    sample_px: int = 16
    strip_samples: int = 4
    interventions: bool = False
    artifacts: bool = False
    units_by_layer: dict[str, int] = field(init=False, repr=False)
    concept_colors: tuple[tuple[str, str], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        layers = self.layers
        by_layer = dict(layers) if isinstance(layers, dict) else dict.fromkeys(layers, self.units)
        colors = tuple(
            (c, f"#{(37 * i) % 256:02x}8040") if isinstance(c, str) else (str(c[0]), str(c[1]))
            for i, c in enumerate(self.concepts)
        )
        object.__setattr__(self, "units_by_layer", by_layer)
        object.__setattr__(self, "concept_colors", colors)


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _tile(sample: int, unit: int, px: int, highlight: bool) -> np.ndarray:
    rng = np.random.default_rng(10_000 + sample)
    tile = np.empty((px, px, 3), dtype=np.uint8)
    tile[:] = rng.integers(0, 256, size=3)
    if highlight:  # a unit-specific highlighted square, as in the real grids
        off = unit % (px // 2)
        tile[off : off + px // 2, off : off + px // 2] = (255, 214, 0)
    return tile


def unit_images(
    report: Path, slug: str, unit: int, samples: list[int], px: int = 16, strip: int = 4
) -> None:
    """(Re)draw ``units/<unit>.png``, ``<unit>-strip.png`` and ``<unit>-thumb.webp`` from the ids."""
    top = np.concatenate([_tile(s, unit, px, True) for s in samples], axis=1)
    seg = np.concatenate([_tile(s + 1, unit, px, False) for s in samples], axis=1)
    base = Path(report) / "layers" / slug / "units"
    write_bytes(base / f"{unit}.png", _png(np.concatenate([top, seg])))
    thumbs = np.concatenate([_tile(s, unit, px, True)[::2, ::2] for s in samples[:strip]], axis=1)
    write_bytes(base / f"{unit}-strip.png", _png(thumbs))
    buf = io.BytesIO()  # the gallery's thumbnail, as visualize writes it
    Image.fromarray(thumbs).save(buf, format="WEBP", quality=80)
    write_bytes(base / f"{unit}-thumb.webp", buf.getvalue())


def _iou_matrix(
    units: int, concepts: int, layer_index: int, rng: np.random.Generator
) -> np.ndarray:
    matrix = np.round(rng.uniform(0.0, 0.03, size=(units, concepts)), 4)
    winners = max(concepts - 1, 1)  # the last concept is never a unit's best
    matrix[:, -1] = 0.0 if concepts > 1 else matrix[:, -1]
    for unit in range(units):
        best = 0.02 if unit % 5 == 4 else 0.1 + 0.02 * (unit % 40)  # every fifth: not interpretable
        matrix[unit, (unit + layer_index) % winners] = round(best, 4)
    return matrix


def _write_layer(
    root: Path, spec: SyntheticSpec, name: str, slug: str, index: int, rng: np.random.Generator
) -> tuple[dict[str, Any], list[UnitRow]]:
    names = [c for c, _ in spec.concept_colors]
    n_units, k, bins = spec.units_by_layer[name], spec.top_k, spec.bins
    matrix = _iou_matrix(n_units, len(names), index, rng)
    iqr = np.round(matrix * 0.5, 4)
    order = np.argsort(-matrix, axis=1, kind="stable")
    best = order[:, 0]
    rows = np.arange(n_units)
    top = [sorted(int(s) for s in rng.choice(spec.samples, size=k, replace=False)) for _ in rows]
    acts = [
        sorted((round(float(a), 4) for a in rng.uniform(1, 5, size=k)), reverse=True) for _ in rows
    ]
    interpretable = matrix[rows, best] >= spec.iou_floor
    threshold = np.round(rng.uniform(0.5, 2.0, size=n_units), 4)
    units = [
        UnitRow(
            unit=int(u),
            threshold=float(threshold[u]),
            concept=names[best[u]],
            iou=float(matrix[u, best[u]]),
            iqr=float(iqr[u, best[u]]),
            interpretable=bool(interpretable[u]),
            top_samples=tuple(top[u]),
            top_activations=tuple(acts[u]),
            top_concepts=tuple(names[c] for c in order[u, :5]),
            top_ious=tuple(float(matrix[u, c]) for c in order[u, :5]),
        )
        for u in rows
    ]
    d = root / "layers" / slug
    write_table(d / "units.parquet", to_table(units, UnitRow), UNITS, csv=True)
    long = [
        IouRow(unit=u, concept=c, iou=float(matrix[u, i]), iqr=float(iqr[u, i]))
        for u in range(n_units)
        for i, c in enumerate(names)
    ]
    write_table(d / "iou.parquet", to_table(long, IouRow), IOU)
    # Open outer bins as the pass makes them; bin 0 (under the calibration quantile) is
    # counted but not split by concept; the empty concept has no pixels at all.
    inner = np.tile(np.linspace(0.0, 4.0, bins - 1), (n_units, 1))
    edges = np.concatenate(
        [np.full((n_units, 1), -np.inf), inner, np.full((n_units, 1), np.inf)], 1
    )
    counts = rng.integers(0, 50, size=(n_units, bins, len(names)), dtype=np.int64)
    counts[:, 0, :] = 0
    counts[:, :, -1] = 0 if len(names) > 1 else counts[:, :, -1]
    unit_hist = counts.sum(axis=2)
    unit_hist[:, 0] = rng.integers(100, 400, size=n_units)
    write_npz(
        d / "stats.npz",
        {
            "edges": edges,
            "counts": counts,
            "unit_hist": unit_hist,
            "concept_totals": counts.sum(axis=(0, 1)),
            "topk_values": np.asarray(acts, dtype=np.float64),
            "topk_ids": np.asarray(top, dtype=np.int64),
            "nonfinite": np.asarray(0, dtype=np.int64),
            "samples": np.asarray(spec.samples, dtype=np.int64),
        },
    )
    covered = {names[b] for b, ok in zip(best, interpretable, strict=True) if ok}
    color = dict(spec.concept_colors)
    per = [
        (
            c,
            color[c],
            int(sum(1 for b, ok in zip(best, interpretable, strict=True) if ok and names[b] == c)),
        )
        for c in sorted(covered)
    ]
    write_bytes(
        d / "concepts.svg",
        vertical_bar_chart(per, title=f"{name}: interpretable units per concept").encode(),
    )
    if spec.images:
        for unit in rows:
            unit_images(root, slug, int(unit), top[unit], spec.sample_px, spec.strip_samples)
    size = 4 * 2**index
    entry = {
        "name": name,
        "slug": slug,
        "shape": [n_units, size, size],
        "units": n_units,
        "interpretable": int(interpretable.sum()),
        "concepts_covered": len(covered),
    }
    return entry, units


def _blocks(rng: np.random.Generator, colors: np.ndarray, n: int, px: int) -> np.ndarray:
    """``n`` blocky label maps (4x4 cells) coloured by concept: (n, px, px, 3) uint8."""
    labels = rng.integers(0, len(colors), size=(n, 4, 4))
    return colors[labels.repeat(px // 4, axis=1).repeat(px // 4, axis=2)]


def _write_interventions(
    root: Path, spec: SyntheticSpec, layer: str, units: list[UnitRow], slugs: dict[str, str], rng
) -> dict[str, Any]:
    names = [n for n, _ in spec.concept_colors]
    index = []
    for name in names[:3]:
        mine = sorted(
            (r for r in units if r.interpretable and r.concept == name), key=lambda r: -r.iou
        )
        n_max = max(1, min(8, len(mine)))
        ns = sorted({1, 2, 4, n_max} - {x for x in (2, 4) if x > n_max})
        frac = float(rng.uniform(0.05, 0.3))
        ace = np.sort(rng.uniform(0, frac, size=len(ns)))
        d = root / "concepts" / slugs[name]
        top = [r.unit for r in mine[:n_max]] or [0]
        curve = [
            AceRow(method="iou", n=n, units=tuple(top[:n]), trials=1, fraction_before=frac,
                   fraction_after=frac - a, ace=a, ace_std=0.0, share=a / frac, erased=a / frac)
            for n, a in zip(ns, ace.tolist(), strict=True)
        ]  # fmt: skip
        write_table(d / "ace.parquet", to_table(curve, AceRow), ACE)
        doc = {"concept": name, "layer": layer, "fraction": frac, "n": ns, "iou": ace.tolist()}
        doc |= {"random": [0.0] * len(ns), "random_std": [0.0] * len(ns), "optimized": None}
        write_json(d / "ace.json", doc | {"all": frac})
        bars = [(f"n={n}", "#3f51b5", 1) for n in ns]
        write_bytes(d / "ace.svg", vertical_bar_chart(bars, title=name).encode())
        contexts = [
            InsertionRow(context=names[0], sites=5, added=0.2, success=0.8),
            InsertionRow(context=names[1], sites=3, added=0.01, success=0.0),
        ]
        write_table(d / "insertion.parquet", to_table(contexts, InsertionRow), INSERTION)
        cmp = _blocks(rng, np.array([[200, 200, 200], [40, 90, 40]], np.uint8), 6, 24)
        write_bytes(d / "compare.png", _png(np.concatenate(list(cmp), 1)))
        last = float(ace[-1])
        index.append(
            ConceptIndexRow(
                concept=name, slug=slugs[name], layer=layer, units=len(mine),
                top_units=tuple(top), n_max=n_max, fraction=frac, ace=last,
                share=last / frac, ace_random=0.001, share_random=0.001 / frac,
                ace_optimized=float("nan"), share_optimized=float("nan"),
                erased=last / frac + 0.05, erased_random=0.02, ace_all=frac,
                share_all=1.0, insert_sites=8, insert_added=0.12, insert_success=0.5,
                compare_samples=(1, 2, 3),
            )
        )  # fmt: skip
    table = to_table(index, ConceptIndexRow)
    write_table(root / "concepts" / "index.parquet", table, CONCEPT_INDEX, csv=True)
    return {"layer": layer, "seed": spec.seed + 1, "samples": 64, "concepts": names[:3]}


def _write_artifacts(
    root: Path, spec: SyntheticSpec, layer: str, units: list[UnitRow], rng
) -> dict:
    d = root / "artifacts"
    total = len(units)
    n = min(total, 16)
    score = np.sort(rng.normal(size=n))[::-1]
    labels = {r.unit: (r.concept, r.iou) for r in units}
    picked = [int(u) for u in rng.permutation(total)[:n]]
    rows = [
        ArtifactUnitRow(
            unit=u, rank=i + 1, score=float(score[i]), fsd=float(rng.uniform(1, 5)),
            realism=float(rng.normal()), top_samples=(1, 2, 3),
            ablation_gain=float(rng.normal(0, 0.01)), ablation_gain_even=0.0,
            repaired=i < 4, concept=labels[u][0], iou=labels[u][1],
        )
        for i, u in enumerate(picked)
    ]  # fmt: skip
    write_table(d / "units.parquet", to_table(rows, ArtifactUnitRow), ARTIFACT_UNITS, csv=True)
    bars = [(f"unit {u}", "#e53935", 1) for u in picked[:8]]
    write_bytes(d / "scores.svg", vertical_bar_chart(bars, title=f"{layer}: worst units").encode())
    gray = np.array([[90, 90, 90], [220, 120, 60]], np.uint8)
    for u in picked[:4]:
        write_bytes(
            d / "units" / f"{u}.png", _png(np.concatenate(list(_blocks(rng, gray, 4, 24)), 1))
        )
    repair = (
        RepairRow.measured("fsd", "FSD to real images", 3.0, 2.5, True, "metric", True),
        RepairRow.measured("realism", "discriminator realism (mean logit)", -0.5, -0.2, False,
                           "check", True, "not significantly lower"),
        RepairRow.measured("labels", "label change", 0.0, 0.03, True, "check", True,
                           "3.0% of pixels change label (limit 10%)"),
    )  # fmt: skip
    write_table(d / "repair.parquet", to_table(repair, RepairRow), ARTIFACT_REPAIR)
    fixed = tuple(picked[:4])
    reason = f"ablating units {', '.join(map(str, fixed))} improved FSD on held-out samples"
    fsd = 3.0 - 0.1 * np.arange(1, len(fixed) + 1)
    doc = RepairDoc(
        layer=layer,
        verdict=ArtifactVerdict("repaired", fixed, fixed, reason),
        metric="fsd",
        confirmed=fixed,
        baseline=3.0,
        greedy=tuple(RepairStep(u, float(v), True) for u, v in zip(fixed, fsd, strict=True)),
        metrics=repair,
        worst_samples=(4, 5),
    )
    write_json(d / "repair.json", doc.to_json())
    for name in ("before", "after"):
        write_bytes(d / f"{name}.png", _png(np.concatenate(list(_blocks(rng, gray, 2, 24)), 1)))
    return {"layer": layer, "score_seed": 7, "repair_seed": 8, "top_k": 3, "repair_units": 4}


def write_synthetic_report(
    path: str | Path, spec: SyntheticSpec | None = None, **fields: Any
) -> Path:
    """Write a complete report at ``path`` (created; manifest last); returns ``path``.

    ``fields`` override the spec's fields (``layers={"a": 3}``, ``images=False``, ...).
    """
    spec = replace(spec or SyntheticSpec(), **fields) if fields else spec or SyntheticSpec()
    root = Path(path)
    rng = np.random.default_rng(spec.value_seed)
    names = list(spec.units_by_layer)
    layer_slugs = unique_slugs(names)
    concept_slugs = unique_slugs([c for c, _ in spec.concept_colors])
    entries, tables = [], {}
    for i, name in enumerate(names):
        entry, tables[name] = _write_layer(root, spec, name, layer_slugs[name], i, rng)
        entries.append(entry)
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dissect-report", "version": "0.1.0"},
        "created": "2026-01-01T00:00:00+00:00",
        "command": f"dissect-report run --out {root.name}",
        "config": {"seed": spec.seed, "samples": spec.samples, "layers": names, "out": str(root)},
        "model": {"name": spec.model_name, "factory": "synthetic:none", "weights": None,
                  "weights_sha256": "0" * 64, "z_dim": 8},
        "segmenter": {"name": "synthetic", "weights_sha256": "1" * 64},
        "concepts": [{"name": c, "slug": concept_slugs[c], "color": col}
                     for c, col in spec.concept_colors],
        "layers": entries,
        "samples": {"count": spec.samples, "seed": spec.seed, "top_k": spec.top_k},
        "threshold": {"policy": "quantile", "level": 0.99, "iou_floor": spec.iou_floor},
        "nonfinite": dict.fromkeys(names, 0),
        "timings": {"dissect_s": 1.0, "visualize_s": 0.5},
        "sections": {"interventions": spec.interventions, "artifacts": spec.artifacts},
    }  # fmt: skip
    last = names[-1]
    if spec.interventions:
        manifest["interventions"] = _write_interventions(
            root, spec, last, tables[last], concept_slugs, rng
        )
    if spec.artifacts:
        manifest["artifacts"] = _write_artifacts(root, spec, last, tables[last], rng)
    write_manifest(root, manifest)
    return root

"""Write small, valid, synthetic report directories (for tests and benchmarks of compare).

Usage::

    from dissect_report.compare.synthetic import edit_units, write_synthetic_report
    golden = write_synthetic_report(tmp_path / "golden", layers={"layer1": 4, "layer2": 6})
    new = write_synthetic_report(tmp_path / "new", layers={"layer1": 4, "layer2": 6})
    edit_units(new, "layer2", 3, concept="door", iou=0.31)   # plant a label change

The reports follow ``docs/report-format.md`` exactly (real Parquet, real PNGs, a real
``stats.npz``), with numbers drawn from ``value_seed`` so that two calls with the same
arguments write identical reports. They are not dissections of any model.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_CONCEPTS = ("sky", "tree", "grass", "door", "window")
CELL = 16  # pixels per sample in the synthetic unit images


def _color(sample: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(10_000 + sample)
    return tuple(int(x) for x in rng.integers(0, 256, size=3))  # type: ignore[return-value]


def _sample_tile(sample: int, unit: int, highlight: bool) -> np.ndarray:
    tile = np.empty((CELL, CELL, 3), dtype=np.uint8)
    tile[:] = _color(sample)
    if highlight:  # a unit-specific highlighted square, as in the real grids
        off = unit % (CELL // 2)
        tile[off : off + CELL // 2, off : off + CELL // 2] = (255, 255, 0)
    return tile


def _save_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG")


def unit_images(report: Path, slug: str, unit: int, samples: list[int]) -> None:
    """(Re)draw ``units/<unit>.png`` and ``units/<unit>-strip.png`` from the sample ids."""
    strip = np.concatenate([_sample_tile(s, unit, True) for s in samples], axis=1)
    seg = np.concatenate([_sample_tile(s + 1, unit, False) for s in samples], axis=1)
    _save_png(report / "layers" / slug / "units" / f"{unit}-strip.png", strip)
    _save_png(report / "layers" / slug / "units" / f"{unit}.png", np.concatenate([strip, seg]))


def _write_units(path: Path, table: dict[str, list[Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("unit", pa.int32()),
            ("threshold", pa.float64()),
            ("concept", pa.string()),
            ("iou", pa.float64()),
            ("iqr", pa.float64()),
            ("interpretable", pa.bool_()),
            ("top_samples", pa.list_(pa.int64())),
            ("top_activations", pa.list_(pa.float64())),
            ("top_concepts", pa.list_(pa.string())),
            ("top_ious", pa.list_(pa.float64())),
        ]
    )
    pq.write_table(pa.table(table, schema=schema), path)
    with open(path.with_suffix(".csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(table)
        for row in zip(*table.values(), strict=True):
            writer.writerow([";".join(map(str, v)) if isinstance(v, list) else v for v in row])


def _write_iou(path: Path, table: dict[str, list[Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("unit", pa.int32()),
            ("concept", pa.string()),
            ("iou", pa.float64()),
            ("iqr", pa.float64()),
        ]
    )
    pq.write_table(pa.table(table, schema=schema), path)


def write_synthetic_report(
    path: str | Path,
    *,
    layers: dict[str, int] | None = None,
    concepts: tuple[str, ...] = DEFAULT_CONCEPTS,
    value_seed: int = 0,
    samples: int = 32,
    seed: int = 1,
    top_k: int = 3,
    iou_floor: float = 0.04,
    images: bool = True,
) -> Path:
    """Write a complete synthetic report at ``path`` (created; manifest written last)."""
    from dissect_report.slug import unique_slugs

    report = Path(path)
    layers = layers if layers is not None else {"layer1": 4, "layer2": 6}
    rng = np.random.default_rng(value_seed)
    concept_slugs = unique_slugs(list(concepts))
    layer_slugs = unique_slugs(list(layers))
    manifest_layers = []
    bins = 4
    for li, (name, n_units) in enumerate(layers.items()):
        slug = layer_slugs[name]
        ldir = report / "layers" / slug
        ldir.mkdir(parents=True, exist_ok=True)
        matrix = np.round(rng.uniform(0.0, 0.1, size=(n_units, len(concepts))), 4)
        iqr = np.round(matrix * 0.5, 4)
        for unit in range(n_units):  # a clear winner per unit
            matrix[unit, (unit + li) % len(concepts)] = round(0.1 + 0.02 * unit, 4)
        units: dict[str, list[Any]] = {k: [] for k in ("unit", "threshold", "concept", "iou")}
        units |= {k: [] for k in ("iqr", "interpretable", "top_samples", "top_activations")}
        units |= {"top_concepts": [], "top_ious": []}
        for unit in range(n_units):
            order = np.argsort(-matrix[unit], kind="stable")
            best = int(order[0])
            top = [int(s) for s in rng.choice(samples, size=top_k, replace=False)]
            acts = sorted((round(float(a), 4) for a in rng.uniform(1, 5, size=top_k)), reverse=True)
            units["unit"].append(unit)
            units["threshold"].append(round(float(rng.uniform(0.5, 2.0)), 4))
            units["concept"].append(concepts[best])
            units["iou"].append(float(matrix[unit, best]))
            units["iqr"].append(float(iqr[unit, best]))
            units["interpretable"].append(bool(matrix[unit, best] >= iou_floor))
            units["top_samples"].append(top)
            units["top_activations"].append(acts)
            units["top_concepts"].append([concepts[int(c)] for c in order[:5]])
            units["top_ious"].append([float(matrix[unit, int(c)]) for c in order[:5]])
            if images:
                unit_images(report, slug, unit, top)
        _write_units(ldir / "units.parquet", units)
        _write_iou(
            ldir / "iou.parquet",
            {
                "unit": [u for u in range(n_units) for _ in concepts],
                "concept": [c for _ in range(n_units) for c in concepts],
                "iou": [float(x) for x in matrix.ravel()],
                "iqr": [float(x) for x in iqr.ravel()],
            },
        )
        counts = rng.integers(0, 50, size=(n_units, bins, len(concepts)), dtype=np.int64)
        np.savez(
            ldir / "stats.npz",
            edges=np.tile(np.linspace(0.0, 4.0, bins + 1), (n_units, 1)),
            counts=counts,
            unit_hist=counts.sum(axis=2),
            concept_totals=counts.sum(axis=(0, 1)),
            topk_values=np.asarray(units["top_activations"], dtype=np.float64),
            topk_ids=np.asarray(units["top_samples"], dtype=np.int64),
            nonfinite=np.int64(0),
            samples=np.int64(samples),
        )
        (ldir / "concepts.svg").write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>\n',
            encoding="utf-8",
        )
        manifest_layers.append(
            {
                "name": name,
                "slug": slug,
                "shape": [n_units, 4 * 2**li, 4 * 2**li],
                "units": n_units,
                "interpretable": int(sum(units["interpretable"])),
                "concepts_covered": len(
                    {c for c, i in zip(units["concept"], units["interpretable"], strict=True) if i}
                ),
            }
        )
    manifest = {
        "schema_version": 1,
        "tool": {"name": "dissect-report", "version": "0.1.0"},
        "created": "2026-01-01T00:00:00+00:00",
        "command": f"dissect-report run --out {report.name}",
        "config": {"seed": seed, "samples": samples, "layers": list(layers), "out": str(report)},
        "model": {
            "name": "synthetic",
            "factory": "tests:make_generator",
            "weights": None,
            "weights_sha256": "0" * 64,
            "z_dim": 8,
        },
        "segmenter": {"name": "synthetic", "weights_sha256": "1" * 64},
        "concepts": [
            {"name": c, "slug": concept_slugs[c], "color": f"#{(37 * i) % 256:02x}8040"}
            for i, c in enumerate(concepts)
        ],
        "layers": manifest_layers,
        "samples": {"count": samples, "seed": seed, "top_k": top_k},
        "threshold": {"policy": "quantile", "level": 0.99, "iou_floor": iou_floor},
        "nonfinite": {name: 0 for name in layers},
        "timings": {"dissect_s": 1.0, "visualize_s": 0.5},
        "sections": {"interventions": False, "artifacts": False},
    }
    (report / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return report


def _read(path: Path) -> dict[str, list[Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pydict()


def edit_units(report: str | Path, layer: str, unit: int, **values: Any) -> None:
    """Overwrite columns of one row of ``layers/<layer>/units.parquet`` (and units.csv)."""
    path = Path(report) / "layers" / layer / "units.parquet"
    table = _read(path)
    row = table["unit"].index(unit)
    for column, value in values.items():
        table[column][row] = value
    _write_units(path, table)


def edit_iou(report: str | Path, layer: str, unit: int, concept: str, **values: Any) -> None:
    """Overwrite ``iou``/``iqr`` of one (unit, concept) row of ``iou.parquet``."""
    path = Path(report) / "layers" / layer / "iou.parquet"
    table = _read(path)
    row = next(
        i
        for i, (u, c) in enumerate(zip(table["unit"], table["concept"], strict=True))
        if u == unit and c == concept
    )
    for column, value in values.items():
        table[column][row] = value
    _write_iou(path, table)


def drop_units(report: str | Path, layer: str, units: set[int]) -> None:
    """Remove units from both tables of a layer (their images stay)."""
    for name, writer in (("units.parquet", _write_units), ("iou.parquet", _write_iou)):
        path = Path(report) / "layers" / layer / name
        table = _read(path)
        keep = [i for i, u in enumerate(table["unit"]) if u not in units]
        writer(path, {k: [v[i] for i in keep] for k, v in table.items()})


def edit_manifest(report: str | Path, **dotted: Any) -> None:
    """Set manifest values by dotted key: ``edit_manifest(r, **{"samples.seed": 2})``."""
    path = Path(report) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for key, value in dotted.items():
        *parents, last = key.split(".")
        node = manifest
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

"""Reading a report directory and writing into it atomically (temp file + rename).

Usage::

    from dissect_report.interventions import reportio
    manifest = reportio.read_manifest(report)
    reportio.write_parquet(report / "concepts" / "index.parquet", table)
    reportio.update_manifest(report, {"sections": {"interventions": True}})
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dissect_report.atomic import write_bytes
from dissect_report.errors import ConfigError, ReportError
from dissect_report.slug import slugify
from dissect_report.tables import read_parquet

if TYPE_CHECKING:
    from dissect_report.stats import LayerState


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; readers treat null as "not measured"
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    write_bytes(path, (json.dumps(_jsonable(data), indent=2, allow_nan=False) + "\n").encode())


def write_parquet(path: Path, table: pa.Table, csv: bool = False) -> None:
    """Atomic Parquet (and, with ``csv``, a sibling .csv with list columns joined by ';')."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_bytes(path, sink.getvalue().to_pybytes())
    if csv:
        flat = table
        for i, f in enumerate(table.schema):
            if pa.types.is_list(f.type):
                joined = pc.binary_join(pc.cast(table.column(i), pa.list_(pa.string())), ";")
                flat = flat.set_column(i, f.name, joined)
        out = pa.BufferOutputStream()
        pacsv.write_csv(flat, out)
        write_bytes(path.with_suffix(".csv"), out.getvalue().to_pybytes())


def read_manifest(report: Path) -> dict[str, Any]:
    path = Path(report) / "manifest.json"
    if not path.is_file():
        raise ReportError(f"no manifest.json in {str(report)!r}: not a (complete) report")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ReportError(f"{str(path)!r} is not a JSON object")
    return data


def update_manifest(report: Path, changes: dict[str, Any]) -> dict[str, Any]:
    """Merge ``changes`` into the manifest (one level deep for dicts) and rewrite it atomically."""
    manifest = read_manifest(report)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(manifest.get(key), dict):
            manifest[key] = {**manifest[key], **value}
        else:
            manifest[key] = value
    write_json(Path(report) / "manifest.json", manifest)
    return manifest


def layer_names(manifest: dict[str, Any]) -> list[str]:
    return [str(layer["name"]) for layer in manifest.get("layers", [])]


def checked_layer(manifest: dict[str, Any], requested: str | None) -> tuple[list[str], str | None]:
    """The dissected layer names, and ``requested`` once checked against them (or None)."""
    names = layer_names(manifest)
    if not names:
        raise ReportError("the report lists no dissected layers")
    if requested is not None and requested not in names:
        raise ConfigError(
            f"layer {requested!r} was not dissected in this report; layers: {', '.join(names)}"
        )
    return names, requested


def dissection_seed(manifest: dict[str, Any]) -> int:
    """The seed of the dissection's samples; later stages derive their held-out seeds from it."""
    return int(manifest.get("samples", {}).get("seed", manifest.get("config", {}).get("seed", 0)))


def layer_slug(manifest: dict[str, Any], layer: str) -> str:
    for entry in manifest.get("layers", []):
        if entry.get("name") == layer:
            return str(entry.get("slug") or slugify(layer))
    raise ReportError(
        f"layer {layer!r} is not in the report; layers: {', '.join(layer_names(manifest))}"
    )


def read_table(path: Path) -> pa.Table:
    return read_parquet(path)


def read_units(report: Path, manifest: dict[str, Any], layer: str) -> list[dict[str, Any]]:
    """The layer's units.parquet as a list of row dicts, sorted by unit."""
    table = read_table(Path(report) / "layers" / layer_slug(manifest, layer) / "units.parquet")
    missing = {"unit", "concept", "iou", "interpretable"} - set(table.column_names)
    if missing:
        raise ReportError(f"units.parquet of layer {layer!r} lacks columns {sorted(missing)}")
    return sorted(table.to_pylist(), key=lambda r: int(r["unit"]))


def read_iou(report: Path, manifest: dict[str, Any], layer: str) -> pa.Table | None:
    path = Path(report) / "layers" / layer_slug(manifest, layer) / "iou.parquet"
    return read_table(path) if path.is_file() else None


def read_state(report: Path, manifest: dict[str, Any], layer: str) -> LayerState | None:
    """The layer's stats.npz (the dissection's raw counts), or None when the report has none."""
    from dissect_report.stats import LayerState  # numpy + torch: only when a stage needs it

    path = Path(report) / "layers" / layer_slug(manifest, layer) / "stats.npz"
    return LayerState.load(path) if path.is_file() else None

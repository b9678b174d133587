"""Compare a report directory with a golden report directory.

Usage::

    from dissect_report.compare import Tolerances, compare_reports
    comparison = compare_reports("tests/golden/builtin", "report", Tolerances(iou_atol=0.05))
    print(comparison.summary())
    raise SystemExit(0 if comparison.passed else 1)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from dissect_report.compare.images import IMAGE_SUFFIXES, classify, image_difference
from dissect_report.compare.model import (
    Comparison,
    ImageChange,
    LayerComparison,
    TableComparison,
    Tolerances,
)
from dissect_report.compare.settings import diff_settings
from dissect_report.compare.tables import (
    compare_generic,
    compare_iou,
    compare_json,
    compare_units,
    iou_lookup,
)
from dissect_report.errors import ReportError
from dissect_report.golden import REVIEW_FILES
from dissect_report.reportdir.read import list_files, read_json, read_manifest_dict, read_table
from dissect_report.reportdir.schema import IOU_REQUIRED, UNITS_REQUIRED

log = logging.getLogger(__name__)


def _columns(path: Path, required: tuple[str, ...] = ()) -> dict[str, list[Any]]:
    return read_table(path, required).to_pydict()


def _by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(entry["name"]): entry for entry in entries}


def _shape(entry: dict[str, Any]) -> tuple[int, ...] | None:
    shape = entry.get("shape")
    return tuple(int(x) for x in shape) if isinstance(shape, list) else None


def _compare_layer(
    golden: Path,
    new: Path,
    g_entry: dict[str, Any],
    n_entry: dict[str, Any],
    tol: Tolerances,
    concepts: set[str],
    floors: tuple[float | None, float | None],
) -> LayerComparison:
    g_dir = golden / "layers" / g_entry["slug"]
    n_dir = new / "layers" / n_entry["slug"]
    g_units = _columns(g_dir / "units.parquet", UNITS_REQUIRED)
    n_units = _columns(n_dir / "units.parquet", UNITS_REQUIRED)
    g_iou = _columns(g_dir / "iou.parquet", IOU_REQUIRED)
    n_iou = _columns(n_dir / "iou.parquet", IOU_REQUIRED)
    units = compare_units(
        g_units,
        n_units,
        tol,
        g_dir / "units.parquet",
        n_dir / "units.parquet",
        iou_lookup(g_iou),
        iou_lookup(n_iou),
        floors,
    )
    common_units = set(g_units["unit"]) & set(n_units["unit"])
    matrix = compare_iou(
        g_iou, n_iou, tol, g_dir / "iou.parquet", n_dir / "iou.parquet", common_units, concepts
    )
    return LayerComparison(
        name=g_entry["name"],
        slug=g_entry["slug"],
        status="compared",
        golden_shape=_shape(g_entry),
        new_shape=_shape(n_entry),
        units=units.units,
        golden_interpretable=units.golden_interpretable,
        new_interpretable=units.new_interpretable,
        units_missing=units.units_missing,
        units_added=units.units_added,
        label_changes=units.label_changes,
        value_changes=units.value_changes,
        iou_matrix=matrix,
        notes=units.notes,
    )


def _iou_floor(manifest: dict[str, Any]) -> float | None:
    """The manifest's IoU floor of the interpretable flag (``threshold`` or ``config``)."""
    for section in ("threshold", "config"):
        value = (manifest.get(section) or {}).get("iou_floor")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _compare_images(
    golden: Path, new: Path, paths: list[str], tol: Tolerances
) -> list[tuple[str | None, ImageChange]]:
    from dissect_report.progress import bar

    changes = []
    for rel in bar(paths, desc="compare images", unit="img", leave=False, delay=2.0):
        reason, score = image_difference(golden / rel, new / rel, tol.image_tol)
        if reason is not None:
            layer, unit, kind = classify(rel)
            changes.append((layer, ImageChange(rel, reason, unit, kind, score)))
    return changes


def compare_reports(
    golden: str | os.PathLike[str],
    new: str | os.PathLike[str],
    tolerances: Tolerances | None = None,
) -> Comparison:
    """Compare report ``new`` with report ``golden`` within ``tolerances``.

    Raises :class:`~dissect_report.errors.ReportError` when either is not a usable report
    (no or corrupt manifest, a listed layer without its tables, schema versions that
    cannot be compared). Differences are never errors: they are in the result.
    """
    golden, new = Path(golden), Path(new)
    tol = tolerances or Tolerances()
    g_manifest = read_manifest_dict(golden, "golden")
    n_manifest = read_manifest_dict(new, "new")
    if g_manifest["schema_version"] != n_manifest["schema_version"]:
        raise ReportError(
            f"cannot compare schema_version {g_manifest['schema_version']} (golden "
            f"{str(golden)!r}) with schema_version {n_manifest['schema_version']} "
            f"(new {str(new)!r}); regenerate the golden report"
        )
    g_concepts = _by_name(g_manifest["concepts"])
    n_concepts = _by_name(n_manifest["concepts"])
    g_layers = _by_name(g_manifest["layers"])
    n_layers = _by_name(n_manifest["layers"])

    floors = (_iou_floor(g_manifest), _iou_floor(n_manifest))
    layers = _compare_layers(
        (golden, new), (g_layers, n_layers), tol, set(g_concepts) & set(n_concepts), floors
    )

    # a golden's review files (FINDINGS.md, UPDATE.md) are text for people, not findings
    g_files, n_files = list_files(golden) - REVIEW_FILES, list_files(new) - REVIEW_FILES
    common = sorted(g_files & n_files)
    images = [rel for rel in common if rel.lower().endswith(IMAGE_SUFFIXES)]
    by_slug = {layer.slug: name for name, layer in layers.items() if layer.status == "compared"}
    other_images: list[ImageChange] = []
    layer_images: dict[str, list[ImageChange]] = {}
    for slug, change in _compare_images(golden, new, images, tol):
        if slug in by_slug:
            layer_images.setdefault(by_slug[slug], []).append(change)
        else:
            other_images.append(change)
    for name, changes in layer_images.items():
        layers[name] = _with_images(layers[name], changes)

    compared_tables = {
        f"layers/{layer.slug}/{table}.parquet"
        for layer in layers.values()
        if layer.status == "compared"
        for table in ("units", "iou")
    }
    tables = _compare_tables(golden, new, [r for r in common if r not in compared_tables], tol)

    comparison = Comparison(
        golden=golden,
        new=new,
        tolerances=tol,
        schema_version=g_manifest["schema_version"],
        settings=diff_settings(g_manifest, n_manifest),
        concepts_missing=tuple(sorted(set(g_concepts) - set(n_concepts))),
        concepts_added=tuple(sorted(set(n_concepts) - set(g_concepts))),
        layers=tuple(layers.values()),
        files_missing=tuple(sorted(g_files - n_files)),
        files_added=tuple(sorted(n_files - g_files)),
        tables=tuple(t for t in tables if t.failures or t.notes),
        images=tuple(other_images),
    )
    log.debug("compared %s with %s: %d failures", new, golden, comparison.failures)
    return comparison


def _compare_layers(
    roots: tuple[Path, Path],
    entries: tuple[dict[str, Any], dict[str, Any]],
    tol: Tolerances,
    concepts: set[str],
    floors: tuple[float | None, float | None],
) -> dict[str, LayerComparison]:
    """Every layer of either report: compared, missing in new, or only in new."""
    (golden, new), (g_layers, n_layers) = roots, entries
    layers: dict[str, LayerComparison] = {}
    for name, entry in g_layers.items():
        if name not in n_layers:
            layers[name] = LayerComparison(name, entry["slug"], "missing", _shape(entry))
        else:
            layers[name] = _compare_layer(golden, new, entry, n_layers[name], tol, concepts, floors)
    for name, entry in n_layers.items():
        if name not in g_layers:
            layers[name] = LayerComparison(name, entry["slug"], "added", None, _shape(entry))
    return layers


def _compare_tables(
    golden: Path, new: Path, files: list[str], tol: Tolerances
) -> list[TableComparison]:
    """The other tables (``.parquet``) and JSON documents both reports hold."""
    tables: list[TableComparison] = []
    for rel in files:
        if rel.endswith(".parquet"):
            tables.append(compare_generic(_columns(golden / rel), _columns(new / rel), tol, rel))
        elif rel.endswith(".json") and rel != "manifest.json":
            tables.append(compare_json(read_json(golden / rel), read_json(new / rel), tol, rel))
    return tables


def _with_images(layer: LayerComparison, changes: list[ImageChange]) -> LayerComparison:
    from dataclasses import replace

    return replace(layer, image_changes=tuple(sorted(changes, key=_image_order)))


def _image_order(change: ImageChange) -> tuple[int, str, str]:
    return (-1 if change.unit is None else change.unit, change.kind, change.path)

"""The one writer of a report directory (docs/report-format.md): atomic files, manifest last.

Usage::

    from dissect_report.reportdir.write import prepare_output, write_layer, write_manifest
    created = prepare_output(out, overwrite=False, resume=False)  # checks, nothing written yet
    write_layer(out / "layers" / "layer4", layer_result, concepts, colors)
    write_manifest(out, manifest)                                   # always last

Every file goes to a temporary name in its directory and is renamed into place, so a
killed run never leaves a truncated file, and a directory without ``manifest.json`` is an
incomplete report.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from dissect_report.charts import vertical_bar_chart
from dissect_report.dissection.caveats import NON_FINITE, unit_flags
from dissect_report.dissection.labels import next_passing, refusals
from dissect_report.dissection.position import POSITION_LIFT
from dissect_report.errors import ReportError
from dissect_report.reportdir.atomic import write_json, write_npz, write_parquet, write_text
from dissect_report.reportdir.read import read_manifest_dict
from dissect_report.reportdir.schema import (
    IOU,
    MANIFEST,
    PARTIAL,
    POSITION_FILE,
    SHARD_MANIFEST,
    UNITS,
    Column,
    IouRow,
    Manifest,
    UnitRow,
    arrow_schema,
    to_table,
)

if TYPE_CHECKING:
    from dissect_report.dissection.results import LayerResult
    from dissect_report.dissection.stats import LayerState

_OWNED = ("layers", "concepts", "artifacts", "site", PARTIAL, SHARD_MANIFEST)


def _writable_ancestor(path: Path) -> None:
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ReportError(f"cannot write report {str(path)!r}: {str(probe)!r} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ReportError(f"cannot write report {str(path)!r}: {str(probe)!r} is not writable")


def prepare_output(out: Path, *, overwrite: bool, resume: bool, marker: str = MANIFEST) -> None:
    """Check that ``out`` may be written; with ``overwrite``, clear a previous report.

    An existing non-empty directory needs ``overwrite`` or ``resume``; ``overwrite`` refuses
    a directory that does not look like a report, so a typo cannot wipe unrelated files.
    """
    if overwrite and resume:
        raise ReportError("use --overwrite or --resume, not both")
    if out.exists() and not out.is_dir():
        raise ReportError(f"output {str(out)!r} exists and is not a directory")
    _writable_ancestor(out)
    if not out.exists() or not any(out.iterdir()):
        return
    if resume:
        if (out / marker).exists():
            raise ReportError(
                f"report {str(out)!r} is already complete; use --overwrite to redo it"
            )
        check_resumable(out)
        return
    if not overwrite:
        raise ReportError(f"output directory {str(out)!r} exists; use --overwrite or --resume")
    names = {p.name for p in out.iterdir()}
    if not names & {MANIFEST, *_OWNED}:
        raise ReportError(f"refusing to overwrite {str(out)!r}: it does not look like a report")
    (out / MANIFEST).unlink(missing_ok=True)  # first, so the old report never looks complete
    for name in _OWNED:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)


def check_resumable(out: Path) -> None:
    """Refuse ``--resume`` into a non-empty directory that no run of ours wrote."""
    names = {p.name for p in out.iterdir()} if out.is_dir() else set()
    if names and not names & {MANIFEST, SHARD_MANIFEST, *_OWNED}:
        raise ReportError(
            f"refusing to --resume into {str(out)!r}: it is not an interrupted report "
            f"(no {PARTIAL}/ checkpoint, no layers/); choose a new --out"
        )


def make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe."):
            pass
    except OSError as exc:
        raise ReportError(f"cannot write report {str(out)!r}: {exc.strerror or exc}") from None


def unit_rows(layer: LayerResult, concepts: list[str]) -> list[UnitRow]:
    """One row per unit, in unit order (the columns of docs/report-format.md)."""
    scores, state = layer.scores, layer.state
    best = scores.best
    order = np.argsort(-scores.iou, axis=1, kind="stable")[:, :5]
    topk = state.topk()
    # A unit with no finite activation has no region: no concept, threshold or IoU at all
    # (the arithmetic would name concept 0 at IoU 0); its page says why.
    none = np.zeros(state.units, bool)
    none[unit_flags(state)[NON_FINITE]] = True
    nan = np.where(none, np.nan, 0.0)
    # The better-scoring concept a label guard refused (its label is then the next concept
    # that passes every guard, or none): dissection.labels.
    refused, reason = refusals(layer)
    after = np.where(layer.interpretable_mask, -1, next_passing(layer))
    threshold = scores.threshold + nan
    iou = scores.iou[np.arange(state.units), best] + nan
    iqr = scores.iqr[np.arange(state.units), best] + nan
    return [
        UnitRow(
            unit=u,
            threshold=float(threshold[u]),
            concept="" if none[u] else concepts[best[u]],
            iou=float(iou[u]),
            iqr=float(iqr[u]),
            interpretable=bool(layer.interpretable_mask[u]),
            top_samples=tuple(int(i) for i, _ in topk[u]),
            top_activations=tuple(float(v) for _, v in topk[u]),
            top_concepts=() if none[u] else tuple(concepts[c] for c in order[u]),
            top_ious=() if none[u] else tuple(float(v) for v in scores.iou[u, order[u]]),
            refused_concept=concepts[refused[u]] if refused[u] >= 0 else "",
            refused_iou=float(scores.iou[u, refused[u]]) if refused[u] >= 0 else math.nan,
            refused_reason=str(reason[u]),
            next_concept=concepts[after[u]] if after[u] >= 0 else "",
            next_iou=float(scores.iou[u, after[u]]) if after[u] >= 0 else math.nan,
        )
        for u in range(state.units)
    ]


def iou_rows(layer: LayerResult, concepts: list[str]) -> list[IouRow]:
    """Every unit x concept, long format (unit-major, concepts in the manifest's order)."""
    iou, iqr, at = layer.scores.iou.tolist(), layer.scores.iqr.tolist(), layer.scores.at
    return [
        IouRow(unit=u, concept=name, iou=iou[u][c], iqr=iqr[u][c], threshold=at(u, c))
        for u in range(len(iou))
        for c, name in enumerate(concepts)
    ]


def write_table(
    path: Path, table: pa.Table, columns: tuple[Column, ...], *, csv: bool = False
) -> None:
    """Write a documented table (``columns``: one of :mod:`~dissect_report.reportdir.schema`'s).

    Usage: ``write_table(out / "concepts" / "index.parquet", table, CONCEPT_INDEX, csv=True)``.
    A table whose column names or types differ from the model is a bug in its writer, caught
    here before it reaches a report (``ValueError`` naming the differences).
    """
    want = arrow_schema(columns)
    if not table.schema.equals(want):
        got = [f"{f.name}: {f.type}" for f in table.schema]
        raise ValueError(
            f"{path.name} does not follow reportdir.schema: columns {got}, "
            f"expected {[f'{f.name}: {f.type}' for f in want]}"
        )
    write_parquet(path, table, csv=csv)


def write_stats(path: Path, state: LayerState) -> None:
    write_npz(path, state.arrays())


def write_layer(
    layer_dir: Path, layer: LayerResult, concepts: list[str], colors: list[str]
) -> None:
    """units.parquet, units.csv, iou.parquet, stats.npz and concepts.svg of one layer."""
    units = to_table(unit_rows(layer, concepts), UnitRow)
    write_table(layer_dir / "units.parquet", units, UNITS, csv=True)
    write_table(layer_dir / "iou.parquet", to_table(iou_rows(layer, concepts), IouRow), IOU)
    write_stats(layer_dir / "stats.npz", layer.state)
    if layer.position is not None:  # where each unit fires, and what that alone explains
        write_npz(
            layer_dir / POSITION_FILE,
            {
                "mean_mask": np.rint(255 * layer.position.mean_mask).astype(np.uint8),
                "baseline_iou": layer.position.baseline_iou,
                "samples": np.array(layer.position.samples, dtype=np.int64),
                "lift": np.array(POSITION_LIFT, dtype=np.float64),
            },
        )
    per_concept = layer.units_per_concept()
    bars = [
        (concepts[c], colors[c], n)
        for c, n in sorted(enumerate(per_concept), key=lambda cn: (-cn[1], cn[0]))
        if n > 0
    ]
    title = f"{layer.name}: interpretable units per concept"
    write_text(layer_dir / "concepts.svg", vertical_bar_chart(bars, title=title))


def write_manifest(out: Path, manifest: dict[str, Any], name: str = MANIFEST) -> None:
    """Write the manifest (the last file of a report) and drop any leftover checkpoint.

    A report's manifest is validated against :class:`~dissect_report.reportdir.schema.Manifest`
    first, so no writer can produce one that the reader refuses.
    """
    if name == MANIFEST:
        Manifest.model_validate(manifest)
    write_json(out / name, manifest)
    shutil.rmtree(out / PARTIAL, ignore_errors=True)


def update_manifest(report: Path, changes: dict[str, Any]) -> dict[str, Any]:
    """Merge ``changes`` into the manifest (one level deep for dicts) and rewrite it atomically.

    Usage: ``update_manifest(report, {"sections": {"interventions": True}})``; a later
    stage marks its section false first, writes its files, then marks it true.
    """
    manifest = read_manifest_dict(report)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(manifest.get(key), dict):
            manifest[key] = {**manifest[key], **value}
        else:
            manifest[key] = value
    write_json(Path(report) / MANIFEST, manifest)
    return manifest

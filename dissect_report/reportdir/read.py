"""The one reader of report files: manifest, tables, JSON, arrays, the file list.

Usage::

    from dissect_report.reportdir.read import read_manifest, read_table
    manifest = read_manifest(Path("report"))                  # typed, migrated, validated
    units = read_table(Path("report/layers/layer3/units.parquet"), ("unit", "iou"))

Every stage, the site, the comparison and the pytest plugin read through these functions
(users through :func:`dissect_report.open_report`). Anything that makes a report unusable (no
manifest, corrupt JSON, an unknown schema, unsafe slugs, a table without its columns) raises
:class:`~dissect_report.errors.ReportError` naming the file, which the CLI turns into exit
code 2.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from dissect_report.errors import ReportError
from dissect_report.reportdir.schema import MANIFEST, Manifest, R, from_table, migrate, required
from dissect_report.slug import slugify

if TYPE_CHECKING:
    from dissect_report.dissection.stats import LayerState

# Directories that are derived from a report, never part of what is compared or listed.
DERIVED_DIRS = ("site", "compare")


def read_json(path: Path) -> Any:
    """A JSON file of a report; a missing or unreadable file is a ReportError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"cannot read {str(path)!r}: {exc}") from None


def read_json_object(path: Path) -> dict[str, Any]:
    """:func:`read_json` that must be a JSON object (a shard.json, a repair.json)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ReportError(f"{str(path)!r} is not a JSON object")
    return data


def _safe_slug(slug: Any, what: str, where: Path) -> None:
    if not isinstance(slug, str) or slug != slugify(slug) or slug in {".", ".."}:
        raise ReportError(f"corrupt manifest {str(where)!r}: unsafe {what} slug {slug!r}")


def read_manifest_dict(root: Path, role: str = "") -> dict[str, Any]:
    """``root/manifest.json`` as a dict: migrated to the current schema and validated.

    For code that edits or diffs the raw JSON (it keeps every key as written); others use
    :func:`read_manifest`. ``role`` ("golden"/"new") names the report in errors.
    """
    who = f"{role} " if role else ""
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"{who}report directory not found: {str(root)!r}")
    path = root / MANIFEST
    if not path.is_file():
        raise ReportError(
            f"{who}report {str(root)!r} has no manifest.json (incomplete or not a report)"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"corrupt manifest {str(path)!r}: {exc}") from None
    if not isinstance(raw, dict):
        raise ReportError(f"corrupt manifest {str(path)!r}: expected a JSON object")
    raw = migrate(raw, str(path), who)
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ReportError(f"corrupt manifest {str(path)!r}: {where}: {first['msg']}") from None
    for layer in manifest.layers:
        _safe_slug(layer.slug, "layer", path)
    for concept in manifest.concepts:
        _safe_slug(concept.slug, "concept", path)
    return raw


def read_manifest(root: Path, role: str = "") -> Manifest:
    """``root/manifest.json``, typed (see :class:`~dissect_report.reportdir.schema.Manifest`)."""
    return Manifest.model_validate(read_manifest_dict(root, role))


def layer_dir(root: Path, manifest: Manifest, layer: str) -> Path:
    """``root/layers/<slug>`` of layer ``layer`` (a ReportError lists the layers if unknown)."""
    return Path(root) / "layers" / manifest.layer(layer).slug


def read_table(path: Path, required: tuple[str, ...] = ()) -> pa.Table:
    """The Parquet table at ``path``; a missing or corrupt file or column is a ReportError."""
    if not path.is_file():
        raise ReportError(f"missing table {str(path)!r}")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise ReportError(f"cannot read table {str(path)!r}: {exc}") from None
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise ReportError(f"table {str(path)!r} lacks column(s) {', '.join(missing)}")
    return table


def read_rows(path: Path, row_type: type[R]) -> list[R]:
    """The rows of the table at ``path`` as its one type (a row type of
    :mod:`~dissect_report.reportdir.schema`); a missing required column is a ReportError.

    Usage: ``read_rows(report / "concepts" / "index.parquet", ConceptIndexRow)``.
    """
    return from_table(read_table(path, required(row_type)), row_type)


def read_arrays(path: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` file (all, or ``keys``); no pickles; unreadable is a ReportError."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: np.asarray(npz[k]) for k in (npz.files if keys is None else keys)}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        # a truncated or foreign file: np.load raises any of these
        raise ReportError(
            f"cannot read statistics {str(path)!r}: truncated or corrupt ({exc})"
        ) from None


def read_state(path: Path) -> LayerState:
    """A layer's ``stats.npz`` (the dissection's raw mergeable counts)."""
    from dissect_report.dissection.stats import (
        LayerState,  # torch: only when a stage needs the counts
    )

    return LayerState.from_arrays(read_arrays(path), str(path))


def list_files(report: Path) -> set[str]:
    """Every file of the report as a POSIX path relative to it, minus derived directories."""
    files: set[str] = set()
    for root, dirs, names in os.walk(report):
        rel_root = Path(root).relative_to(report)
        # Prune derived and hidden directories (a rendered site can hold thousands of files).
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and not (rel_root == Path(".") and d in DERIVED_DIRS)
        )
        for name in names:
            if not name.startswith("."):  # temp files of atomic writes
                files.add((rel_root / name).as_posix())
    return files

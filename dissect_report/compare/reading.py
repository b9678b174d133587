"""Read the parts of a report directory that the comparison needs, validating as it goes.

Usage::

    from dissect_report.compare.reading import load_manifest, read_table
    manifest = load_manifest(Path("report"))
    units = read_table(Path("report/layers/layer3/units.parquet"), UNITS_COLUMNS)

Anything that makes a report unusable (no manifest, corrupt JSON, an unknown schema, a
layer without its tables) raises :class:`~dissect_report.errors.ReportError`, which the CLI
turns into exit code 2.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dissect_report.errors import ReportError

# Schema versions this comparison understands; two reports compare only at the same version.
SUPPORTED_SCHEMAS = frozenset({1})

UNITS_COLUMNS = ("unit", "threshold", "concept", "iou", "iqr", "interpretable")
IOU_COLUMNS = ("unit", "concept", "iou", "iqr")

# Directories that are derived from a report, never part of what is compared.
DERIVED_DIRS = ("site", "compare")


def load_manifest(report: Path, role: str) -> dict[str, Any]:
    """The parsed ``manifest.json`` of ``report``; ``role`` ("golden"/"new") names it in errors."""
    if not report.is_dir():
        raise ReportError(f"{role} report {str(report)!r} is not a directory")
    path = report / "manifest.json"
    if not path.is_file():
        raise ReportError(
            f"{role} report {str(report)!r} has no manifest.json (incomplete or not a report)"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"corrupt manifest {str(path)!r}: {exc}") from None
    if not isinstance(manifest, dict):
        raise ReportError(f"corrupt manifest {str(path)!r}: expected a JSON object")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ReportError(f"manifest {str(path)!r} has no integer schema_version: {version!r}")
    if version not in SUPPORTED_SCHEMAS:
        known = ", ".join(map(str, sorted(SUPPORTED_SCHEMAS)))
        raise ReportError(
            f"{role} report {str(report)!r} has schema_version {version}; "
            f"this dissect-report compares schema_version {known}"
        )
    for key in ("layers", "concepts"):
        if not isinstance(manifest.get(key), list):
            raise ReportError(f"corrupt manifest {str(path)!r}: {key!r} must be a list")
    return manifest


def manifest_layers(manifest: dict[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    """The manifest's layers by name, each with at least ``name`` and ``slug``."""
    layers: dict[str, dict[str, Any]] = {}
    for entry in manifest["layers"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ReportError(f"corrupt manifest {str(path)!r}: bad layer entry {entry!r}")
        slug = entry.get("slug", entry["name"])
        if not isinstance(slug, str) or not slug or "/" in slug or slug in (".", ".."):
            raise ReportError(f"corrupt manifest {str(path)!r}: unsafe layer slug {slug!r}")
        layers[entry["name"]] = {**entry, "slug": slug}
    return layers


def manifest_concepts(manifest: dict[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    """The manifest's concepts by name."""
    concepts: dict[str, dict[str, Any]] = {}
    for entry in manifest["concepts"]:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ReportError(f"corrupt manifest {str(path)!r}: bad concept entry {entry!r}")
        concepts[entry["name"]] = entry
    return concepts


def read_table(path: Path, required: tuple[str, ...] = ()) -> dict[str, list[Any]]:
    """A Parquet table as ``{column: values}``; a missing file or column is a ReportError."""
    from dissect_report.tables import read_parquet

    return read_parquet(path, required).to_pydict()


def read_json(path: Path) -> Any:
    """A JSON file of a report (not the manifest); unreadable JSON is a ReportError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"cannot read {str(path)!r}: {exc}") from None


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

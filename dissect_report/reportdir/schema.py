"""The report format as code: typed models of ``manifest.json`` and the columns of every table.

Usage::

    from dissect_report.reportdir.schema import UNITS, Manifest, migrate
    manifest = Manifest.model_validate(migrate(raw, "report/manifest.json"))
    manifest.layers[0].slug, manifest.concepts[0].color      # 'layer3', '#7ec0ee'
    [c.name for c in UNITS]                                  # the columns of units.parquet

``docs/report-format.md`` documents these same models; ``tests/unit/test_report_format.py``
fails when the two drift. Bump :data:`SCHEMA_VERSION` when a change would mislead an older
reader, and add a step to :data:`MIGRATIONS` so older reports still open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, field_validator

from dissect_report.errors import ReportError
from dissect_report.slug import slugify

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
SHARD_MANIFEST = "shard.json"
PARTIAL = ".partial"  # checkpoints of an unfinished pass
DEFAULT_COLOR = "#9e9e9e"

# Upgrades of older manifests, version n -> n + 1, applied in turn by :func:`migrate`.
# Version 1 is the first published schema, so there is no step yet.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ConceptEntry(_Loose):
    """One concept of the segmenter: display name, path slug, chart color (``#rrggbb``)."""

    name: str
    slug: str
    color: str = DEFAULT_COLOR


class LayerEntry(_Loose):
    """One dissected layer; ``shape`` is ``[units, height, width]`` of one sample's output."""

    name: str
    slug: str
    shape: list[int]
    units: int
    interpretable: int = 0
    concepts_covered: int = 0


class Manifest(_Loose):
    """``manifest.json``; fields written by later stages or newer tools are kept as extras."""

    schema_version: int
    tool: dict[str, Any] = {}
    created: str | None = None
    command: str | None = None
    config: dict[str, Any] = {}
    model: dict[str, Any] = {}
    segmenter: dict[str, Any] = {}
    concepts: list[ConceptEntry]
    layers: list[LayerEntry]
    samples: dict[str, Any] = {}
    threshold: dict[str, Any] = {}
    nonfinite: dict[str, Any] = {}
    timings: dict[str, Any] = {}
    sections: dict[str, bool] = {}
    interventions: dict[str, Any] = {}
    artifacts: dict[str, Any] = {}

    @field_validator(
        "tool",
        "config",
        "model",
        "segmenter",
        "samples",
        "threshold",
        "nonfinite",
        "timings",
        "sections",
        "interventions",
        "artifacts",
        mode="before",
    )
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    def layer(self, name: str) -> LayerEntry:
        """The entry of layer ``name``; an unknown name is a ReportError listing the layers."""
        for entry in self.layers:
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.layers)
        raise ReportError(f"layer {name!r} is not in the report; layers: {known}")

    def concept(self, name: str) -> ConceptEntry:
        """The entry of concept ``name``; an unknown name is a ReportError listing them."""
        for entry in self.concepts:
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.concepts)
        raise ReportError(f"concept {name!r} is not in the report; concepts: {known}")


def migrate(raw: dict[str, Any], where: str, role: str = "") -> dict[str, Any]:
    """``raw`` manifest JSON upgraded to :data:`SCHEMA_VERSION`, with legacy forms filled in.

    Legacy forms: a concept given as a bare name (slug and color derived), a layer without
    a slug (slugged from its name) or without ``units`` (the first entry of its shape). ``where`` and ``role`` ("golden "/"new ") name the
    report in errors. An unknown or newer version is a ReportError.
    """
    version = raw.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ReportError(f"manifest {where!r} has no integer schema_version: {version!r}")
    while version in MIGRATIONS:
        raw = MIGRATIONS[version](raw)
        version = raw["schema_version"]
    if version != SCHEMA_VERSION:
        raise ReportError(
            f"{role}report {where!r} has schema_version {version}; "
            f"this dissect-report reads schema_version {SCHEMA_VERSION}"
        )
    out = dict(raw)
    for key in ("layers", "concepts"):
        if not isinstance(out.get(key), list):
            raise ReportError(f"corrupt manifest {where!r}: {key!r} must be a list")
    concepts = []
    for entry in out["concepts"]:
        if isinstance(entry, str):
            entry = {"name": entry, "slug": slugify(entry)}
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and "slug" not in entry:
            entry = {**entry, "slug": slugify(entry["name"])}
        concepts.append(entry)
    layers = []
    for entry in out["layers"]:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and "slug" not in entry:
            entry = {**entry, "slug": slugify(entry["name"])}
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if isinstance(shape, list) and shape and "units" not in entry:
            entry = {**entry, "units": shape[0]}
        layers.append(entry)
    out["concepts"], out["layers"] = concepts, layers
    return out


@dataclass(frozen=True)
class Column:
    """One column of a report table: its name and Arrow type, spelled as docs/report-format.md
    spells it (``"list<int64>"``); the docs give the meaning."""

    name: str
    type: str

    @property
    def arrow(self) -> pa.DataType:
        return arrow_type(self.type)


_SCALARS = {
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
}


def arrow_type(spelled: str) -> pa.DataType:
    """``"list<int64>"`` -> ``pa.list_(pa.int64())``; the spellings of docs/report-format.md."""
    if spelled.startswith("list<") and spelled.endswith(">"):
        return pa.list_(arrow_type(spelled[5:-1]))
    return _SCALARS[spelled]


def names(columns: tuple[Column, ...]) -> tuple[str, ...]:
    return tuple(c.name for c in columns)


def arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    return pa.schema([(c.name, c.arrow) for c in columns])


# layers/<layer-slug>/units.parquet
UNITS = (
    Column("unit", "int32"),
    Column("threshold", "float64"),
    Column("concept", "string"),
    Column("iou", "float64"),
    Column("iqr", "float64"),
    Column("interpretable", "bool"),
    Column("top_samples", "list<int64>"),
    Column("top_activations", "list<float64>"),
    Column("top_concepts", "list<string>"),
    Column("top_ious", "list<float64>"),
)

# layers/<layer-slug>/iou.parquet: every unit x every concept
IOU = (
    Column("unit", "int32"),
    Column("concept", "string"),
    Column("iou", "float64"),
    Column("iqr", "float64"),
)

# The columns every reader needs (a table without one of these is not a report's table).
UNITS_REQUIRED = ("unit", "threshold", "concept", "iou", "iqr", "interpretable")
IOU_REQUIRED = names(IOU)

# concepts/index.parquet
CONCEPT_INDEX = (
    Column("concept", "string"),
    Column("slug", "string"),
    Column("layer", "string"),
    Column("units", "int32"),
    Column("top_units", "list<int32>"),
    Column("n_max", "int32"),
    Column("fraction", "float64"),
    Column("ace", "float64"),
    Column("share", "float64"),
    Column("ace_random", "float64"),
    Column("share_random", "float64"),
    Column("ace_optimized", "float64"),
    Column("share_optimized", "float64"),
    Column("erased", "float64"),
    Column("erased_random", "float64"),
    Column("ace_all", "float64"),
    Column("share_all", "float64"),
    Column("insert_sites", "int64"),
    Column("insert_added", "float64"),
    Column("insert_success", "float64"),
    Column("compare_samples", "list<int64>"),
)

# concepts/<concept-slug>/ace.parquet
ACE = (
    Column("method", "string"),
    Column("n", "int32"),
    Column("units", "list<int32>"),
    Column("trials", "int32"),
    Column("fraction_before", "float64"),
    Column("fraction_after", "float64"),
    Column("ace", "float64"),
    Column("ace_std", "float64"),
    Column("share", "float64"),
    Column("erased", "float64"),
)

# concepts/<concept-slug>/insertion.parquet
INSERTION = (
    Column("context", "string"),
    Column("sites", "int64"),
    Column("added", "float64"),
    Column("success", "float64"),
)

# concepts/<concept-slug>/optimized.parquet
OPTIMIZED = (
    Column("unit", "int32"),
    Column("alpha", "float64"),
    Column("rank", "int32"),
    Column("iou", "float64"),
    Column("iou_rank", "int32"),
)

# concepts/units.parquet: each interpretable unit of the intervention layer ablated alone
UNIT_EFFECTS = (
    Column("unit", "int32"),
    Column("concept", "string"),
    Column("samples", "int32"),
    Column("fraction_before", "float64"),
    Column("fraction_after", "float64"),
    Column("ace", "float64"),
    Column("share", "float64"),
    Column("erased", "float64"),
)

# artifacts/units.parquet
ARTIFACT_UNITS = (
    Column("unit", "int32"),
    Column("rank", "int32"),
    Column("score", "float64"),
    Column("fsd", "float64"),
    Column("realism", "float64"),
    Column("top_samples", "list<int64>"),
    Column("ablation_gain", "float64"),
    Column("ablation_gain_even", "float64"),
    Column("ablation_gain_odd", "float64"),
    Column("repaired", "bool"),
    Column("concept", "string"),
    Column("iou", "float64"),
)

# artifacts/repair.parquet: the repair set measured on the held-out samples (no rows if none)
ARTIFACT_REPAIR = (
    Column("metric", "string"),
    Column("label", "string"),
    Column("role", "string"),
    Column("before", "float64"),
    Column("after", "float64"),
    Column("lower_is_better", "bool"),
    Column("improved", "bool"),
    Column("passed", "bool"),
    Column("detail", "string"),
)

# layers/<layer-slug>/examples.parquet (written by the visualize step)
EXAMPLES = (
    Column("unit", "int64"),
    Column("band", "string"),
    Column("slot", "int64"),
    Column("sample", "int64"),
    Column("peak", "float64"),
)

# samples/index.parquet: every sample some unit page shows
SAMPLES_INDEX = (
    Column("sample", "int64"),
    Column("concepts", "list<string>"),
    Column("areas", "list<float64>"),
)

# samples/units.parquet: per sample and layer, the units that fire most on it
SAMPLES_UNITS = (
    Column("sample", "int64"),
    Column("layer", "string"),
    Column("rank", "int64"),
    Column("unit", "int64"),
    Column("peak", "float64"),
    Column("ratio", "float64"),
)

# Every table above by its path pattern (as the headings of docs/report-format.md name it).
TABLES: dict[str, tuple[Column, ...]] = {
    "units.parquet": UNITS,
    "iou.parquet": IOU,
    "concepts/index.parquet": CONCEPT_INDEX,
    "concepts/<slug>/ace.parquet": ACE,
    "concepts/<slug>/insertion.parquet": INSERTION,
    "concepts/<slug>/optimized.parquet": OPTIMIZED,
    "concepts/units.parquet": UNIT_EFFECTS,
    "artifacts/units.parquet": ARTIFACT_UNITS,
    "artifacts/repair.parquet": ARTIFACT_REPAIR,
    "examples.parquet": EXAMPLES,
    "samples/index.parquet": SAMPLES_INDEX,
    "samples/units.parquet": SAMPLES_UNITS,
}

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
    """One column of a report table: name, Arrow type (as docs/report-format.md spells it), meaning."""

    name: str
    type: str
    meaning: str

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
    Column("unit", "int32", "unit (channel) index"),
    Column("threshold", "float64", "activation threshold of the unit (chosen by the policy)"),
    Column("concept", "string", "best concept (highest IoU)"),
    Column("iou", "float64", "IoU of the thresholded unit with `concept`"),
    Column("iqr", "float64", "information quality ratio with `concept` at the threshold"),
    Column("interpretable", "bool", "`iou >= iou_floor`"),
    Column(
        "top_samples",
        "list<int64>",
        "sample ids of the top-k samples by peak activation, best first",
    ),
    Column("top_activations", "list<float64>", "their peak activations"),
    Column("top_concepts", "list<string>", "the 5 best concepts, best first"),
    Column("top_ious", "list<float64>", "their IoUs"),
)

# layers/<layer-slug>/iou.parquet: every unit x every concept
IOU = (
    Column("unit", "int32", "unit (channel) index"),
    Column("concept", "string", "concept name"),
    Column("iou", "float64", "IoU of the unit at its threshold with the concept"),
    Column("iqr", "float64", "information quality ratio with the concept at the threshold"),
)

# The columns every reader needs (a table without one of these is not a report's table).
UNITS_REQUIRED = ("unit", "threshold", "concept", "iou", "iqr", "interpretable")
IOU_REQUIRED = names(IOU)

# concepts/index.parquet
CONCEPT_INDEX = (
    Column("concept", "string", "concept name"),
    Column("slug", "string", "its directory under `concepts/`"),
    Column("layer", "string", "the intervention layer"),
    Column("units", "int32", "interpretable units of this concept in the layer"),
    Column("top_units", "list<int32>", "the top units ablated at `n_max`, best IoU first"),
    Column("n_max", "int32", "largest n tried (min(max_units, number of top units))"),
    Column("fraction", "float64", "concept pixel fraction on the held-out samples, unedited"),
    Column("ace", "float64", "ACE of ablating the top `n_max` units (drop in pixel fraction)"),
    Column(
        "share", "float64", "`ace / fraction`: share of the concept removed (NaN if fraction is 0)"
    ),
    Column("ace_random", "float64", "mean ACE of `n_max` random units of the layer (control)"),
    Column("share_random", "float64", "`ace_random / fraction`"),
    Column(
        "ace_optimized",
        "float64",
        "ACE of the top `n_max` units by learned alpha (NaN if not optimized)",
    ),
    Column("share_optimized", "float64", "`ace_optimized / fraction`"),
    Column(
        "erased",
        "float64",
        "share of the concept's original pixels that no longer show it with the top `n_max` units ablated (ACE is net of pixels that newly show it elsewhere)",
    ),
    Column("erased_random", "float64", "the same for `n_max` random units (mean over trials)"),
    Column(
        "ace_all",
        "float64",
        "ACE of ablating every unit of the layer: the ceiling of ablation here. A concept that stays (sky, a default background) is drawn without this layer's units",
    ),
    Column("share_all", "float64", "`ace_all / fraction`"),
    Column("insert_sites", "int64", "insertion sites tried (patches where the concept was absent)"),
    Column(
        "insert_added",
        "float64",
        "mean concept pixels added per site / patch area (in image pixels)",
    ),
    Column(
        "insert_success",
        "float64",
        "share of sites where the concept grew by >= 5% of the patch area",
    ),
    Column(
        "compare_samples", "list<int64>", "held-out sample ids shown in compare.png, top to bottom"
    ),
)

# concepts/<concept-slug>/ace.parquet
ACE = (
    Column(
        "method",
        "string",
        "`iou` (top-n by IoU), `random` (n random units of the layer, control), `optimized` (top-n by learned alpha)",
    ),
    Column("n", "int32", "units ablated: 1, 2, 4, ..., and `n_max`"),
    Column("units", "list<int32>", "the units ablated (for `random`: those of trial 0)"),
    Column("trials", "int32", "random draws averaged (1 for `iou` / `optimized`)"),
    Column("fraction_before", "float64", "concept pixel fraction, unedited"),
    Column(
        "fraction_after",
        "float64",
        "concept pixel fraction with the units ablated (mean over trials)",
    ),
    Column("ace", "float64", "`fraction_before - fraction_after` (mean over trials)"),
    Column("ace_std", "float64", "standard deviation of ace over trials (0 for one trial)"),
    Column("share", "float64", "`ace / fraction_before` (NaN if fraction_before is 0)"),
    Column(
        "erased",
        "float64",
        "share of the concept's original pixels no longer labeled with it (mean over trials): the removal alone, without the pixels that newly show the concept",
    ),
)

# concepts/<concept-slug>/insertion.parquet
INSERTION = (
    Column("context", "string", "concept most present in the patch before"),
    Column("sites", "int64", "sites with this context"),
    Column("added", "float64", "mean concept pixels added / patch area"),
    Column("success", "float64", "share of these sites where added >= 0.05"),
)

# concepts/<concept-slug>/optimized.parquet
OPTIMIZED = (
    Column("unit", "int32", "unit index"),
    Column("alpha", "float64", "learned value"),
    Column("rank", "int32", "1 = largest alpha"),
    Column(
        "iou",
        "float64",
        'the unit\'s IoU with this concept, as ranked for "top units" (NaN if unknown)',
    ),
    Column("iou_rank", "int32", "the unit's rank by that IoU among the layer's units (1 = best)"),
)

# artifacts/units.parquet
ARTIFACT_UNITS = (
    Column("unit", "int32", "unit index"),
    Column("rank", "int32", "1 = worst"),
    Column("score", "float64", "artifact score (higher = worse)"),
    Column("fsd", "float64", "Frechet distance of its top images' features to all scoring images"),
    Column(
        "realism",
        "float64",
        "mean discriminator logit of its top images (NaN without discriminator)",
    ),
    Column("top_samples", "list<int64>", "scoring sample ids of its top images, best first"),
    Column(
        "ablation_gain",
        "float64",
        "improvement of the metric on the scoring samples when it alone is ablated (NaN: not screened, or it failed the even half)",
    ),
    Column("ablation_gain_even", "float64", "the same on the scoring samples at even positions"),
    Column(
        "ablation_gain_odd", "float64", "the same on those at odd positions (NaN: not measured)"
    ),
    Column("repaired", "bool", "in the repair set"),
    Column(
        "concept",
        "string",
        "the unit's best concept from the layer's units.parquet (null if absent)",
    ),
    Column("iou", "float64", "its IoU (NaN if absent)"),
)

# Every table above by its path pattern (as the headings of docs/report-format.md name it).
TABLES: dict[str, tuple[Column, ...]] = {
    "units.parquet": UNITS,
    "iou.parquet": IOU,
    "concepts/index.parquet": CONCEPT_INDEX,
    "concepts/<slug>/ace.parquet": ACE,
    "concepts/<slug>/insertion.parquet": INSERTION,
    "concepts/<slug>/optimized.parquet": OPTIMIZED,
    "artifacts/units.parquet": ARTIFACT_UNITS,
}

"""The report format as code: typed models of ``manifest.json`` and the columns of every table.

Usage::

    from dissect_report.reportdir.schema import UNITS, Manifest, UnitRow, migrate, to_table
    manifest = Manifest.model_validate(migrate(raw, "report/manifest.json"))
    manifest.layers[0].slug, manifest.concepts[0].color      # 'layer3', '#7ec0ee'
    [c.name for c in UNITS]                                  # the columns of units.parquet
    to_table(rows, UnitRow)                                  # a list of UnitRow -> its table

Every table is one frozen dataclass row type whose fields are its columns (:func:`column`);
a new column is one field here, its meaning in docs/report-format.md, and the value where
the stage builds the row (readers get it as an attribute; ``compare`` compares it by name).

``docs/report-format.md`` documents these same models; ``tests/unit/test_report_format.py``
fails when the two drift. Bump :data:`SCHEMA_VERSION` when a change would mislead an older
reader, and add a step to :data:`MIGRATIONS` so older reports still open.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, field_validator

from dissect_report.errors import ReportError
from dissect_report.slug import slugify

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
SHARD_MANIFEST = "shard.json"
PARTIAL = ".partial"  # checkpoints of an unfinished pass
POSITION_FILE = "position.npz"  # per layer: mean masks (uint8 x 255) and baseline IoUs
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
    flagged_units: dict[str, list[int]] = {}
    # concepts the IoU floor rules out at the policy's level: {concept, share, best_iou}
    unreachable_concepts: list[dict[str, Any]] = []


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


def column(spelled: str, default: Any = MISSING, *, nan_as_null: bool = False) -> Any:
    """A field of a row type that is a table column of Arrow type ``spelled``.

    Usage: ``ace: float = column("float64", math.nan)``; without ``default`` the column is
    required (a table without it is not a report's table). ``nan_as_null``: a float column
    whose NaN is written as null (a null float always reads back as NaN).
    """
    meta = {"arrow": spelled, **({"nan_as_null": True} if nan_as_null else {})}
    return field(default=default, metadata=meta)


def columns(row_type: type) -> tuple[Column, ...]:
    """The columns of a row type, in field order (fields made with :func:`column` only)."""
    return tuple(
        Column(f.name, f.metadata["arrow"]) for f in fields(row_type) if "arrow" in f.metadata
    )


def required(row_type: type) -> tuple[str, ...]:
    """The columns of ``row_type`` without a default: what every reader needs."""
    return tuple(
        f.name
        for f in fields(row_type)
        if "arrow" in f.metadata and f.default is MISSING and f.default_factory is MISSING
    )


def column_names(row_type: type, *names: str) -> tuple[str, ...]:
    """``names``, each checked to be a column of ``row_type`` (for code that names columns:
    a renamed column then fails at import, not silently). Usage:
    ``column_names(UnitRow, "iou", "iqr")`` -> ``("iou", "iqr")``."""
    known = {c.name for c in columns(row_type)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise AssertionError(f"{row_type.__name__} has no column(s) {', '.join(unknown)}")
    return names


def to_table(rows: Sequence[object], row_type: type) -> pa.Table:
    """The table of ``rows`` (instances of ``row_type`` or of a subclass), its columns only."""
    data = {}
    for f in fields(row_type):
        if "arrow" not in f.metadata:
            continue
        values = [getattr(r, f.name) for r in rows]
        if f.metadata.get("nan_as_null"):
            values = [None if isinstance(v, float) and math.isnan(v) else v for v in values]
        data[f.name] = pa.array(values, arrow_type(f.metadata["arrow"]))
    return pa.table(data)


def _cell(spelled: str, value: Any, default: Any) -> Any:
    if value is None:
        if spelled == "float64":
            return math.nan
        return () if spelled.startswith("list<") and default is None else default
    if spelled.startswith("list<"):
        inner = spelled[5:-1]
        return tuple(_cell(inner, v, None) for v in value)
    if spelled == "float64":
        try:
            return float(value)
        except (TypeError, ValueError):
            return math.nan
    if spelled in ("int32", "int64"):
        return int(value)
    if spelled == "bool":
        return bool(value)
    return str(value)


def from_table(table: pa.Table, row_type: type[R]) -> list[R]:
    """The rows of ``table`` as ``row_type``: each cell coerced to its field's type, a null
    float read as NaN, a column the table lacks (an older report) read as its default."""
    out = []
    specs = [f for f in fields(row_type) if "arrow" in f.metadata]
    data = table.to_pydict()
    for i in range(table.num_rows):
        values = {}
        for f in specs:
            default = None if f.default is MISSING else f.default
            if f.name in data:
                values[f.name] = _cell(f.metadata["arrow"], data[f.name][i], default)
            elif f.default is not MISSING:
                values[f.name] = f.default
        out.append(row_type(**values))
    return out


# layers/<layer-slug>/units.parquet
@dataclass(frozen=True, kw_only=True)
class UnitRow:
    """A row of ``layers/<layer>/units.parquet``: one unit's label at its threshold.

    ``unit``, ``concept``, ``iou`` and ``interpretable`` are what every reader needs (hand-made
    tables may stop there); a unit with no finite activation has concept ``""`` and NaN
    threshold, IoU and IQR.
    """

    unit: int = column("int32")
    threshold: float = column("float64", math.nan)
    concept: str = column("string")  # the unit's best concept at its threshold
    iou: float = column("float64")
    iqr: float = column("float64", math.nan)
    interpretable: bool = column("bool")
    top_samples: tuple[int, ...] = column("list<int64>", ())  # by peak activation, best first
    top_activations: tuple[float, ...] = column("list<float64>", ())
    top_concepts: tuple[str, ...] = column("list<string>", ())  # the 5 best concepts by IoU
    top_ious: tuple[float, ...] = column("list<float64>", ())
    # The better-scoring concept a label guard refused (dissection.labels), its IoU and the
    # guard ("mask too broad", "chance level", "position alone"); "" / NaN (null in the
    # table, so repeated runs compare equal) where none, or in an older report.
    refused_concept: str = column("string", "")
    refused_iou: float = column("float64", math.nan, nan_as_null=True)
    refused_reason: str = column("string", "")
    # Where a guard refused the top concept and the unit stays unlabelled (no
    # --label-fallback): the next concept that passes the coverage and chance guards (its
    # position baseline is not measured without the fallback) and its IoU; "" / NaN if none.
    next_concept: str = column("string", "")
    next_iou: float = column("float64", math.nan, nan_as_null=True)


UNITS = columns(UnitRow)


# layers/<layer-slug>/iou.parquet: every unit x every concept
@dataclass(frozen=True)
class IouRow:
    """A row of ``layers/<layer>/iou.parquet``: one unit x one concept (long format)."""

    unit: int = column("int32")
    concept: str = column("string")
    iou: float = column("float64")
    iqr: float = column("float64", math.nan)
    threshold: float = column("float64", math.nan)  # the pair's own; NaN: an older report


IOU = columns(IouRow)

# The columns a comparison insists on (a table without one of these is not a report's table).
UNITS_REQUIRED = names(UNITS[:6])
IOU_REQUIRED = names(IOU[:4])  # a column added later has a default


# concepts/index.parquet: one row per intervened concept
@dataclass(frozen=True)
class ConceptIndexRow:
    """A row of ``concepts/index.parquet``: what ablating and inserting a concept's top units
    did (docs/report-format.md gives each column's meaning).

    The table's columns are these fields, in this order (:data:`CONCEPT_INDEX`); the stage
    writes these rows (:func:`to_table`), the site, ``compare`` and ``testing`` read them back
    (:func:`from_table`). The first eight columns are required; a report written before a later
    column existed reads it as its default.
    """

    concept: str = column("string")
    slug: str = column("string")
    layer: str = column("string")
    units: int = column("int32")  # interpretable units labeled with the concept
    top_units: tuple[int, ...] = column("list<int32>")  # the n_max ablated, best IoU first
    n_max: int = column("int32")
    fraction: float = column("float64")  # share of pixels showing the concept, unedited
    ace: float = column("float64")
    share: float = column("float64", math.nan)
    ace_random: float = column("float64", math.nan)
    share_random: float = column("float64", math.nan)
    ace_optimized: float = column("float64", math.nan)
    share_optimized: float = column("float64", math.nan)
    erased: float = column("float64", math.nan)  # share of its pixels gone, top n_max units off
    erased_random: float = column("float64", math.nan)
    ace_all: float = column("float64", math.nan)  # every unit of the layer ablated
    share_all: float = column("float64", math.nan)
    insert_sites: int = column("int64", 0)
    insert_added: float = column("float64", math.nan)
    insert_success: float = column("float64", math.nan)
    compare_samples: tuple[int, ...] = column("list<int64>", ())  # the rows of compare.png
    # The inserted set: chosen by measured insertion success on the dissection's samples
    # among top-n by learned alpha and the IoU-top set; older reports inserted top_units ("iou").
    insert_method: str = column("string", "iou")
    insert_units: tuple[int, ...] = column("list<int32>", ())  # () = top_units (older reports)
    insert_added_iou: float = column("float64", math.nan)  # the IoU-top set, same sites
    insert_success_iou: float = column("float64", math.nan)


CONCEPT_INDEX = columns(ConceptIndexRow)


# concepts/<concept-slug>/ace.parquet: the ablation curves, one row per (method, n)
@dataclass(frozen=True)
class AceRow:
    """One point of an ACE curve: ``n`` units chosen by ``method`` ablated together, the
    concept's share of pixels before and after (mean over ``trials``)."""

    method: str = column("string")
    n: int = column("int32")
    units: tuple[int, ...] = column("list<int32>")
    trials: int = column("int32")
    fraction_before: float = column("float64")
    fraction_after: float = column("float64")
    ace: float = column("float64")
    ace_std: float = column("float64")
    share: float = column("float64")
    erased: float = column("float64")  # share of the concept's original pixels gone (mean)


ACE = columns(AceRow)


# concepts/<concept-slug>/insertion.parquet: insertion's effect by the site's context
@dataclass(frozen=True)
class InsertionRow:
    """A row of ``insertion.parquet``: the concept's units forced on at ``sites`` patches whose
    surroundings show ``context``; ``added`` pixels of the concept per patch, ``success`` the
    share of sites where it appeared; ``method`` the unit set inserted (``optimized``: the
    measured set of top units by learned alpha, ``iou``: the IoU-top set)."""

    context: str = column("string")
    sites: int = column("int64")
    added: float = column("float64", math.nan)
    success: float = column("float64", math.nan)
    method: str = column("string", "iou")


INSERTION = columns(InsertionRow)


# concepts/<concept-slug>/insertion_sites.parquet: every tried insertion site (raw)
@dataclass(frozen=True)
class InsertionSiteRow:
    """One tried insertion site: the patch whose top-left is (``row``, ``col``) in layer pixels
    of held-out ``sample``, the concept seen most there before (``context``), the concept's
    pixels ``added`` over the image / patch area, and the set inserted (``method``)."""

    sample: int = column("int64")
    row: int = column("int32")
    col: int = column("int32")
    context: str = column("string")
    added: float = column("float64")
    method: str = column("string")


INSERTION_SITES = columns(InsertionSiteRow)


# concepts/<concept-slug>/levels.parquet: what insertion forces each unit to (Paint reuses it)
@dataclass(frozen=True)
class LevelRow:
    """A unit of the intervention layer and the activation ``level`` insertion sets it to."""

    unit: int = column("int32")
    level: float = column("float64")


LEVELS = columns(LevelRow)


# concepts/<concept-slug>/optimized.parquet
@dataclass(frozen=True)
class OptimizedRow:
    """A row of ``optimized.parquet``: one unit's learned ablation coefficient ``alpha`` for
    the concept, its ``rank`` by alpha (1 = largest) and its own ``iou`` / ``iou_rank``."""

    unit: int = column("int32")
    alpha: float = column("float64")
    rank: int = column("int32", 0)  # 0: not in the table (older reports)
    iou: float = column("float64", math.nan)
    iou_rank: int = column("int32", 0)


OPTIMIZED = columns(OptimizedRow)


# concepts/<concept-slug>/ranking.parquet: the order "top units" ablates in
@dataclass(frozen=True)
class RankingRow:
    """A row of ``ranking.parquet``: a unit's IoU with the concept at its own threshold for
    it, and its rank by that IoU among the layer's units (1 = best)."""

    unit: int = column("int32")
    iou: float = column("float64")
    iou_rank: int = column("int32")


RANKING = columns(RankingRow)


# concepts/units.parquet: each interpretable unit of the intervention layer ablated alone
@dataclass(frozen=True)
class UnitEffectRow:
    """A row of ``concepts/units.parquet``: one labelled unit ablated alone on ``samples``
    held-out samples, its label's pixels before and after."""

    unit: int = column("int32")
    concept: str = column("string")
    samples: int = column("int32")
    fraction_before: float = column("float64")
    fraction_after: float = column("float64")
    ace: float = column("float64")
    share: float = column("float64")
    erased: float = column("float64")


UNIT_EFFECTS = columns(UnitEffectRow)


# artifacts/units.parquet: the artifacts layer's units, worst first
@dataclass(frozen=True)
class ArtifactUnitRow:
    """A row of ``artifacts/units.parquet``: one unit's artifact score (higher = worse), the
    causal screen's gains when it alone is ablated (NaN: not measured) and its label.

    The stage writes these rows, the site (``render.sections.ArtifactUnit`` extends it),
    ``compare`` and ``testing`` read them back; ``unit``, ``rank`` and ``score`` are required.
    """

    unit: int = column("int32")
    rank: int = column("int32")  # 1 = worst
    score: float = column("float64")
    fsd: float = column("float64", math.nan)  # of the unit's top images to the real images
    realism: float = column("float64", math.nan)  # their mean discriminator logit
    top_samples: tuple[int, ...] = column("list<int64>", ())
    ablation_gain: float = column("float64", math.nan)  # on all scoring samples
    # on the even half: measured first, the rest only when it passes
    ablation_gain_even: float = column("float64", math.nan)
    ablation_gain_odd: float = column("float64", math.nan)
    repaired: bool = column("bool", False)  # in the repair set the verdict kept
    concept: str | None = column("string", None)  # its label in the layer's units.parquet
    iou: float = column("float64", math.nan)


ARTIFACT_UNITS = columns(ArtifactUnitRow)


# artifacts/repair.parquet: the repair set measured on the held-out samples (no rows if none)
@dataclass(frozen=True, kw_only=True)
class RepairRow:
    """A row of ``artifacts/repair.parquet`` (and of ``repair.json``'s ``metrics``): one
    quantity measured on the held-out samples before and after the repair set is ablated.

    ``role`` "metric" chose the set (``passed``: it improved), "check" is independent of the
    choice (``passed``: not degraded). Build a measured row with :meth:`measured` (it derives
    ``improved``); ``lower_is_better`` and ``passed`` are None only in reports older than them.
    """

    metric: str = column("string")  # "fsd", "realism" or "labels"
    label: str = column("string", "")  # human words: "FSD to real images"
    role: str = column("string", "metric")
    before: float = column("float64")
    after: float = column("float64")
    lower_is_better: bool | None = column("bool", None)
    improved: bool = column("bool", False)
    passed: bool | None = column("bool", None)
    detail: str = column("string", "")

    @classmethod
    def measured(
        cls,
        metric: str,
        label: str,
        before: float,
        after: float,
        lower_is_better: bool,
        role: str,
        passed: bool,
        detail: str = "",
    ) -> RepairRow:
        """The row of a measurement; ``improved`` follows from before, after and direction."""
        improved = after < before if lower_is_better else after > before
        return cls(metric=metric, label=label, role=role, before=before, after=after,
                   lower_is_better=lower_is_better, improved=improved, passed=passed,
                   detail=detail)  # fmt: skip

    @property
    def direction(self) -> str:
        """``lower is better`` / ``higher is better`` ("" when an older report did not say)."""
        if self.lower_is_better is None:
            return ""
        return "lower is better" if self.lower_is_better else "higher is better"


ARTIFACT_REPAIR = columns(RepairRow)


@dataclass(frozen=True)
class ArtifactVerdict:
    """What the artifacts stage concluded (``repair.json``: ``verdict``, ``units``, ``tried``).

    ``status``: "repaired", "rejected", "none-confirmed", "no-metric" ("" in a report older
    than the verdict: then ``tried`` is ``units``); ``units`` the repair set (empty unless
    repaired), ``tried`` the set the damage guard judged, ``reason`` one sentence, ``enable``
    the flags that would make a repair possible (status "no-metric").
    """

    status: str
    units: tuple[int, ...] = ()
    tried: tuple[int, ...] = ()
    reason: str = ""
    enable: str = ""

    @property
    def repaired(self) -> bool:
        return self.status == "repaired"


@dataclass(frozen=True)
class RepairStep:
    """One try of the greedy repair set: ``unit`` added, the metric with it (as reported:
    realism as a logit, higher is better), whether it was ``kept``."""

    unit: int
    value: float
    kept: bool


@dataclass(frozen=True)
class RepairDoc:
    """``artifacts/repair.json``: the verdict, the screen and the greedy set, the held-out
    measurements. :meth:`to_json` is its one writer, :meth:`from_json` its one reader (lenient
    with older reports: a missing key reads as its default).

    Usage: ``RepairDoc.from_json(read_json_object(path), str(path)).verdict.status``.
    """

    layer: str
    verdict: ArtifactVerdict
    metric: str = ""  # what the screen and repair improve; "none" without a quality metric
    candidates: tuple[int, ...] = ()  # the units screened, worst score first
    confirmed: tuple[int, ...] = ()  # those whose ablation alone helped
    baseline: float = math.nan  # the metric on the unedited scoring samples
    greedy: tuple[RepairStep, ...] = ()
    metrics: tuple[RepairRow, ...] = ()  # the same rows as repair.parquet
    worst_samples: tuple[int, ...] = ()  # the samples of before.png / after.png

    def to_json(self) -> dict[str, Any]:
        """The JSON object (keys in the order the report format gives them)."""
        v = self.verdict
        return {
            "layer": self.layer,
            "verdict": {
                "status": v.status,
                "repaired": v.repaired,
                "reason": v.reason,
                "enable": v.enable,
            },
            "units": list(v.units),
            "tried": list(v.tried),
            "metric": self.metric,
            "candidates": list(self.candidates),
            "confirmed": list(self.confirmed),
            "baseline": self.baseline,
            "greedy": [{"unit": s.unit, self.metric: s.value, "kept": s.kept} for s in self.greedy],
            "metrics": {
                r.metric: {
                    "label": r.label,
                    "role": r.role,
                    "before": r.before,
                    "after": r.after,
                    "direction": r.direction,
                    "passed": r.passed,
                    "detail": r.detail,
                }
                for r in self.metrics
            },
            "worst_samples": list(self.worst_samples),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any], where: str) -> RepairDoc:
        """The document of ``raw`` (a parsed repair.json); malformed is a ReportError."""
        try:
            return cls._parse(raw)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise ReportError(f"unreadable {where!r}: {exc}") from exc

    @classmethod
    def _parse(cls, raw: dict[str, Any]) -> RepairDoc:
        metric = str(raw.get("metric") or "")
        units = tuple(int(u) for u in raw.get("units") or ())
        v = raw.get("verdict")
        if isinstance(v, dict):
            verdict = ArtifactVerdict(
                status=str(v.get("status") or ""),
                units=units,
                tried=tuple(int(u) for u in raw.get("tried") or ()),
                reason=str(v.get("reason") or ""),
                enable=str(v.get("enable") or ""),
            )
        else:  # older than the verdict: its units were the set judged
            verdict = ArtifactVerdict("", units, units)
        metrics = []
        for name, m in (raw.get("metrics") or {}).items():
            direction = m.get("direction")
            lower = None if direction is None else direction == "lower is better"
            before, after = (
                _cell("float64", m.get("before"), None),
                _cell("float64", m.get("after"), None),
            )
            passed = m.get("passed")
            metrics.append(
                RepairRow(
                    metric=str(name),
                    label=str(m.get("label") or name),
                    role=str(m.get("role") or "metric"),
                    before=before,
                    after=after,
                    lower_is_better=lower,
                    improved=bool(after < before if lower else after > before),
                    passed=None if passed is None else bool(passed),
                    detail=str(m.get("detail") or ""),
                )  # fmt: skip
            )
        return cls(
            layer=str(raw.get("layer") or ""),
            verdict=verdict,
            metric=metric,
            candidates=tuple(int(u) for u in raw.get("candidates") or ()),
            confirmed=tuple(int(u) for u in raw.get("confirmed") or ()),
            baseline=_cell("float64", raw.get("baseline"), None),
            greedy=tuple(
                RepairStep(int(s["unit"]), _cell("float64", s.get(metric), None), bool(s["kept"]))
                for s in raw.get("greedy") or ()
            ),
            metrics=tuple(metrics),
            worst_samples=tuple(int(i) for i in raw.get("worst_samples") or ()),
        )


# layers/<layer-slug>/examples.parquet (written by the visualize step)
@dataclass(frozen=True)
class ExampleRow:
    """A row of ``examples.parquet``: a sample shown on ``unit``'s page, at ``slot`` of band
    ``band`` (``dissection.bands.BANDS``), with the unit's ``peak`` activation on it."""

    unit: int = column("int64")
    band: str = column("string")
    slot: int = column("int64")  # position in the band, highest peak first
    sample: int = column("int64")
    peak: float = column("float64")


EXAMPLES = columns(ExampleRow)


# samples/index.parquet: every sample some unit page shows
@dataclass(frozen=True)
class SampleRow:
    """A row of ``samples/index.parquet``: the concepts a shown sample's segmentation holds,
    largest area first, and their shares of its pixels."""

    sample: int = column("int64")
    concepts: tuple[str, ...] = column("list<string>")
    areas: tuple[float, ...] = column("list<float64>")


SAMPLES_INDEX = columns(SampleRow)


# samples/units.parquet: per sample and layer, the units that fire most on it
@dataclass(frozen=True)
class SampleUnitRow:
    """A row of ``samples/units.parquet``: the ``rank``-th unit of ``layer`` on ``sample``, by
    ``ratio`` = peak / the unit's threshold (NaN, written as null, when that is not positive)."""

    sample: int = column("int64")
    layer: str = column("string")
    rank: int = column("int64")
    unit: int = column("int64")
    peak: float = column("float64")
    ratio: float = column("float64", nan_as_null=True)


SAMPLES_UNITS = columns(SampleUnitRow)

# Every table above by its path pattern (as the headings of docs/report-format.md name it).
TABLES: dict[str, tuple[Column, ...]] = {
    "units.parquet": UNITS,
    "iou.parquet": IOU,
    "concepts/index.parquet": CONCEPT_INDEX,
    "concepts/<slug>/ace.parquet": ACE,
    "concepts/<slug>/insertion.parquet": INSERTION,
    "concepts/<slug>/insertion_sites.parquet": INSERTION_SITES,
    "concepts/<slug>/levels.parquet": LEVELS,
    "concepts/<slug>/optimized.parquet": OPTIMIZED,
    "concepts/<slug>/ranking.parquet": RANKING,
    "concepts/units.parquet": UNIT_EFFECTS,
    "artifacts/units.parquet": ARTIFACT_UNITS,
    "artifacts/repair.parquet": ARTIFACT_REPAIR,
    "examples.parquet": EXAMPLES,
    "samples/index.parquet": SAMPLES_INDEX,
    "samples/units.parquet": SAMPLES_UNITS,
}

# The tables with a row type, by their path in a report (a glob: ``*`` is a slug).
ROW_TYPES: dict[str, type[Any]] = {
    "layers/*/units.parquet": UnitRow,
    "layers/*/iou.parquet": IouRow,
    "layers/*/examples.parquet": ExampleRow,
    "concepts/index.parquet": ConceptIndexRow,
    "concepts/units.parquet": UnitEffectRow,
    "concepts/*/ace.parquet": AceRow,
    "concepts/*/insertion.parquet": InsertionRow,
    "concepts/*/insertion_sites.parquet": InsertionSiteRow,
    "concepts/*/levels.parquet": LevelRow,
    "concepts/*/optimized.parquet": OptimizedRow,
    "concepts/*/ranking.parquet": RankingRow,
    "artifacts/units.parquet": ArtifactUnitRow,
    "artifacts/repair.parquet": RepairRow,
    "samples/index.parquet": SampleRow,
    "samples/units.parquet": SampleUnitRow,
}


def row_type_at(rel: str) -> type[Any] | None:
    """The row type of the table at ``rel`` (a POSIX path inside a report), or None.

    Usage: ``row_type_at("layers/layer3/examples.parquet")`` -> :class:`ExampleRow`.
    """
    parts = rel.split("/")
    for pattern, row_type in ROW_TYPES.items():
        want = pattern.split("/")
        if len(want) == len(parts) and all(w in ("*", p) for w, p in zip(want, parts, strict=True)):
            return row_type
    return None

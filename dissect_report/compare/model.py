"""The typed result of comparing a report with a golden report.

Usage::

    from dissect_report.compare import compare_reports
    comparison = compare_reports("golden", "report")
    if not comparison.passed:
        print(comparison.summary())

Every record is a frozen dataclass; :class:`Comparison` is what ``compare_reports`` returns
and what the CLI, the JSON/Markdown diffs, the site's Compare page and the pytest plugin
all read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dissect_report.errors import ConfigError


@dataclass(frozen=True)
class Tolerances:
    """How far each compared value may move before it counts as a change.

    Usage::

        Tolerances(iou_atol=0.05, image_tol=8.0)

    Each field becomes a CLI flag of ``dissect-report compare`` (``iou_atol`` ->
    ``--iou-atol``); the ``help`` metadata is the flag's help text.
    """

    iou_atol: float = field(
        default=0.02, metadata={"help": "absolute tolerance on IoU (units and iou tables)"}
    )
    iqr_atol: float = field(
        default=0.02, metadata={"help": "absolute tolerance on the information quality ratio"}
    )
    threshold_rtol: float = field(
        default=0.05, metadata={"help": "relative tolerance on unit activation thresholds"}
    )
    threshold_atol: float = field(
        default=1e-6,
        metadata={"help": "absolute tolerance on thresholds and activations (for values near 0)"},
    )
    activation_rtol: float = field(
        default=0.05, metadata={"help": "relative tolerance on the top-k peak activations"}
    )
    top_overlap: float = field(
        default=0.5,
        metadata={"help": "least fraction of a unit's top-k sample ids that must stay (0..1)"},
    )
    image_tol: float = field(
        default=4.0,
        metadata={"help": "largest mean absolute pixel difference (0..255) of an image"},
    )
    table_atol: float = field(
        default=0.02, metadata={"help": "absolute tolerance on numbers of other tables"}
    )
    table_rtol: float = field(
        default=0.05, metadata={"help": "relative tolerance on numbers of other tables"}
    )
    ace_atol: float = field(
        default=0.002,
        metadata={
            "help": "absolute tolerance on intervention effects in pixel fractions "
            "(ACE, concept fractions before/after)"
        },
    )
    share_atol: float = field(
        default=0.05,
        metadata={
            "help": "absolute tolerance on shares of a concept (ACE / fraction, erased share, "
            "insertion added and success)"
        },
    )
    optimized_atol: float = field(
        default=0.1,
        metadata={
            "help": "absolute tolerance on the effects of the learned (optimized) unit sets: "
            "their ACE, share and erased share"
        },
    )
    artifact_rtol: float = field(
        default=0.05,
        metadata={
            "help": "relative tolerance on artifact figures (FSD, realism, scores, ablation "
            "gains, repair before/after)"
        },
    )
    artifact_atol: float = field(
        default=0.01,
        metadata={"help": "absolute tolerance on artifact figures (for values near 0)"},
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or math.isnan(value) or value < 0:
                raise ConfigError(f"tolerance {f.name} must be a number >= 0, got {value!r}")
        if self.top_overlap > 1:
            raise ConfigError(f"tolerance top_overlap must be in [0, 1], got {self.top_overlap}")

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class SettingChange:
    """A manifest setting that differs (``samples.seed: 1 -> 2``).

    ``kind`` says what the setting can do to the findings:

    - ``"finding"`` (``relevant``): it changes them (seed, sample count, model hash...);
      always a probable cause.
    - ``"contract"``: it should not change them, by the model contract (batch size, device,
      shards, workers), but it does when a generator breaks the contract (batch statistics,
      the global RNG, device numerics beyond the tolerances). A probable cause whenever the
      tables differ; never called harmless then.
    - ``"section"``: a whole section (``artifacts``, ``interventions``) that only one report
      has, a stage the other did not run; ``key`` is the section's name, the side that lacks
      it is ``None`` (:attr:`only_in` names the other).
    - ``"bookkeeping"``: where and when, not what (output paths, timings, the command).
    """

    key: str
    golden: Any
    new: Any
    relevant: bool
    kind: str = "finding"
    hint: str | None = None  # why a "contract" setting could still explain a difference

    @property
    def only_in(self) -> str | None:
        """``"golden"`` or ``"new"`` for a ``"section"`` change: the side that has it."""
        if self.kind != "section":
            return None
        return "new" if self.golden is None else "golden"


@dataclass(frozen=True)
class LabelChange:
    """A unit whose best concept changed, and by how much the IoUs behind it moved.

    ``margin_moved`` is how far the margin between the two concepts moved:
    ``(iou_g(golden) - iou_g(new)) + (iou_n(new) - iou_n(golden))`` (``inf`` when either
    concept is missing from a report). A change counts only when it exceeds ``iou_atol``.
    """

    unit: int
    golden: str
    new: str
    golden_iou: float
    new_iou: float
    margin_moved: float = math.inf


@dataclass(frozen=True)
class BoundaryNote:
    """A derived fact that flipped while the numbers behind it stayed within tolerance.

    ``unit 175 interpretable true -> false: iou 0.040023 -> 0.039996, floor 0.04 (moved
    2.7e-05 <= 0.02)``: a flag, a best concept, a rank or a set membership that sits on a
    boundary can flip on float noise alone. It is reported, never failed.
    """

    fact: str  # "interpretable", "concept", "rank", "repaired", ...
    unit: int | None
    golden: Any
    new: Any
    detail: str
    concept: str | None = None


@dataclass(frozen=True)
class ValueChange:
    """A table value outside its tolerance (``concept`` is set for the long iou table)."""

    column: str
    unit: int | None
    golden: Any
    new: Any
    tolerance: str
    concept: str | None = None
    row: int | None = None


@dataclass(frozen=True)
class ImageChange:
    """An image that differs beyond ``image_tol`` (or changed size, or cannot be read)."""

    path: str
    reason: str
    unit: int | None = None
    kind: str = "other"  # "strip", "grid" or "other"
    score: float | None = None


@dataclass(frozen=True)
class MatrixSummary:
    """How the long ``iou.parquet`` table moved: counts, worst entries, largest delta."""

    compared: int
    outside: int
    max_abs_delta: float
    worst: tuple[ValueChange, ...] = ()


@dataclass(frozen=True)
class LayerComparison:
    """Everything that differs inside one layer (``status`` "compared", "missing", "added")."""

    name: str
    slug: str
    status: str
    golden_shape: tuple[int, ...] | None = None
    new_shape: tuple[int, ...] | None = None
    units: int = 0
    golden_interpretable: int | None = None
    new_interpretable: int | None = None
    units_missing: tuple[int, ...] = ()
    units_added: tuple[int, ...] = ()
    label_changes: tuple[LabelChange, ...] = ()
    value_changes: tuple[ValueChange, ...] = ()
    iou_matrix: MatrixSummary | None = None
    image_changes: tuple[ImageChange, ...] = ()
    notes: tuple[BoundaryNote, ...] = ()  # flips within tolerance; never failures

    @property
    def failures(self) -> int:
        """Number of differences in this layer that are outside tolerance."""
        n = len(self.units_missing) + len(self.units_added)
        n += len(self.label_changes) + len(self.value_changes) + len(self.image_changes)
        n += self.iou_matrix.outside if self.iou_matrix else 0
        n += int(self.status != "compared")
        n += int(self.golden_shape != self.new_shape and self.status == "compared")
        return n

    @property
    def changed_units(self) -> tuple[int, ...]:
        """Units with any difference (label, value, image or iou matrix), sorted."""
        units: set[int] = {c.unit for c in self.label_changes}
        units |= {c.unit for c in self.value_changes if c.unit is not None}
        units |= {c.unit for c in self.image_changes if c.unit is not None}
        if self.iou_matrix:
            units |= {c.unit for c in self.iou_matrix.worst if c.unit is not None}
        return tuple(sorted(units))


@dataclass(frozen=True)
class TableComparison:
    """A table outside ``layers/`` (interventions, artifacts) compared generically."""

    path: str
    problem: str | None = None  # set when rows or columns do not line up
    value_changes: tuple[ValueChange, ...] = ()
    outside: int = 0
    notes: tuple[BoundaryNote, ...] = ()  # flips within tolerance; never failures

    @property
    def failures(self) -> int:
        return self.outside + int(self.problem is not None)


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`~dissect_report.compare.compare_reports`.

    Usage::

        comparison = compare_reports(golden, new)
        comparison.passed          # True when everything is within tolerance
        print(comparison.summary())
    """

    golden: Path
    new: Path
    tolerances: Tolerances
    schema_version: int
    settings: tuple[SettingChange, ...] = ()
    concepts_missing: tuple[str, ...] = ()
    concepts_added: tuple[str, ...] = ()
    layers: tuple[LayerComparison, ...] = ()
    files_missing: tuple[str, ...] = ()
    files_added: tuple[str, ...] = ()
    tables: tuple[TableComparison, ...] = ()
    images: tuple[ImageChange, ...] = ()  # images outside layers/

    @property
    def failures(self) -> int:
        """Number of differences outside tolerance; 0 means the comparison passed."""
        n = len(self.concepts_missing) + len(self.concepts_added) + len(self.files_missing)
        n += len(self.images)
        n += sum(layer.failures for layer in self.layers)
        n += sum(table.failures for table in self.tables)
        return n

    @property
    def passed(self) -> bool:
        return self.failures == 0

    @property
    def probable_causes(self) -> tuple[SettingChange, ...]:
        """Settings that may explain the differences, most probable first.

        The ``finding`` settings always; the ``contract`` ones (batch size, device...) too
        when the comparison failed: they should not change findings, but the tables say
        they may have.
        """
        causes = [s for s in self.settings if s.relevant]
        if not self.passed:
            causes += [s for s in self.settings if s.kind == "contract"]
        return tuple(causes)

    @property
    def notes(self) -> tuple[BoundaryNote, ...]:
        """Every boundary note (layers first, then other tables); none is a failure."""
        notes = [n for layer in self.layers for n in layer.notes]
        return tuple(notes + [n for table in self.tables for n in table.notes])

    def layer(self, name: str) -> LayerComparison:
        """The comparison of one layer by name or slug."""
        for layer in self.layers:
            if name in (layer.name, layer.slug):
                return layer
        raise KeyError(name)

    def summary(self, max_items: int = 10) -> str:
        """A readable text summary, probable causes first."""
        from dissect_report.compare.text import summary

        return summary(self, max_items=max_items)

    def to_dict(self) -> dict[str, Any]:
        """The JSON diff as plain data (``json.dumps``-able; NaN becomes null)."""
        from dissect_report.compare.text import to_dict

        return to_dict(self)

    def to_markdown(self) -> str:
        """The Markdown diff."""
        from dissect_report.compare.text import to_markdown

        return to_markdown(self)

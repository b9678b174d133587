"""How each column of the interventions and artifacts tables is compared, and with what tolerance.

Usage::

    from dissect_report.compare.rules import rule_for
    rule = rule_for("artifacts/units.parquet", "rank")
    rule.kind, rule.basis        # ("rank", ("score",)): a rank counts only if its score moved

A column is one of:

- ``number``: within ``atol + rtol * |golden|`` of its own tolerance group (``ace_atol`` for
  pixel fractions, ``share_atol`` for shares, ``artifact_rtol``/``artifact_atol`` for FSD,
  realism, scores and gains, ``iou_atol`` for IoUs, ``table_*`` for anything else);
- ``ids``: a list of unit or sample ids (the units ablated, the repair set, the top images),
  compared by the share of golden ids kept (``top_overlap``); a change within it is a note;
- ``rank`` / ``flag``: derived from other columns of the row (``basis``): a rank by score, a
  repair-set membership by its gains, ``improved`` by before/after. A change counts only
  when a basis value moved beyond its own tolerance; otherwise it is a boundary note;
- ``derived``: repeated from elsewhere and compared there (the layer's labels and counts);
- ``unstable``: what float noise alone rewrites (the learned ablation coefficients ``alpha``
  of ``optimized.parquet``, their ranks and the units of the ``optimized`` rows: Adam's
  normalized step turns the sign of a near-zero gradient into a full step, so relative noise
  1e-6 moved alpha by up to 0.69 and left 0-25 % of the optimized units in place). A change
  is a note; the optimized sets' effects (ACE, share, erased) are compared, with
  ``optimized_atol``;
- ``exact``: anything else that is not a number (names, methods, contexts).

Columns the rules do not name fall back to ``number`` with the generic table tolerance, or
``exact`` for text, so a new column is compared from the day it appears.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from dissect_report.compare.model import Tolerances
from dissect_report.reportdir.schema import (
    AceRow,
    ArtifactUnitRow,
    ConceptIndexRow,
    ExampleRow,
    OptimizedRow,
    SampleRow,
    SampleUnitRow,
    column_names,
    row_type_at,
)


@dataclass(frozen=True)
class Rule:
    """How one column is compared (see the module doc)."""

    kind: str  # "number", "ids", "rank", "flag", "derived", "unstable" or "exact"
    group: str = "table"  # tolerance group of a number: ace, share, artifact, iou, table
    basis: tuple[str, ...] = ()  # for rank / flag: the columns the value is derived from


# Pixel fractions of interventions: how much of the image shows the concept, before/after.
_ACE = Rule("number", "ace")
_SHARE = Rule("number", "share")
_ARTIFACT = Rule("number", "artifact")
_IDS = Rule("ids")

_BY_NAME: dict[str, Rule] = {
    # interventions (concepts/index.parquet, concepts/<c>/ace.parquet, insertion*.parquet)
    "fraction": _ACE,
    "fraction_before": _ACE,
    "fraction_after": _ACE,
    "ace": _ACE,
    "ace_std": _ACE,
    "ace_random": _ACE,
    "ace_all": _ACE,
    "erased": _SHARE,
    "erased_random": _SHARE,
    "share": _SHARE,
    "share_random": _SHARE,
    "share_all": _SHARE,
    "added": _SHARE,
    "insert_added": _SHARE,
    "success": _SHARE,
    "insert_success": _SHARE,
    "insert_added_iou": _SHARE,
    "insert_success_iou": _SHARE,
    "top_units": _IDS,
    "compare_samples": _IDS,
    "iou": Rule("number", "iou"),
    "iou_rank": Rule("rank", basis=("iou",)),
    "ace_optimized": Rule("number", "optimized"),
    "share_optimized": Rule("number", "optimized"),
    # artifacts (artifacts/units.parquet, repair.parquet, repair.json)
    "score": _ARTIFACT,
    "fsd": _ARTIFACT,
    "realism": _ARTIFACT,
    "ablation_gain": _ARTIFACT,
    "ablation_gain_even": _ARTIFACT,
    "ablation_gain_odd": _ARTIFACT,
    "before": _ARTIFACT,
    "after": _ARTIFACT,
    "baseline": _ARTIFACT,
    "rank": Rule("rank", basis=("score", "alpha")),
    "repaired": Rule("flag", basis=("ablation_gain", "ablation_gain_even", "ablation_gain_odd")),
    "improved": Rule("flag", basis=("before", "after")),
    "passed": Rule("flag", basis=("before", "after")),
    "top_samples": _IDS,
    "candidates": _IDS,
    "confirmed": _IDS,
    "worst_samples": _IDS,
}

# (row type, column) -> rule, where a column of a table with a row type
# (reportdir.schema.ROW_TYPES) is compared other than by its name; checked against the row
# types' fields at import, so a renamed column cannot leave a rule behind.
_BY_FIELD: dict[tuple[type[Any], str], Rule] = {
    # an int here: the layer's interpretable units of the concept, compared with the layer
    (ConceptIndexRow, "units"): Rule("derived"),
    # a list here: the units ablated
    (AceRow, "units"): _IDS,
    (OptimizedRow, "alpha"): Rule("unstable"),
    (OptimizedRow, "rank"): Rule("unstable"),
    # the inserted set: chosen among sets ranked by alpha (noise can pick another), so its
    # units and method are notes and its effect compares with optimized_atol
    (ConceptIndexRow, "insert_method"): Rule("unstable"),
    (ConceptIndexRow, "insert_units"): Rule("unstable"),
    (ConceptIndexRow, "insert_added"): Rule("number", "optimized"),
    (ConceptIndexRow, "insert_success"): Rule("number", "optimized"),
    # the unit's label, copied from the layer's units.parquet (compared there)
    (ArtifactUnitRow, "concept"): Rule("derived"),
    # the site's example samples per (unit, band, slot): a sample chosen by its peak
    (ExampleRow, "sample"): Rule("rank", basis=("peak",)),
    (ExampleRow, "peak"): Rule("number", "activation"),
    # each sample's concepts by area, and its units by ratio (rows aligned by rank)
    (SampleRow, "concepts"): Rule("rank", basis=("areas",)),
    (SampleRow, "areas"): _ACE,
    (SampleUnitRow, "unit"): Rule("rank", basis=("ratio",)),
    (SampleUnitRow, "peak"): Rule("rank", basis=("ratio",)),
    (SampleUnitRow, "ratio"): Rule("number", "activation"),
}

# (path pattern, column) -> rule, for the files without a row type (JSON, artifacts tables).
_BY_PATH: dict[tuple[str, str], Rule] = {
    ("artifacts/repair.json", "units"): _IDS,
    # ace.json: the ACE curves of each method, aligned with n
    ("concepts/*/ace.json", "iou"): _ACE,
    ("concepts/*/ace.json", "random"): _ACE,
    ("concepts/*/ace.json", "random_std"): _ACE,
    ("concepts/*/ace.json", "optimized"): Rule("number", "optimized"),
    ("concepts/*/ace.json", "all"): _ACE,
}


for (_row_type, _column), _rule in _BY_FIELD.items():
    column_names(_row_type, _column, *_rule.basis)


def rule_for(rel: str, column: str, method: object = None) -> Rule | None:
    """The rule of ``column`` in the report file ``rel``; ``None``: the generic comparison.

    Usage::

        rule_for("concepts/tree/ace.parquet", "units")               # Rule("ids")
        rule_for("concepts/tree/ace.parquet", "ace", "optimized")    # Rule("number", "optimized")

    ``method`` is the row's ``method`` (ace.parquet): the ``optimized`` rows' unit sets are
    unstable and their effects compare with ``optimized_atol``.
    """
    row_type = row_type_at(rel)
    rule = _BY_FIELD.get((row_type, column)) if row_type is not None else None
    for (pattern, name), candidate in _BY_PATH.items():
        if rule is None and name == column and fnmatch.fnmatchcase(rel, pattern):
            rule = candidate
    if rule is None and rel.startswith(("concepts/", "artifacts/")):
        rule = _BY_NAME.get(column)
    if method == "optimized" and rule is not None:
        if rule.kind == "ids":
            return Rule("unstable")
        if rule.kind == "number" and rule.group in ("ace", "share"):
            return Rule("number", "optimized")
    return rule


def tolerance(group: str, tol: Tolerances) -> tuple[float, float, str]:
    """``(rtol, atol, text)`` of a tolerance group.

    Usage::

        tolerance("ace", Tolerances())   # (0.0, 0.002, "±0.002")
    """
    if group == "ace":
        return 0.0, tol.ace_atol, f"±{tol.ace_atol:g}"
    if group == "share":
        return 0.0, tol.share_atol, f"±{tol.share_atol:g}"
    if group == "artifact":
        return (
            tol.artifact_rtol,
            tol.artifact_atol,
            f"±{tol.artifact_atol:g} or rtol {tol.artifact_rtol:g}",
        )
    if group == "activation":
        return (
            tol.activation_rtol,
            tol.threshold_atol,
            f"rtol {tol.activation_rtol:g}",
        )
    if group == "optimized":
        return 0.0, tol.optimized_atol, f"±{tol.optimized_atol:g}"
    if group == "iou":
        return 0.0, tol.iou_atol, f"±{tol.iou_atol:g}"
    return tol.table_rtol, tol.table_atol, f"±{tol.table_atol:g} or rtol {tol.table_rtol:g}"

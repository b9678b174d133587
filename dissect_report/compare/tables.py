"""Compare the tables of two reports column by column, each column with its own tolerance.

Usage::

    from dissect_report.compare.tables import compare_units
    result = compare_units(golden_units, new_units, Tolerances(), path)
    result.label_changes   # units whose best concept changed

``units.parquet`` is compared per unit (label, IoU, IQR, threshold, interpretable flag,
top-k samples and activations), ``iou.parquet`` per (unit, concept), and any other table
(interventions, artifacts) row by row with the generic ``table_atol``/``table_rtol``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

from dissect_report.compare.model import (
    BoundaryNote,
    LabelChange,
    MatrixSummary,
    TableComparison,
    Tolerances,
    ValueChange,
)
from dissect_report.compare.rules import rule_for, tolerance
from dissect_report.errors import ReportError
from dissect_report.reportdir.schema import UnitRow, column_names

# Stored examples per table; counts always cover everything.
MAX_STORED = 50

# Derived from iou.parquet (compared there); comparing them again would double-count.
_DERIVED_COLUMNS = frozenset(column_names(UnitRow, "unit", "concept", "top_concepts", "top_ious"))


def _close(golden: Any, new: Any, rtol: float, atol: float) -> bool:
    """Equal within ``atol + rtol * |golden|`` for numbers (NaN equals NaN), exact otherwise."""
    if isinstance(golden, bool) or isinstance(new, bool):
        return golden == new
    if isinstance(golden, Real) and isinstance(new, Real):
        g, n = float(golden), float(new)
        if math.isnan(g) or math.isnan(n):
            return math.isnan(g) and math.isnan(n)
        if math.isinf(g) or math.isinf(n):
            return g == n
        return abs(n - g) <= atol + rtol * abs(g)
    if isinstance(golden, list | tuple) and isinstance(new, list | tuple):
        return len(golden) == len(new) and all(
            _close(g, n, rtol, atol) for g, n in zip(golden, new, strict=True)
        )
    return bool(golden == new)


def _index(table: dict[str, list[Any]], path: Path) -> dict[int, int]:
    index: dict[int, int] = {}
    for row, unit in enumerate(table["unit"]):
        if unit is None or unit in index:
            raise ReportError(f"table {str(path)!r} has a missing or repeated unit {unit!r}")
        index[int(unit)] = row
    return index


@dataclass(frozen=True)
class UnitsResult:
    units: int
    units_missing: tuple[int, ...]
    units_added: tuple[int, ...]
    label_changes: tuple[LabelChange, ...]
    value_changes: tuple[ValueChange, ...]
    golden_interpretable: int
    new_interpretable: int
    notes: tuple[BoundaryNote, ...] = ()


def _overlap(golden: list[Any] | None, new: list[Any] | None) -> float:
    if not golden:
        return 1.0
    return len(set(golden) & set(new or ())) / len(set(golden))


# Two IoUs this close are a tie (both tables store float64 of the same computation).
_TIE = 1e-12

# (unit, concept) -> IoU, from iou.parquet
IouLookup = dict[tuple[int, str], float]


def iou_lookup(table: dict[str, list[Any]]) -> IouLookup:
    """``(unit, concept) -> iou`` of a long ``iou.parquet`` table (``None`` reads as NaN).

    Usage::

        lookup = iou_lookup(read_table(layer_dir / "iou.parquet"))
        lookup[3, "tree"]   # 0.21
    """
    return {
        (int(u), str(c)): math.nan if v is None else float(v)
        for u, c, v in zip(table["unit"], table["concept"], table["iou"], strict=True)
    }


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _label_margin(
    unit: int, g_concept: str, n_concept: str, g_iou: IouLookup, n_iou: IouLookup
) -> float:
    """How far the margin between the two best concepts moved (``inf`` if one is unknown).

    Golden ranks ``g_concept`` first by ``iou_g(g) - iou_g(n) >= 0``; new ranks ``n_concept``
    first by ``iou_n(n) - iou_n(g) >= 0``. Their sum is the distance the margin travelled,
    and equals the two IoU changes added up: both IoUs within ``atol / 2`` keep it within
    ``atol``, a relabelled unit moves it by about its IoU.
    """
    try:
        g_margin = g_iou[unit, g_concept] - g_iou[unit, n_concept]
        n_margin = n_iou[unit, n_concept] - n_iou[unit, g_concept]
    except KeyError:
        return math.inf
    if not (g_margin >= -_TIE and n_margin >= -_TIE):  # NaN, or a label its IoUs contradict
        return math.inf
    return g_margin + n_margin


def _unit_rules(tol: Tolerances) -> dict[str, tuple[float, float, str]]:
    """Column -> (rtol, atol, how the tolerance reads in the summary) of units.parquet."""
    return {
        "iou": (0.0, tol.iou_atol, f"±{tol.iou_atol:g}"),
        "iqr": (0.0, tol.iqr_atol, f"±{tol.iqr_atol:g}"),
        "threshold": (tol.threshold_rtol, tol.threshold_atol, f"rtol {tol.threshold_rtol:g}"),
        "top_activations": (
            tol.activation_rtol,
            tol.threshold_atol,
            f"rtol {tol.activation_rtol:g}",
        ),
    }


def _label_note(change: LabelChange, tol: Tolerances) -> BoundaryNote:
    """A best concept that changed while the margin between the two stayed in tolerance."""
    g, n = change.golden, change.new
    return BoundaryNote(
        "concept",
        change.unit,
        g,
        n,
        f"margin between {g} and {n} moved {change.margin_moved:.2g} <= {tol.iou_atol:g}; "
        f"best iou {change.golden_iou:.6g} -> {change.new_iou:.6g}",
    )


def compare_units(
    golden: dict[str, list[Any]],
    new: dict[str, list[Any]],
    tol: Tolerances,
    golden_path: Path,
    new_path: Path,
    golden_iou: IouLookup | None = None,
    new_iou: IouLookup | None = None,
    floors: tuple[float | None, float | None] = (None, None),
) -> UnitsResult:
    """Per-unit comparison of two ``units.parquet`` tables.

    Usage::

        result = compare_units(g, n, Tolerances(), g_path, n_path, iou_lookup(g_iou),
                               iou_lookup(n_iou), floors=(0.04, 0.04))
        result.label_changes, result.value_changes, result.notes

    Derived facts compare through the numbers behind them. A best concept that changed
    counts only when the margin between the two concepts (from ``golden_iou`` /
    ``new_iou``, the iou tables) moved by more than ``tol.iou_atol``; an interpretable flag
    that flipped only when the unit's distance to the IoU floor (``floors``: golden, new)
    moved by more than ``tol.iou_atol``. Otherwise the flip is a :class:`BoundaryNote`.
    """
    gi, ni = _index(golden, golden_path), _index(new, new_path)
    common = sorted(gi.keys() & ni.keys())
    rules = _unit_rules(tol)
    generic = (tol.table_rtol, tol.table_atol, f"±{tol.table_atol:g} or rtol {tol.table_rtol:g}")
    labels: list[LabelChange] = []
    values: list[ValueChange] = []
    notes: list[BoundaryNote] = []
    for column in sorted(golden.keys() - new.keys() - _DERIVED_COLUMNS):
        values.append(ValueChange(column, None, "present", "missing", "column"))
    columns = sorted((golden.keys() & new.keys()) - _DERIVED_COLUMNS)
    for unit in common:
        g_row, n_row = gi[unit], ni[unit]
        g_concept, n_concept = str(golden["concept"][g_row]), str(new["concept"][n_row])
        g_best, n_best = _num(golden["iou"][g_row]), _num(new["iou"][n_row])
        if g_concept != n_concept:
            moved = _label_margin(unit, g_concept, n_concept, golden_iou or {}, new_iou or {})
            change = LabelChange(unit, g_concept, n_concept, g_best, n_best, moved)
            if moved > tol.iou_atol:
                labels.append(change)
            else:
                notes.append(_label_note(change, tol))
        for column in columns:
            g, n = golden[column][g_row], new[column][n_row]
            if column == "top_samples":
                share = _overlap(g, n)
                if share < tol.top_overlap:
                    text = f"overlap {share:.2f} < {tol.top_overlap:g}"
                    values.append(ValueChange(column, unit, g, n, text))
                continue
            if column == "interpretable":
                if bool(g) != bool(n):
                    note = _flag_flip(unit, bool(g), bool(n), (g_best, n_best), floors, tol)
                    if note is None:
                        values.append(ValueChange(column, unit, g, n, f"±{tol.iou_atol:g}"))
                    else:
                        notes.append(note)
                continue
            rtol, atol, text = rules.get(column, generic)
            if not _close(g, n, rtol, atol):
                values.append(ValueChange(column, unit, g, n, text))
    return UnitsResult(
        units=len(gi),
        units_missing=tuple(sorted(gi.keys() - ni.keys())),
        units_added=tuple(sorted(ni.keys() - gi.keys())),
        label_changes=tuple(labels),
        value_changes=tuple(values),
        golden_interpretable=sum(bool(x) for x in golden["interpretable"]),
        new_interpretable=sum(bool(x) for x in new["interpretable"]),
        notes=tuple(notes),
    )


def _flag_flip(
    unit: int,
    golden: bool,
    new: bool,
    ious: tuple[float, float],
    floors: tuple[float | None, float | None],
    tol: Tolerances,
) -> BoundaryNote | None:
    """A note when the interpretable flag flipped within tolerance, else ``None`` (a change).

    The flag is ``iou >= floor``; what it rests on is the distance ``iou - floor``. When that
    moved by at most ``iou_atol`` the flip is float noise at the boundary. Without a floor in
    a manifest the IoU alone is the number behind it.
    """
    g_floor = floors[0] if floors[0] is not None else 0.0
    n_floor = floors[1] if floors[1] is not None else g_floor
    if floors[0] is not None and (golden != (ious[0] >= g_floor) or new != (ious[1] >= n_floor)):
        return None  # a flag its own IoU contradicts is not noise
    moved = abs((ious[1] - n_floor) - (ious[0] - g_floor))
    if math.isnan(moved) or moved > tol.iou_atol:
        return None
    floor = f"floor {g_floor:g}" if g_floor == n_floor else f"floor {g_floor:g} -> {n_floor:g}"
    return BoundaryNote(
        "interpretable",
        unit,
        golden,
        new,
        f"iou {ious[0]:.6g} -> {ious[1]:.6g} at {floor}, moved {moved:.2g} <= {tol.iou_atol:g}",
    )


def _matrix(table: dict[str, list[Any]], path: Path) -> dict[tuple[int, str], int]:
    index: dict[tuple[int, str], int] = {}
    for row, (unit, concept) in enumerate(zip(table["unit"], table["concept"], strict=True)):
        key = (int(unit), str(concept))
        if key in index:
            raise ReportError(f"table {str(path)!r} repeats unit {unit} / concept {concept!r}")
        index[key] = row
    return index


def compare_iou(
    golden: dict[str, list[Any]],
    new: dict[str, list[Any]],
    tol: Tolerances,
    golden_path: Path,
    new_path: Path,
    units: set[int],
    concepts: set[str],
) -> MatrixSummary:
    """Compare the long unit x concept tables on the units and concepts both reports have."""
    gi, ni = _matrix(golden, golden_path), _matrix(new, new_path)
    keys = sorted(k for k in gi if k[0] in units and k[1] in concepts)
    changes: list[tuple[float, ValueChange]] = []
    outside, max_delta = 0, 0.0
    for key in keys:
        g_row = gi[key]
        if key not in ni:
            outside += 1
            changes.append(
                (math.inf, ValueChange("iou", key[0], golden["iou"][g_row], None, "row", key[1]))
            )
            continue
        n_row = ni[key]
        bad = False
        for column, atol in (("iou", tol.iou_atol), ("iqr", tol.iqr_atol)):
            g, n = golden[column][g_row], new[column][n_row]
            if column == "iou" and g is not None and n is not None:
                delta = abs(float(n) - float(g))
                if not math.isnan(delta):
                    max_delta = max(max_delta, delta)
            if not _close(g, n, 0.0, atol):
                bad = True
                delta = abs(float(n) - float(g)) if g is not None and n is not None else math.inf
                changes.append(
                    (
                        delta if not math.isnan(delta) else math.inf,
                        ValueChange(column, key[0], g, n, f"±{atol:g}", key[1]),
                    )
                )
        outside += bad
    changes.sort(key=lambda item: (-item[0], item[1].unit or 0, item[1].concept or ""))
    return MatrixSummary(
        compared=len(keys),
        outside=outside,
        max_abs_delta=max_delta,
        worst=tuple(change for _, change in changes[:MAX_STORED]),
    )


# Columns that identify a row, tried in order; the first unique in both tables aligns them.
_ROW_KEYS = (
    ("unit",),
    ("unit", "concept"),
    ("concept",),
    ("method", "n"),
    ("method", "context"),
    ("context",),
    ("method", "sample", "row", "col"),
    ("sample", "row", "col"),
    ("metric",),
    ("unit", "band", "slot"),
    ("sample", "layer", "rank"),
)


def row_key(golden: dict[str, list[Any]], new: dict[str, list[Any]]) -> tuple[str, ...] | None:
    """The columns that identify a row in both tables (``("method", "n")``), or ``None``.

    Usage::

        row_key({"unit": [0, 1], "x": [1, 2]}, {"unit": [1, 0], "x": [2, 1]})   # ("unit",)
    """
    for key in _ROW_KEYS:
        if all(k in golden for k in key):
            g = list(zip(*(golden[k] for k in key), strict=True))
            n = list(zip(*(new[k] for k in key), strict=True))
            if len(set(g)) == len(g) and len(set(n)) == len(n):
                return key
    return None


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple) and len(value) > 8:
        return "[" + ", ".join(map(_short, value[:8])) + ", ...]"
    return str(value)


# Columns that name what sits at a rank (rows keyed by rank): the same value behind another
# id is a renamed id (two units swapped), not a flip near a boundary.
_RANKED_IDS = frozenset({"unit", "sample", "concepts"})

# A verdict on one value: None (equal within tolerance), ("note", why) or ("change", tolerance).
Verdict = tuple[str, str] | None


def judge(
    rel: str,
    column: str,
    golden: Any,
    new: Any,
    tol: Tolerances,
    g_row: dict[str, Any] | None = None,
    n_row: dict[str, Any] | None = None,
) -> Verdict:
    """Judge one value of a table outside ``layers/`` by its column's rule (compare.rules).

    Usage::

        judge("concepts/tree/ace.parquet", "ace", 0.100, 0.101, Tolerances())  # None
        judge("artifacts/units.parquet", "rank", 2, 3, tol, g_row, n_row)
        # ("note", "score 1.5001 -> 1.5, within tolerance") or ("change", "score outside ...")

    ``g_row`` / ``n_row`` are the whole rows, for a rank or flag to be judged through the
    values it is derived from.
    """
    rule = rule_for(rel, column, (g_row or {}).get("method"))
    if rule is None or rule.kind == "number":
        rtol, atol, text = tolerance(rule.group if rule else "table", tol)
        return None if _close(golden, new, rtol, atol) else ("change", text)
    if rule.kind == "derived" or _close(golden, new, 0.0, 0.0):
        return None
    if rule.kind == "unstable":
        return ("note", "not pinned: float noise alone changes it (see compare.rules)")
    if rule.kind == "ids" and isinstance(golden, list | tuple) and isinstance(new, list | tuple):
        share = _overlap(list(golden), list(new))
        if share < tol.top_overlap:
            return ("change", f"overlap {share:.2f} < {tol.top_overlap:g}")
        return ("note", f"{share:.0%} of the ids kept (>= {tol.top_overlap:g})")
    if rule.kind in ("rank", "flag") and g_row is not None and n_row is not None:
        basis = [b for b in rule.basis if b in g_row and b in n_row]
        moved = [b for b in basis if judge(rel, b, g_row[b], n_row[b], tol) is not None]
        exact = basis and all(_close(g_row[b], n_row[b], 0.0, 0.0) for b in basis)
        if exact and column in _RANKED_IDS:
            # not near a boundary: the very same value now belongs to another id
            same = "; ".join(f"{b} {_short(g_row[b])}" for b in basis)
            return ("change", f"another {column} at the same {same}: ids renamed")
        if basis and not moved:
            numbers = "; ".join(f"{b} {_short(g_row[b])} -> {_short(n_row[b])}" for b in basis)
            return ("note", f"{numbers}, within tolerance")
        if moved:
            return ("change", f"{', '.join(moved)} outside tolerance")
    return ("change", "exact")


def _where(key: tuple[str, ...] | None, table: dict[str, list[Any]], row: int) -> str | None:
    if key is None or key == ("unit",):
        return None
    return " ".join(f"{k}={table[k][row]}" if len(key) > 1 else str(table[k][row]) for k in key)


def compare_generic(
    golden: dict[str, list[Any]], new: dict[str, list[Any]], tol: Tolerances, rel: str
) -> TableComparison:
    """Compare any other table: rows aligned by a key column (unit, concept...) or by order.

    Each column by its rule (:mod:`dissect_report.compare.rules`): the interventions' and
    artifacts' numbers with their own tolerances, id lists by overlap, ranks and flags
    through the numbers behind them (a flip within tolerance is a note, not a failure).
    """
    if set(golden) != set(new):
        missing = sorted(set(golden) - set(new))
        added = sorted(set(new) - set(golden))
        return TableComparison(rel, f"columns differ: missing {missing}, added {added}")
    rows = len(next(iter(golden.values()), []))
    key = row_key(golden, new)
    if key is None:
        new_rows = len(next(iter(new.values()), []))
        if rows != new_rows:
            return TableComparison(rel, f"{rows} rows in golden, {new_rows} in new")
        pairs = [(i, i) for i in range(rows)]
    else:
        g_keys = list(zip(*(golden[k] for k in key), strict=True))
        n_index = {k: i for i, k in enumerate(zip(*(new[k] for k in key), strict=True))}
        if set(g_keys) != set(n_index):
            lost = sorted(set(g_keys) - set(n_index), key=str)[:5]
            extra = sorted(set(n_index) - set(g_keys), key=str)[:5]
            return TableComparison(
                rel, f"rows differ by {', '.join(key)}: missing {lost}, added {extra}"
            )
        pairs = [(i, n_index[k]) for i, k in enumerate(g_keys)]
    changes: list[ValueChange] = []
    notes: list[BoundaryNote] = []
    outside = 0
    for g_index, n_index_ in pairs:
        g_row = {c: golden[c][g_index] for c in golden}
        n_row = {c: new[c][n_index_] for c in new}
        unit = g_row.get("unit")
        unit = unit if isinstance(unit, int) and not isinstance(unit, bool) else None
        for column in sorted(golden):
            g, n = g_row[column], n_row[column]
            verdict = judge(rel, column, g, n, tol, g_row, n_row)
            if verdict is None:
                continue
            where = _where(key, golden, g_index)
            if verdict[0] == "note":
                if len(notes) < MAX_STORED:
                    notes.append(BoundaryNote(column, unit, g, n, verdict[1], where))
                continue
            outside += 1
            if len(changes) < MAX_STORED:
                changes.append(ValueChange(column, unit, g, n, verdict[1], where, row=g_index))
    return TableComparison(rel, None, tuple(changes), outside, tuple(notes))


def _json_diffs(
    g: Any,
    n: Any,
    where: str,
    tol: Tolerances,
    out: list[ValueChange],
    notes: list[BoundaryNote],
    rel: str = "",
) -> int:
    """Count values of two JSON documents that differ, each by the rule of its key name."""
    if isinstance(g, dict) and isinstance(n, dict):
        return sum(
            _json_diffs(
                g.get(k), n.get(k), f"{where}.{k}" if where else str(k), tol, out, notes, rel
            )
            for k in sorted(g.keys() | n.keys(), key=str)
        )
    name = where.rsplit(".", 1)[-1].split("[", 1)[0]
    scalars = isinstance(g, list) and isinstance(n, list)
    scalars = scalars and all(not isinstance(x, dict | list) for x in g + n)
    if isinstance(g, list) and isinstance(n, list) and len(g) == len(n) and not scalars:
        return sum(
            _json_diffs(a, b, f"{where}[{i}]", tol, out, notes, rel)
            for i, (a, b) in enumerate(zip(g, n, strict=True))
        )
    verdict = judge(rel, name, g, n, tol)  # a scalar, or a list of scalars as one value
    if verdict is None:
        return 0
    if verdict[0] == "note":
        if len(notes) < MAX_STORED:
            notes.append(BoundaryNote(where or "(document)", None, g, n, verdict[1]))
        return 0
    if len(out) < MAX_STORED:
        out.append(ValueChange(where or "(document)", None, g, n, "json"))
    return 1


def compare_json(golden: Any, new: Any, tol: Tolerances, rel: str) -> TableComparison:
    """Compare two JSON documents (``ace.json``, ``repair.json``) value by value."""
    changes: list[ValueChange] = []
    notes: list[BoundaryNote] = []
    outside = _json_diffs(golden, new, "", tol, changes, notes, rel)
    return TableComparison(rel, None, tuple(changes), outside, tuple(notes))

"""Golden-output regression testing: compare a report with a golden report.

Usage::

    from dissect_report.compare import Tolerances, compare_reports, write_diffs
    comparison = compare_reports("tests/golden/builtin", "report", Tolerances(iou_atol=0.05))
    print(comparison.summary())        # probable causes (changed seed, model hash...) first
    write_diffs(comparison)            # report/compare/diff.json and diff.md
    raise SystemExit(0 if comparison.passed else 1)

Compared: structure (layers, units, concepts, files), ``units.parquet`` and ``iou.parquet``
with per-column tolerances, unit labels (which units changed concept), images with a
tolerance, other tables generically, and manifest settings (reported as probable causes).

``compare_findings(a, b, ...)`` compares what two or more reports found instead (units per
concept, gains and losses, matched units): :mod:`dissect_report.compare.findings`.
"""

from __future__ import annotations

from dissect_report.compare.core import compare_reports
from dissect_report.compare.findings import FindingsComparison, compare_findings
from dissect_report.compare.model import (
    Comparison,
    ImageChange,
    LabelChange,
    LayerComparison,
    MatrixSummary,
    SettingChange,
    TableComparison,
    Tolerances,
    ValueChange,
)
from dissect_report.compare.output import write_diffs

__all__ = [
    "Comparison",
    "FindingsComparison",
    "ImageChange",
    "LabelChange",
    "LayerComparison",
    "MatrixSummary",
    "SettingChange",
    "TableComparison",
    "Tolerances",
    "ValueChange",
    "compare_findings",
    "compare_reports",
    "write_diffs",
]

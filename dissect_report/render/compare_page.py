"""The Compare section: a report against a golden report (``render --baseline``).

Usage::

    from dissect_report.render.compare_page import write_compare
    nav = write_compare(Path("report"), Path("tests/golden/builtin"), docs_dir)
    # nav == ["compare/index.md", "compare/layers/layer3.md", ...]

The comparison and its pages come from :mod:`dissect_report.compare` and
:mod:`dissect_report.compare_page`; this adapter only wires them into the render.
"""

from __future__ import annotations

from pathlib import Path

from dissect_report.errors import ReportError


def write_compare(report: Path, baseline: Path, docs_dir: Path) -> list[str]:
    """Compare ``report`` with ``baseline``; write the pages into ``docs_dir``; return the nav."""
    try:
        from dissect_report.compare import compare_reports
        from dissect_report.compare_page import write_compare_page
    except ImportError as exc:
        raise ReportError(
            f"--baseline {str(baseline)!r} needs dissect_report.compare, which this "
            f"installation lacks ({exc})"
        ) from exc
    comparison = compare_reports(baseline, report)
    return write_compare_page(comparison, docs_dir)

"""The Compare page: a report against a golden report, via :mod:`dissect_report.compare`.

Usage::

    from dissect_report.render.compare_page import compare_view
    page = compare_view(Path("report"), Path("tests/golden/builtin"))   # a context.Page
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from dissect_report.errors import ReportError
from dissect_report.render.context import Page


@dataclass(frozen=True)
class CompareView:
    verdict: str
    markdown: Markup


def compare_view(report: Path, baseline: Path) -> Page:
    """Compare ``report`` with ``baseline`` and return the page that shows the diff."""
    try:
        from dissect_report.compare import compare_reports
    except ImportError as exc:
        raise ReportError(
            f"--baseline {str(baseline)!r} needs dissect_report.compare, which this "
            f"installation lacks ({exc})"
        ) from exc
    comparison = compare_reports(baseline, report)
    verdict = "pass" if comparison.passed else f"{comparison.failures} differences"
    # to_markdown() escapes every model-supplied string (its contract), so it is safe as is.
    return Page(
        "compare/index.md",
        "compare.md.j2",
        CompareView(verdict=verdict, markdown=Markup(comparison.to_markdown())),
    )

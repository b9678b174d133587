"""Write the JSON and Markdown diffs of a comparison, atomically.

Usage::

    from dissect_report.compare import compare_reports, write_diffs
    comparison = compare_reports("golden", "report")
    json_path, md_path = write_diffs(comparison, "report/compare")

By default the diffs go to ``NEW/compare/diff.json`` and ``NEW/compare/diff.md``: next to
the report they describe, in a directory that ``compare`` itself never compares.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dissect_report.compare.model import Comparison
from dissect_report.errors import ReportError
from dissect_report.reportdir.atomic import write_text

DIFF_DIR = "compare"


def write_diffs(
    comparison: Comparison,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    json_path: str | os.PathLike[str] | None = None,
    markdown_path: str | os.PathLike[str] | None = None,
) -> tuple[Path, Path]:
    """Write ``diff.json`` and ``diff.md`` (default dir ``NEW/compare``); returns their paths.

    ``json_path`` / ``markdown_path`` override the single file's location.
    """
    base = Path(out_dir) if out_dir is not None else comparison.new / DIFF_DIR
    jpath = Path(json_path) if json_path is not None else base / "diff.json"
    mpath = Path(markdown_path) if markdown_path is not None else base / "diff.md"
    try:
        write_text(jpath, json.dumps(comparison.to_dict(), indent=2, allow_nan=False) + "\n")
        write_text(mpath, comparison.to_markdown())
    except OSError as exc:
        raise ReportError(f"cannot write the diff: {exc}") from None
    return jpath, mpath

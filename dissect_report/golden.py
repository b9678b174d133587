"""Write a golden report that a person can review in a pull request.

Usage::

    from dissect_report.golden import write_golden
    write_golden(Path("report"), Path("tests/golden/golden/builtin"), images="strips",
                 why="updated: 12 difference(s) ...")

What the pytest plugin's ``--update-golden`` writes: the report's tables, manifest and unit
strips, plus two text files that carry everything a reviewer needs:

- ``FINDINGS.md``: the findings as small, rounded, sorted text tables (units per concept,
  each unit's label and IoU to 3 decimals, ACE, the artifact verdict), so a pull request
  shows the scientific change line by line; binary files (PNG, Parquet) hold nothing that
  this text and the rounded CSVs lack for a review.
- ``UPDATE.md``: why the golden was last written (the comparison summary that justified the
  update, or "created").

The manifest is made portable (no absolute path: ``render.portable``) and loses what churns on
every run (``created``, ``timings``); CSVs round floats to 4 significant digits (``units.csv`` changes
only where a value moved). Comparisons skip the review files (:data:`REVIEW_FILES`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

ImagePolicy = Literal["strips", "all", "none"]
FINDINGS = "FINDINGS.md"
UPDATE = "UPDATE.md"
REVIEW_FILES = frozenset({FINDINGS, UPDATE})
# Manifest keys that change on every run without a finding changing.
_CHURN = ("created", "timings")
CSV_DIGITS = 4  # significant digits of a float in a golden's CSV


def keep(rel: str, images: ImagePolicy) -> bool:
    """Whether a report file belongs in a golden report."""
    parts = rel.split("/")
    if parts[0] in ("site", "compare") or rel.endswith(".npz") or rel in REVIEW_FILES:
        return False
    if rel.lower().endswith((".png", ".jpg", ".jpeg", ".webp")):
        if images == "all":
            return True
        return images == "strips" and rel.endswith("-strip.png")
    return True


def golden_manifest(raw: dict[str, Any], root: Path) -> dict[str, Any]:
    """The manifest as a golden keeps it: portable paths, no timestamp, no timings."""
    from dissect_report.render.portable import portable_manifest

    out = portable_manifest(raw, root)
    for key in _CHURN:
        out.pop(key, None)
    return out


def rounded_csv(parquet: Path) -> bytes:
    """The CSV of a table with floats rounded to :data:`CSV_DIGITS` digits (lists too)."""
    import pyarrow as pa

    from dissect_report.reportdir.atomic import csv_bytes
    from dissect_report.reportdir.read import read_table

    table = read_table(parquet)
    columns = {}
    for name in table.column_names:
        values = table[name].to_pylist()
        columns[name] = pa.array([_round(v) for v in values], table[name].type)
    return csv_bytes(pa.table(columns))


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.{CSV_DIGITS}g}") if math.isfinite(value) else value
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


@contextmanager
def _staged_dir(dest: Path) -> Iterator[Path]:
    """A temp folder beside ``dest`` that replaces it on success and is removed on failure."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        yield tmp
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_golden(
    source: Path, dest: Path, images: ImagePolicy = "strips", why: str | None = None
) -> None:
    """Copy report ``source`` to golden ``dest`` (temp dir, then rename), with the review files.

    ``why``: the text of ``UPDATE.md`` (what justified writing this golden).
    """
    from dissect_report.compare.findings_text import findings_markdown
    from dissect_report.reportdir.read import list_files, read_manifest_dict
    from dissect_report.reportdir.report import open_report

    with _staged_dir(dest) as tmp:
        files = sorted(list_files(source))
        for rel in files:
            if rel == "manifest.json" or not keep(rel, images):
                continue
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            twin = source / rel[: -len(".csv")] if rel.endswith(".csv") else None
            if twin is not None and twin.with_suffix(".parquet").is_file():
                (tmp / rel).write_bytes(rounded_csv(twin.with_suffix(".parquet")))
            else:
                shutil.copyfile(source / rel, tmp / rel)
        (tmp / FINDINGS).write_text(findings_markdown(open_report(source)), encoding="utf-8")
        (tmp / UPDATE).write_text((why or "created").rstrip() + "\n", encoding="utf-8")
        manifest = golden_manifest(read_manifest_dict(source), source)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def copy_report(source: Path, dest: Path, images: ImagePolicy) -> None:
    """Copy a report as it is (minus what ``images`` leaves out): the ``.obtained`` copy."""
    from dissect_report.reportdir.read import list_files

    with _staged_dir(dest) as tmp:
        for rel in sorted(list_files(source)):
            if rel != "manifest.json" and keep(rel, images):
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / rel, tmp / rel)
        shutil.copyfile(source / "manifest.json", tmp / "manifest.json")  # last, as in a report


def review_summary(text: str, golden: Path, new: Path) -> str:
    """A comparison summary with the two reports' paths replaced by ``golden`` and ``new``."""
    for path, name in ((new, "new"), (golden, "golden")):
        for form in {str(path), str(path.resolve())}:
            text = text.replace(form, name)
    return text

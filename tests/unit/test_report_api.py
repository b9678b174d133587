"""dr.open_report: a report's tables as pandas DataFrames (and the README's example runs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import dissect_report as dr
from dissect_report.errors import ReportError
from dissect_report.reportdir.report import Report
from dissect_report.testing import SyntheticSpec, write_synthetic_report

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = SyntheticSpec(
        layers={"layer3": 50, "layer4": 6}, interventions=True, artifacts=True, images=True
    )
    return write_synthetic_report(tmp_path_factory.mktemp("api") / "report", spec)


def test_units_is_a_typed_frame_sorted_by_unit(report_dir: Path) -> None:
    report = dr.open_report(report_dir)
    assert isinstance(report, Report)
    assert report.layers == ["layer3", "layer4"] and report.concepts[0] == "sky"
    units = report.units("layer3")
    assert isinstance(units, pd.DataFrame) and list(units["unit"]) == list(range(50))
    assert str(units["unit"].dtype) == "int32" and str(units["iou"].dtype) == "float64"
    assert units["interpretable"].dtype == bool and isinstance(units["top_samples"][0], list)
    assert not units["interpretable"].all() and units["interpretable"].any()


def test_iou_ace_interventions_artifacts(report_dir: Path) -> None:
    report = dr.open_report(report_dir)
    iou = report.iou("layer4")
    assert len(iou) == 6 * len(report.concepts)
    wide = iou.pivot(index="unit", columns="concept", values="iou")
    assert wide.shape == (6, len(report.concepts))
    concept = report.interventions()["concept"][0]
    assert set(report.ace(concept)["method"]) == {"iou"}
    art = report.artifacts()
    assert list(art["rank"]) == sorted(art["rank"]) and "repaired" in art


def test_unit_gives_row_images_and_top_samples(report_dir: Path) -> None:
    unit = dr.open_report(report_dir).unit("layer3", 4)
    assert unit.unit == 4 and unit.row["unit"] == 4 and not unit.row["interpretable"]
    assert unit.image is not None and unit.image.is_file() and unit.strip is not None
    assert unit.top_samples == unit.row["top_samples"] and len(unit.top_samples) == 3


def test_errors_name_what_is_missing(report_dir: Path, tmp_path: Path) -> None:
    report = dr.open_report(report_dir)
    with pytest.raises(ReportError, match="layer 'layr3' is not in the report; layers: layer3"):
        report.units("layr3")
    with pytest.raises(ReportError, match="has no unit 99; it has 50 units"):
        report.unit("layer3", 99)
    with pytest.raises(ReportError, match="no ACE curve for concept 'window'"):
        report.ace("window")
    with pytest.raises(ReportError, match="no manifest.json"):
        dr.open_report(tmp_path)


def test_the_readme_example_runs(report_dir: Path, tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    line = re.search(r'^python -c "(import dissect_report as dr; .*)"$', text, re.M)
    assert line is not None and "open_report('report').units('layer3').head()" in line.group(1)
    env = {**os.environ, "PYTHONPATH": str(README.parent)}
    out = subprocess.run(
        [sys.executable, "-c", line.group(1)],
        cwd=report_dir.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "next_concept" in out and "[5 rows x 15 columns]" in out
    block = re.search(
        r"```python\n(import dissect_report as dr\n\nreport = dr.open_report.*?)```", text, re.S
    )
    assert block is not None
    code = block.group(1).replace('open_report("report")', f"open_report({str(report_dir)!r})")
    code = code.replace(
        'report.ace("tree")', f"report.ace({dr.open_report(report_dir).concepts[0]!r})"
    )
    exec(compile(code, "README", "exec"), {})  # noqa: S102 - the README's own example

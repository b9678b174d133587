"""Golden reports a person can review: FINDINGS.md diffs line by line, UPDATE.md says why, no
path or timestamp churns; stale provenance is refreshed, --regen-all rewrites, unused goldens
are listed; a bug in a helper module of the user's project is named as a source change."""

from __future__ import annotations

import difflib
import json
import re
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dissect_report.testing import edit_units, write_synthetic_report
from dissect_report.testing.edits import edit_manifest

pytest_plugins = ["pytester"]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_pytest_plugin import TEST_FILE, run  # noqa: E402

GOLDEN = "golden/test_golden_demo.test_demo"


def _label_line(findings: str, unit: int) -> str:
    (line,) = [x for x in findings.splitlines() if re.match(rf"^\s*{unit}\s{{2}}", x)][:1]
    return line


def test_an_intended_change_is_a_readable_text_diff(pytester: pytest.Pytester) -> None:
    report = write_synthetic_report(pytester.path / "reports" / "r", layers={"a": 4})
    pytester.makepyfile(test_golden_demo=TEST_FILE)
    run(pytester, "--update-golden").assert_outcomes(passed=1, warnings=1)
    golden = pytester.path / GOLDEN
    before = (golden / "FINDINGS.md").read_text()
    assert (golden / "UPDATE.md").read_text().startswith("created")
    # The golden holds no absolute path, no timestamp, no timings; its CSV is rounded.
    text = (golden / "manifest.json").read_text()
    manifest = json.loads(text)
    assert "created" not in manifest and "timings" not in manifest
    assert str(pytester.path) not in text and str(pytester.path) not in before
    csv = (golden / "layers" / "a" / "units.csv").read_text()
    floats = re.findall(r"\d+\.\d+(?:e-?\d+)?", csv)
    assert floats and all(len(f.split("e")[0].replace(".", "").lstrip("0")) <= 4 for f in floats)

    units = pq.read_table(report / "layers" / "a" / "units.parquet").to_pylist()
    old = units[2]["concept"]
    new = next(r["concept"] for r in units if r["concept"] != old)
    edit_units(report, "a", 2, concept=new, iou=0.5, interpretable=True)
    result = run(pytester)  # fails, and leaves the findings as text beside the golden's
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the findings as text: diff *FINDINGS.md *FINDINGS.md*"])
    obtained = (pytester.path / f"{GOLDEN}.obtained" / "FINDINGS.md").read_text()
    assert re.match(rf"^\s*2\s+{new}\s+0\.500\s+\*$", _label_line(obtained, 2))
    run(pytester, "--update-golden").assert_outcomes(passed=1, warnings=1)
    after = (golden / "FINDINGS.md").read_text()
    diff = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert f"-{_label_line(before, 2)}" in diff and f"+{_label_line(after, 2)}" in diff
    assert re.match(rf"^\s*2\s+{new}\s+0\.500\s+\*$", _label_line(after, 2))
    assert len(diff) <= 8  # the label line and the per-concept counts, nothing else
    why = (golden / "UPDATE.md").read_text()
    assert why.startswith("updated; the comparison with the golden before:")
    assert f"unit 2: {old}" in why and str(pytester.path) not in why


def test_stale_provenance_is_refreshed_and_regen_all_rewrites(pytester: pytest.Pytester) -> None:
    report = write_synthetic_report(pytester.path / "reports" / "r", layers={"a": 2})
    pytester.makepyfile(test_golden_demo=TEST_FILE)
    run(pytester, "--update-golden").assert_outcomes(passed=1, warnings=1)
    golden = pytester.path / GOLDEN
    table = (golden / "layers" / "a" / "units.parquet").read_bytes()
    edit_manifest(report, **{"environment.torch": "9.9", "model.source_sha256": "ab" * 32})
    result = run(pytester)  # without --update-golden: passes, the golden untouched
    result.assert_outcomes(passed=1)
    assert "environment" not in json.loads((golden / "manifest.json").read_text())
    result = run(pytester, "--update-golden")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["goldens: 1 refreshed", "  refreshed: *"])
    manifest = json.loads((golden / "manifest.json").read_text())
    assert manifest["environment"]["torch"] == "9.9"
    assert manifest["model"]["source_sha256"] == "ab" * 32
    assert (golden / "layers" / "a" / "units.parquet").read_bytes() == table  # tables stay
    assert "environment.torch" in (golden / "UPDATE.md").read_text()
    run(pytester, "--update-golden").stdout.fnmatch_lines(["goldens: 1 passed"])  # now fresh
    result = run(pytester, "--regen-all")
    result.assert_outcomes(passed=1, warnings=1)
    assert (golden / "UPDATE.md").read_text().startswith("regenerated with --regen-all")


def test_unused_goldens_are_listed_and_fail_on_request(pytester: pytest.Pytester) -> None:
    write_synthetic_report(pytester.path / "reports" / "r", layers={"a": 2})
    pytester.makepyfile(test_golden_demo=TEST_FILE)
    run(pytester, "--update-golden").assert_outcomes(passed=1, warnings=1)
    stale = pytester.path / "golden" / "test_golden_demo.test_renamed_away"
    stale.mkdir()
    result = run(pytester)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["1 unused golden(s), used by no test*", f"  unused: {stale}"])
    assert result.ret == 0
    result = run(pytester, "--fail-unused-goldens")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # With a test deselected, its golden is not called unused.
    result = run(pytester, "-k", "nothing_matches")
    assert "unused golden" not in result.stdout.str()


HELPED = """
import torch
from dissect_toys import Planted

from {pkg} import helpers


class Helped(Planted):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.render(helpers.shape(self.features(z)) * self.scale)


def make_generator() -> Helped:
    return Helped()
"""


def test_a_bug_in_a_helper_module_is_named_as_a_source_change(tmp_path: Path) -> None:
    from dissect_report.compare import compare_reports
    from dissect_report.config import DissectConfig
    from dissect_report.dissection.stage import dissect

    pkg = "helpedpkg"
    root = tmp_path / "project"
    (root / pkg).mkdir(parents=True)
    (root / pkg / "__init__.py").write_text("")
    (root / pkg / "gen.py").write_text(HELPED.format(pkg=pkg))
    helpers = root / pkg / "helpers.py"
    helpers.write_text("def shape(f):\n    return f\n")
    sys.path.insert(0, str(root))
    config = DissectConfig(
        generator=f"{pkg}.gen:make_generator",
        segmenter="dissect_toys:planted_segmenter",
        layers=("features",),
        samples=40,
        calibration_samples=20,
        top_k=2,
        batch_size=20,
    )
    try:
        good = dissect(config, tmp_path / "good", images=False).report_dir
        helpers.write_text("def shape(f):\n    return f.flip(1)  # the bug: units reversed\n")
        for name in [n for n in sys.modules if n.split(".")[0] == pkg]:
            del sys.modules[name]
        bad = dissect(config, tmp_path / "bad", images=False).report_dir
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.split(".")[0] == pkg]:
            del sys.modules[name]
    comparison = compare_reports(good, bad)
    assert not comparison.passed
    causes = [s.key for s in comparison.probable_causes]
    assert f"model.source_files.{pkg}/helpers.py" in causes
    assert "model.factory_sha256" not in causes  # the factory file itself did not change
    assert f"model.source_files.{pkg}/helpers.py" in comparison.summary()

"""The ``dissect_golden`` fixture: fail, create, pass, change, fail, regenerate, pass."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dissect_report.compare.synthetic import edit_units, write_synthetic_report

pytest_plugins = ["pytester"]

# Installed packages load the plugin through their pytest11 entry point; a source checkout
# that is not installed needs it named (naming it twice would register it twice).
_INSTALLED = any(
    ep.name == "dissect_report" for ep in importlib.metadata.entry_points(group="pytest11")
)
PLUGIN_ARGS = () if _INSTALLED else ("-p", "dissect_report.pytest_plugin")

TEST_FILE = """
from pathlib import Path

REPORT = Path(__file__).parent / "reports" / "r"

def test_demo(dissect_golden):
    dissect_golden.check(REPORT)
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Hypothesis' plugin re-imports (and assertion-rewrites) hundreds of modules per inner run.
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")
    return pytester.runpytest(*PLUGIN_ARGS, *quiet, *args)


def concept(report: Path, layer: str, unit: int) -> str:
    return (
        pq.read_table(report / "layers" / layer / "units.parquet").column("concept")[unit].as_py()
    )


def test_fail_create_pass_change_fail_regenerate_pass(pytester: pytest.Pytester) -> None:
    report = write_synthetic_report(pytester.path / "reports" / "r", layers={"a": 3, "b": 5})
    pytester.makepyfile(test_golden_demo=TEST_FILE)
    golden = pytester.path / "golden" / "test_demo"
    obtained = pytester.path / "golden" / "test_demo.obtained"

    # 1. No golden yet: fail with a hint, keep the obtained report.
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no golden report at*test_demo*", "*--update-golden*"])
    assert not golden.exists() and (obtained / "manifest.json").is_file()

    # 2. Create it.
    result = run(pytester, "--update-golden")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*GoldenReportUpdated: created golden report*"])
    assert (golden / "manifest.json").is_file() and not obtained.exists()
    kept = {p.relative_to(golden).as_posix() for p in golden.rglob("*") if p.is_file()}
    assert "layers/b/units/4-strip.png" in kept and "layers/b/iou.parquet" in kept
    assert "layers/b/units/4.png" not in kept and "layers/b/stats.npz" not in kept

    # 3. Same report: pass.
    run(pytester).assert_outcomes(passed=1)

    # 4. A unit changes concept: fail with the readable diff and save obtained + diffs.
    old = concept(report, "b", 3)
    edit_units(report, "b", 3, concept="door" if old != "door" else "sky")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*report differs from golden report*", "*layer b: * difference(s)*", f"*unit 3: {old}*"]
    )
    assert json.loads((obtained / "compare" / "diff.json").read_text())["passed"] is False
    assert (obtained / "compare" / "diff.md").is_file()
    assert (obtained / "layers" / "b" / "units" / "3.png").is_file()  # the full report
    assert concept(golden, "b", 3) == old

    # 5. Regenerate, 6. pass again.
    result = run(pytester, "--update-golden")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*regenerated golden report*"])
    assert concept(golden, "b", 3) != old and not obtained.exists()
    run(pytester).assert_outcomes(passed=1)


def test_callable_source_name_and_tolerance_overrides(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        import os
        from dissect_report.compare.synthetic import edit_units, write_synthetic_report

        def make(out):
            write_synthetic_report(out, layers={"a": 4})
            if os.environ.get("PLANT"):
                edit_units(out, "a", 1, iou=0.12 + 0.03)  # unit 1's IoU is 0.12

        def test_strict(dissect_golden):
            dissect_golden.check(make, name="shared")

        def test_loose(dissect_golden):
            dissect_golden.check(make, name="shared", iou_atol=0.05, images="none")
        """
    )
    run(pytester, "--update-golden", "-k", "strict").assert_outcomes(passed=1, warnings=1)
    assert (pytester.path / "golden" / "shared" / "layers" / "a" / "units" / "1-strip.png").exists()
    run(pytester).assert_outcomes(passed=2)
    monkeypatch.setenv("PLANT", "1")
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*unit 1 iou 0.12 -> 0.15*"])


def test_update_leaves_a_golden_within_tolerance_alone(pytester: pytest.Pytester) -> None:
    report = write_synthetic_report(pytester.path / "reports" / "r", layers={"a": 2})
    pytester.makepyfile(test_golden_demo=TEST_FILE)
    run(pytester, "--update-golden").assert_outcomes(passed=1, warnings=1)
    golden_units = pytester.path / "golden" / "test_demo" / "layers" / "a" / "units.parquet"
    before = golden_units.read_bytes()
    edit_units(report, "a", 0, iou=concept_iou(report) + 0.001)
    run(pytester, "--update-golden").assert_outcomes(passed=1)  # no warning: untouched
    assert golden_units.read_bytes() == before


def concept_iou(report: Path) -> float:
    return pq.read_table(report / "layers" / "a" / "units.parquet").column("iou")[0].as_py()


def test_unusable_report_fails_with_one_message(pytester: pytest.Pytester) -> None:
    report = write_synthetic_report(pytester.path / "reports" / "r", layers={"a": 2})
    pytester.makepyfile(test_golden_demo=TEST_FILE)
    run(pytester, "--update-golden").assert_outcomes(passed=1, warnings=1)
    (report / "layers" / "a" / "iou.parquet").unlink()
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cannot compare with golden report*missing table*iou.parquet*"])


def test_option_is_in_help(pytester: pytest.Pytester) -> None:
    run(pytester, "--help").stdout.fnmatch_lines(["*--update-golden*"])


def test_plugin_import_is_cheap() -> None:
    code = (
        "import sys, dissect_report.pytest_plugin\n"
        "print(sorted(m for m in ('numpy', 'pyarrow', 'torch', 'PIL', 'jinja2', "
        "'dissect_report.compare') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    assert out.stdout.strip() == "[]"

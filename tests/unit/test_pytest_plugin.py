"""The ``dissect_golden`` fixture: fail, create, pass, change, fail, regenerate, pass."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dissect_report.testing import edit_units, write_synthetic_report

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
    golden = pytester.path / "golden" / "test_golden_demo.test_demo"
    obtained = pytester.path / "golden" / "test_golden_demo.test_demo.obtained"

    # 1. No golden yet: fail with a hint, keep the obtained report.
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no golden report at*test_demo*", "*--update-golden*"])
    result.stdout.fnmatch_lines(["*dissect-report golden reports*", "goldens: 1 failed"])
    assert not golden.exists() and (obtained / "manifest.json").is_file()

    # 2. Create it.
    result = run(pytester, "--update-golden")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*GoldenReportUpdated: created golden report*"])
    result.stdout.fnmatch_lines(["goldens: 1 created", f"  created: {golden}"])
    assert (golden / "manifest.json").is_file() and not obtained.exists()
    kept = {p.relative_to(golden).as_posix() for p in golden.rglob("*") if p.is_file()}
    assert "layers/b/units/4-strip.png" in kept and "layers/b/iou.parquet" in kept
    assert "layers/b/units/4.png" not in kept and "layers/b/stats.npz" not in kept

    # 3. Same report: pass.
    result = run(pytester)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["goldens: 1 passed"])

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
    result.stdout.fnmatch_lines(["*regenerated golden report*", "goldens: 1 updated"])
    assert concept(golden, "b", 3) != old and not obtained.exists()
    run(pytester).assert_outcomes(passed=1)


def test_callable_source_name_and_tolerance_overrides(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        import os
        from dissect_report.testing import edit_units, write_synthetic_report

        def make(out):
            write_synthetic_report(out, layers={"a": 4})
            if os.environ.get("PLANT"):
                edit_units(out, "a", 1, iou=0.12 + 0.03)  # unit 1's IoU is 0.12

        def test_strict(dissect_golden):
            dissect_golden.check(make, name="Strict")

        def test_loose(dissect_golden):
            dissect_golden.check(make, name="loose", iou_atol=0.05, images="none")
        """
    )
    run(pytester, "--update-golden").assert_outcomes(passed=2, warnings=2)
    strict = pytester.path / "golden" / "^strict"  # the name is encoded like the default
    assert (strict / "layers" / "a" / "units" / "1-strip.png").exists()
    assert not (pytester.path / "golden" / "loose" / "layers" / "a" / "units").exists()
    run(pytester).assert_outcomes(passed=2)
    monkeypatch.setenv("PLANT", "1")
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*unit 1 iou 0.12 -> 0.15*"])


def test_update_leaves_a_golden_within_tolerance_alone(pytester: pytest.Pytester) -> None:
    report = write_synthetic_report(pytester.path / "reports" / "r", layers={"a": 2})
    pytester.makepyfile(test_golden_demo=TEST_FILE)
    run(pytester, "--update-golden").assert_outcomes(passed=1, warnings=1)
    golden_units = (
        pytester.path / "golden" / "test_golden_demo.test_demo" / "layers" / "a" / "units.parquet"
    )
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
    run(pytester, "--help").stdout.fnmatch_lines(["*--update-golden*", "*golden/<name>/*"])


# The six tests of issue 14 whose names shared three golden directories: case, "/" against
# " ", and one test name in two classes. Each writes a report with its own IoU for unit 1.
COLLIDING = """
import pytest
from dissect_report.testing import edit_units, write_synthetic_report

def make(iou):
    def write(out):
        write_synthetic_report(out, layers={"a": 3})
        edit_units(out, "a", 1, iou=iou)
    return write

@pytest.mark.parametrize("name", ["Door", "door", "a/b", "a b"])
def test_param(dissect_golden, name):
    dissect_golden.check(make({"Door": 0.1, "door": 0.2, "a/b": 0.3, "a b": 0.4}[name]))

class TestOne:
    def test_same(self, dissect_golden):
        dissect_golden.check(make(0.5))

class TestTwo:
    def test_same(self, dissect_golden):
        dissect_golden.check(make(0.6))
"""


def test_colliding_test_names_get_distinct_goldens(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_names=COLLIDING)
    result = run(pytester, "--update-golden")
    result.assert_outcomes(passed=6, warnings=6)
    result.stdout.fnmatch_lines(["goldens: 6 created"])
    names = sorted(p.name for p in (pytester.path / "golden").iterdir())
    assert names == [
        "test_names.^test^one.test_same",
        "test_names.^test^two.test_same",
        "test_names.test_param@^door",
        "test_names.test_param@a%20b",
        "test_names.test_param@a%2fb",
        "test_names.test_param@door",
    ]
    assert len({n.lower() for n in names}) == 6  # distinct on case-insensitive filesystems
    # Each golden is its own test's: all pass, also counted across xdist workers.
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["goldens: 6 passed"])


def test_two_tests_on_one_golden_is_an_error_naming_both(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from dissect_report.testing import write_synthetic_report

        def make(out):
            write_synthetic_report(out, layers={"a": 2})

        def test_first(dissect_golden):
            dissect_golden.check(make, name="shared")

        def test_second(dissect_golden):
            dissect_golden.check(make, name="shared")
        """
    )
    result = run(pytester, "--update-golden")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*GoldenNameCollision: golden report */golden/shared is used by two tests: "
            "*::test_first and *::test_second; each golden belongs to one test*"
        ]
    )


def test_golden_names_are_safe_and_distinct() -> None:
    from dissect_report.pytest_plugin import MAX_NAME, golden_name

    ids = [
        "t/test_x.py::test_a",
        "t/test_x.py::test_a[x]",
        "t/test_x.py::Test_a",
        "t/test_y.py::test_a",
        "t/test_x.py::TestA::test_a",
        "t/test_x.py::test_a[..]",
        "t/test_x.py::test_a[é]",
        "t/test_x.py::test_a[a.b]",
        "t/test_x.py::test_a[a%2eb]",
        "t/test_x.py::test_a[^a]",
        "t/test_x.py::test_a[A]",
        "t/con.py::test_a",
        "t/test_x.py::test_a[" + "x" * 300 + "]",
        "t/test_x.py::test_a[" + "x" * 299 + "y]",
    ]
    names = [golden_name(i) for i in ids]
    assert len({n.lower() for n in names}) == len(ids)
    for name in names:
        assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789_-.^%@~"), name
        assert len(name) <= MAX_NAME and not name.startswith(".") and name != ".."
        assert name.split(".")[0] not in ("con", "nul", "aux", "prn")


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

"""``dissect-report compare``: summary, diff files and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dissect_report.cli import main
from dissect_report.testing import edit_manifest, edit_units, write_synthetic_report

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def golden_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_report(tmp_path_factory.mktemp("src") / "golden", layers={"l1": 5})


@pytest.fixture
def golden(golden_src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(golden_src, tmp_path / "golden"))


@pytest.fixture
def new(golden_src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(golden_src, tmp_path / "new"))


def test_same_report_exits_0(golden: Path, new: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", str(golden), str(new)]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out.splitlines()[0]
    assert (new / "compare" / "diff.json").is_file() and (new / "compare" / "diff.md").is_file()


def test_changes_exit_1_with_summary_and_diffs(
    golden: Path, new: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    edit_units(new, "l1", 2, concept="door", iou=0.9)
    edit_manifest(new, **{"samples.count": 64})
    j, m = tmp_path / "out" / "d.json", tmp_path / "out" / "d.md"
    code = main(["compare", str(golden), str(new), "--json", str(j), "--markdown", str(m)])
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL" in out.splitlines()[0]
    assert out.index("samples.count: 32 -> 64") < out.index("concept changed")
    assert json.loads(j.read_text())["layers"][0]["label_changes"][0]["unit"] == 2
    assert "## Layer l1" in m.read_text()
    assert not (new / "compare").exists()


def test_tolerance_flag_and_no_diff_files(golden: Path, new: Path) -> None:
    iou = 0.1 + 0.02 * 1
    edit_units(new, "l1", 1, iou=iou + 0.04)
    assert main(["compare", str(golden), str(new), "--no-diff-files"]) == 1
    assert main(["compare", str(golden), str(new), "--iou-atol", "0.05", "--no-diff-files"]) == 0
    assert not (new / "compare").exists()


def test_diff_out_dir(golden: Path, new: Path, tmp_path: Path) -> None:
    assert main(["compare", str(golden), str(new), "--diff-out", str(tmp_path / "d")]) == 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["diff.json", "diff.md"]


@pytest.mark.parametrize("problem", ["corrupt", "schema", "missing", "negative"])
def test_bad_input_exits_2_with_one_line(
    golden: Path, new: Path, problem: str, capsys: pytest.CaptureFixture
) -> None:
    args = ["compare", str(golden), str(new)]
    if problem == "corrupt":
        (new / "manifest.json").write_text("{not json")
    elif problem == "schema":
        edit_manifest(golden, schema_version=99)
    elif problem == "missing":
        (new / "manifest.json").unlink()
    else:
        args += ["--image-tol", "-1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    expected = {"corrupt": "corrupt manifest", "schema": "99", "missing": "no manifest.json"}
    assert expected.get(problem, "image_tol") in err[0]


def test_real_process_exit_codes(golden: Path, new: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dissect_report", "compare", *args],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )

    assert run(str(golden), str(new), "--no-diff-files").returncode == 0
    edit_units(new, "l1", 0, concept="door")
    assert run(str(golden), str(new), "--no-diff-files").returncode == 1
    bad = run(str(golden), str(new.parent / "absent"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "absent" in bad.stderr

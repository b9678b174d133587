"""The manifest's provenance: the environment, and the source of the modules a factory imports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dissect_report.compare.settings import diff_settings
from dissect_report.provenance import environment, project_sources


def test_environment_names_versions_threads_and_tf32() -> None:
    env = environment("cpu")
    import torch

    assert env["torch"] == str(torch.__version__)
    assert env["threads"] == torch.get_num_threads()
    assert env["device"] == "cpu"
    assert {"python", "numpy", "matmul_precision", "cuda_matmul_tf32", "cudnn_tf32"} <= set(env)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "gen.py").write_text(
        "import torch\nfrom . import helpers\nfrom mypkg.blocks import Block\n"
        "def make():\n    return helpers.scale(Block())\n"
    )
    (pkg / "helpers.py").write_text("def scale(x):\n    return x\n")
    (pkg / "blocks.py").write_text("class Block:\n    pass\n")
    (pkg / "unused.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.split(".")[0] == "mypkg"]:
        del sys.modules[name]


def test_project_sources_follow_the_factorys_imports_with_relative_paths(project: Path) -> None:
    found = project_sources("mypkg.gen:make")
    assert found is not None
    assert sorted(found["files"]) == [
        "mypkg/__init__.py",
        "mypkg/blocks.py",
        "mypkg/gen.py",
        "mypkg/helpers.py",
    ]  # not unused.py, not torch; relative, so the same on another machine
    before = found["sha256"]
    (project / "mypkg" / "unused.py").write_text("X = 2\n")
    assert project_sources("mypkg.gen:make")["sha256"] == before
    (project / "mypkg" / "helpers.py").write_text("def scale(x):\n    return -x\n")
    after = project_sources("mypkg.gen:make")
    assert after["sha256"] != before
    # a comparison names the helper module as a changed source
    changes = diff_settings(
        {"model": {"source_files": found["files"]}}, {"model": {"source_files": after["files"]}}
    )
    assert [c.key for c in changes] == ["model.source_files.mypkg/helpers.py"]
    assert changes[0].relevant


def test_builtins_have_no_source() -> None:
    assert project_sources("builtin") is None


def test_a_comparison_names_a_changed_environment_or_says_none_differs(tmp_path: Path) -> None:
    import shutil

    from dissect_report.compare import compare_reports
    from dissect_report.testing import write_synthetic_report
    from dissect_report.testing.edits import edit_manifest, edit_units

    golden = write_synthetic_report(tmp_path / "golden", layers={"layer1": 4})
    new = Path(shutil.copytree(golden, tmp_path / "new"))
    edit_units(new, "layer1", 0, iou=0.9)
    summary = compare_reports(golden, new).summary()
    assert "Probable cause: no recorded setting differs" in summary
    edit_manifest(new, **{"environment.torch": "9.9.9"})
    c = compare_reports(golden, new)
    assert [s.key for s in c.probable_causes] == ["environment.torch"]
    assert "-> 9.9.9 (findings depend on it only through numerics" in c.summary()

"""Settings that differ: the model first, a section one report lacks said once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dissect_report.cli import main
from dissect_report.compare.settings import diff_settings
from dissect_report.testing import SyntheticSpec, write_synthetic_report


def test_model_first_and_a_missing_section_is_one_change() -> None:
    golden = {
        "config": {"samples": 10},
        "model": {"weights_sha256": "a" * 64, "factory": "pkg:make"},
        "artifacts": {"layer": "l4", "top_k": 3, "score_seed": 7},
        "sections": {"artifacts": True},
    }
    new = {
        "config": {"samples": 20},
        "model": {"weights_sha256": "b" * 64, "factory": "pkg:other"},
        "sections": {"artifacts": False},
    }
    changes = diff_settings(golden, new)
    keys = [c.key for c in changes]
    assert keys == ["model.weights_sha256", "model.factory", "config.samples", "artifacts"]
    section = changes[-1]
    assert section.kind == "section" and section.only_in == "golden" and section.new is None
    assert not any(c.key.startswith(("artifacts.", "sections.")) for c in changes)


def test_findings_text_lists_the_generator_before_sections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = SyntheticSpec(layers=("layer1",), units=4, interventions=True, artifacts=True)
    a = write_synthetic_report(tmp_path / "a", spec)
    b = write_synthetic_report(tmp_path / "b", SyntheticSpec(layers=("layer1",), units=4))
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["model"]["factory"] = "pkg:other_generator"
    (b / "manifest.json").write_text(json.dumps(manifest))
    assert main(["compare", "--findings", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    settings = out[out.index("Recorded settings that differ") :].splitlines()
    assert settings[2].strip() == "model.factory: synthetic:none -> pkg:other_generator"
    assert "-> null" not in out
    assert sum("only in a: artifacts, interventions" in line for line in settings) == 1


def test_a_nested_table_one_side_lacks_is_one_change() -> None:
    golden = {"interventions": {"layer": "l4", "optimized": {"steps": 10, "lr": 0.1}}}
    new = {"interventions": {"layer": "l4"}}
    changes = diff_settings(golden, new)
    assert [(c.key, c.golden, c.new) for c in changes] == [
        ("interventions.optimized", {"steps": 10, "lr": 0.1}, None)
    ]

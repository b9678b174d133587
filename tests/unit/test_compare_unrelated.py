"""compare GOLDEN NEW of two different models: one line saying so, counts per table, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dissect_report.cli import main
from dissect_report.testing import SyntheticSpec, write_synthetic_report


def test_different_models_are_said_first_and_counted_per_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_synthetic_report(tmp_path / "a", SyntheticSpec(layers=("layer1",), units=60))
    spec = SyntheticSpec(layers=("layer1",), units=60, value_seed=5)
    b = write_synthetic_report(tmp_path / "b", spec)
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["model"]["weights_sha256"] = "cd" * 32
    (b / "manifest.json").write_text(json.dumps(manifest))
    assert main(["compare", str(a), str(b), "--diff-out", str(tmp_path / "diff")]) == 1
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert "DIFFERENT MODELS (generator weights 000000000000 -> cdcdcdcdcdcd)" in first
    assert f"compare --findings {a} {b}" in out
    diff = json.loads((tmp_path / "diff" / "diff.json").read_text())
    layer = next(row for row in out.splitlines() if row.strip().startswith("layer layer1"))
    assert f"{diff['layers'][0]['failures']:,}" in layer and "images" in layer
    assert len(out.splitlines()) < 25  # counts, not one line per difference
    markdown = (tmp_path / "diff" / "diff.md").read_text()
    assert markdown.splitlines()[6].startswith("**Different models**: generator weights")
    assert "unit 0 threshold" not in out


def test_other_layers_and_concepts_are_a_different_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_synthetic_report(tmp_path / "a", SyntheticSpec(layers=("layer1",), units=4))
    spec = SyntheticSpec(layers=("conv3",), units=4, concepts=("cat", "dog", "-"))
    b = write_synthetic_report(tmp_path / "b", spec)
    assert main(["compare", str(a), str(b), "--no-diff-files"]) == 1
    out = capsys.readouterr().out
    assert "layers layer1 -> conv3" in out.splitlines()[0]
    assert "concepts: " in out.splitlines()[0]
    assert "concepts.cat.color" not in out  # a concept one side lacks is not a setting


def test_one_model_keeps_the_detailed_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_synthetic_report(tmp_path / "a", SyntheticSpec(layers=("layer1",), units=4))
    spec = SyntheticSpec(layers=("layer1",), units=4, value_seed=3)
    b = write_synthetic_report(tmp_path / "b", spec)
    assert main(["compare", str(a), str(b), "--no-diff-files"]) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT MODELS" not in out and "FAIL (" in out.splitlines()[0]


def test_a_few_differences_of_another_generator_are_still_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_synthetic_report(tmp_path / "a", SyntheticSpec(layers=("layer1",), units=4))
    b = write_synthetic_report(tmp_path / "b", SyntheticSpec(layers=("layer1",), units=4))
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["model"]["factory"] = "pkg:edited"
    (b / "manifest.json").write_text(json.dumps(manifest))
    assert main(["compare", str(a), str(b), "--no-diff-files"]) == 0  # same tables: a pass
    assert "DIFFERENT MODELS" not in capsys.readouterr().out
    units = pq.read_table(b / "layers" / "layer1" / "units.parquet").to_pandas()
    units.loc[0, "threshold"] *= 3
    pq.write_table(
        pa.Table.from_pandas(units, preserve_index=False), b / "layers/layer1/units.parquet"
    )
    assert main(["compare", str(a), str(b), "--no-diff-files"]) == 1
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert "FAIL (" in first and "DIFFERENT MODELS (generator factory synthetic:none" in first
    assert "unit 0 threshold" in out  # listed, not only counted

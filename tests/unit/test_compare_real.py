"""compare_reports on real dissections of the planted toy generator (tests/dissect_toys.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dissect_report.compare import compare_reports  # noqa: E402
from dissect_report.config import DissectConfig  # noqa: E402
from dissect_report.dissection.stage import dissect  # noqa: E402

BASE = DissectConfig(
    generator="dissect_toys:planted_generator",
    segmenter="dissect_toys:planted_segmenter",
    layers=("features",),
    samples=96,
    calibration_samples=32,
    top_k=4,
    batch_size=32,
)


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dissect(BASE, tmp_path_factory.mktemp("real") / "golden").report_dir


def test_batch_size_changes_nothing_that_matters(golden: Path, tmp_path: Path) -> None:
    new = dissect(BASE.model_copy(update={"batch_size": 7}), tmp_path / "new").report_dir
    c = compare_reports(golden, new)
    assert c.passed, c.summary()
    assert [s.key for s in c.settings] == ["config.batch_size"]
    assert c.probable_causes == ()


def test_changed_seed_fails_with_seed_as_probable_cause(golden: Path, tmp_path: Path) -> None:
    new = dissect(BASE.model_copy(update={"seed": 5}), tmp_path / "new").report_dir
    c = compare_reports(golden, new)
    assert not c.passed
    assert [s.key for s in c.probable_causes][:2] == ["samples.seed", "config.seed"]
    layer = c.layer("features")
    assert layer.image_changes or layer.value_changes  # other samples, other strips
    assert c.summary().index("samples.seed: 1 -> 5") < c.summary().index("layer features")


def test_batch_size_is_a_probable_cause_when_the_generator_depends_on_the_batch(
    tmp_path: Path,
) -> None:
    config = BASE.model_copy(update={"generator": "dissect_toys:batch_coupled_generator"})
    if "check_model" in DissectConfig.model_fields:  # the contract check would refuse it
        config = config.model_copy(update={"check_model": False})
    golden = dissect(config, tmp_path / "golden").report_dir
    new = dissect(config.model_copy(update={"batch_size": 7}), tmp_path / "new").report_dir
    c = compare_reports(golden, new)
    assert not c.passed  # the tables differ ...
    assert [s.key for s in c.probable_causes] == ["config.batch_size"]  # ... and say why
    text = c.summary()
    assert (
        "config.batch_size: 32 -> 7 (findings depend on it only if the generator depends on "
        "batch composition" in text
    )
    assert text.index("Probable cause") < text.index("config.batch_size: 32 -> 7")
    for harmless in ("do not change findings", "cannot change findings", "harmless"):
        assert harmless not in text.lower()
    markdown = c.to_markdown()
    assert "| config.batch\\_size | 32 | 7 | yes |" in markdown, markdown

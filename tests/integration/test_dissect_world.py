"""Dissection of the built-in world's architectures end to end, at small sizes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dissect_toys import assert_same_tables  # noqa: E402

from dissect_report.config import DissectConfig  # noqa: E402
from dissect_report.dissection.stage import dissect  # noqa: E402

WEIGHTS = Path(__file__).resolve().parents[2] / "dissect_report" / "world" / "weights"
SMALL = {"layers": ("layer3", "layer4"), "samples": 20, "calibration_samples": 10, "top_k": 4}


def test_world_architecture_batch_size_independent(tmp_path):
    # Seeded untrained nets: real convolutions, so batch-size independence is not trivial.
    config = {
        **SMALL,
        "generator": "dissect_toys:world_generator",
        "segmenter": "dissect_toys:world_segmenter",
    }
    dissect(DissectConfig(**config, batch_size=20), tmp_path / "a", images=False)
    dissect(DissectConfig(**config, batch_size=6), tmp_path / "b", images=False)
    assert_same_tables(tmp_path / "a", tmp_path / "b")


@pytest.mark.slow
@pytest.mark.skipif(not (WEIGHTS / "generator.safetensors").exists(), reason="no trained weights")
def test_builtin_world_report(tmp_path):
    out = tmp_path / "report"
    result = dissect(DissectConfig(**SMALL, batch_size=10), out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["name"] == "builtin"
    assert [c["name"] for c in manifest["concepts"]][:3] == ["sky", "cloud", "sun"]
    assert [layer["shape"] for layer in manifest["layers"]] == [[128, 16, 16], [64, 32, 32]]
    units = pq.read_table(out / "layers" / "layer4" / "units.parquet")
    assert units.num_rows == 64
    # A trained generator has units that draw something.
    assert result.layer("layer4").interpretable > 0
    names = {p.name for p in (out / "layers" / "layer4" / "units").iterdir()}
    for unit in range(64):  # the grid, the strip and the top band's pair (bandfiles.py)
        assert {f"{unit}.png", f"{unit}-strip.png", f"{unit}-top.webp", f"{unit}-top.png"} <= names

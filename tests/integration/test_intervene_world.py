"""Interventions and artifact units on the built-in world, through the CLI, at small sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from dissect_report import world
from dissect_report.cli import main
from dissect_report.world.weights import WEIGHTS_DIR

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (WEIGHTS_DIR / "generator.safetensors").is_file(), reason="built-in weights missing"
    ),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "report"
    args = ["-q", "dissect", "--layers", "layer2", "--samples", "300", "--no-images"]
    assert main([*args, "--calibration-samples", "64", "--out", str(out)]) == 0
    return out


def test_intervene_removes_concepts_and_inserts_them_where_they_fit(
    report: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["-q", "intervene", str(report), "--concepts", "water,building", "--samples", "24",
         "--insert-samples", "8", "--grid", "3", "--optimize-steps", "3", "--compare-samples", "2"]
    )  # fmt: skip
    assert code == 0
    assert "water: top 32 units remove" in capsys.readouterr().out
    index = {r["concept"]: r for r in pq.read_table(report / "concepts/index.parquet").to_pylist()}
    for name in ("water", "building"):
        row = index[name]
        assert row["n_max"] == 32 and row["layer"] == "layer2"
        assert row["share"] > 0.4, row  # its top units remove a large share of it ...
        assert row["share"] > row["share_random"] + 0.3, row  # ... random units far less
    for name in ("water", "building"):
        row = index[name]
        # The inserted set is the one measured best on the dissection's samples; held out it
        # does at least as well as the IoU-top set it is measured against (same sites).
        assert row["insert_method"] in ("optimized", "iou") and row["insert_units"], row
        if row["insert_method"] == "iou":
            assert row["insert_units"] == row["top_units"], row
        assert row["insert_success"] >= row["insert_success_iou"], row
    inserted = index["building"]["insert_method"]
    ctx = {
        r["context"]: r
        for r in pq.read_table(report / "concepts/building/insertion.parquet").to_pylist()
        if r["method"] == inserted
    }
    assert (
        ctx["grass"]["success"] > ctx["sky"]["success"]
    )  # buildings stand on grass, not in the sky
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["sections"]["interventions"] is True
    assert manifest["interventions"]["seed"] == manifest["samples"]["seed"] + 1
    assert (report / "concepts/water/compare.png").stat().st_size > 1000


def test_the_measured_tree_set_inserts_tree_at_least_as_well_as_the_iou_top_units(
    report: Path,
) -> None:
    """Tree's IoU-top units at layer2 paint little tree; the set chosen by measured insertion
    (top units by learned alpha) is inserted instead, and does at least as well held out (on
    the default run: 93% of sites against 25%)."""
    code = main(
        ["-q", "intervene", str(report), "--concepts", "tree", "--samples", "8",
         "--insert-samples", "8", "--grid", "3", "--compare-samples", "0", "--unit-samples", "0",
         "--random-trials", "0"]
    )  # fmt: skip
    assert code == 0
    row = pq.read_table(report / "concepts/index.parquet").to_pylist()[0]
    assert row["concept"] == "tree" and row["insert_method"] == "optimized", row
    assert row["insert_success"] >= row["insert_success_iou"], row
    methods = {
        r["method"] for r in pq.read_table(report / "concepts/tree/insertion.parquet").to_pylist()
    }
    assert methods == {"optimized", "iou"}  # both sets measured at the same sites


def test_artifacts_command_writes_the_section(report: Path) -> None:
    code = main(
        ["-q", "artifacts", str(report), "--samples", "32", "--repair-samples", "16", "--top-k", "4",
         "--show-units", "2", "--worst-samples", "2", "--candidates", "8"]
    )  # fmt: skip
    assert code == 0
    units = pq.read_table(report / "artifacts/units.parquet").to_pylist()
    assert len(units) == 256 and [u["rank"] for u in units] == list(range(1, 257))
    repaired = [u for u in units if u["repaired"]]
    assert len(repaired) <= 4 and all(u["ablation_gain"] > 0 for u in repaired)
    assert sum(u["ablation_gain_even"] == u["ablation_gain_even"] for u in units) == 8  # screened
    repair = [r["metric"] for r in pq.read_table(report / "artifacts/repair.parquet").to_pylist()]
    # The built-in world renders real images (FSD chooses) and has a discriminator (a check).
    assert repair in ([], ["fsd", "realism", "labels"])
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["sections"]["artifacts"] is True
    assert manifest["artifacts"]["features"] == "segmenter-features"
    assert manifest["artifacts"]["reference"]["kind"] == "renderer"
    assert manifest["artifacts"]["metric"] == "fsd"


def test_artifacts_with_real_images_from_a_folder(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A user's real images: PNGs of the world at twice the generator's size (resized on load).
    images, _ = world.render_scenes(77, list(range(24)))
    for i, im in enumerate(images):
        Image.fromarray(im).resize((128, 128)).save(tmp_path / f"{i:02d}.png")
    code = main(
        ["artifacts", str(report), "--real-images", str(tmp_path), "--discriminator", "none",
         "--samples", "24", "--repair-samples", "16", "--top-k", "4", "--show-units", "1",
         "--worst-samples", "2", "--candidates", "4"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    ref = json.loads((report / "manifest.json").read_text())["artifacts"]["reference"]
    assert ref["kind"] == "real-images" and ref["count"] == 24 and ref["size"] == [64, 64]
    assert "real images: 24 of 24" in out and "quality metric: fsd (lower is better)" in out
    assert "verdict: " in out


def test_cli_errors_are_one_line(report: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "intervene", str(report), "--layer", "layer9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "layer9" in err and "\n" not in err
    assert main(["-q", "artifacts", str(report / "nope")]) == 2

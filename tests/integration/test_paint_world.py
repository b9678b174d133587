"""The Paint stage on the built-in world: what it exports, and a generator it cannot export."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn

from dissect_report.cli import main
from dissect_report.commands.paint import print_summary
from dissect_report.modeltools.edit import edit, insert, trace
from dissect_report.modeltools.reopen import open_with_models
from dissect_report.paint import PaintConfig, build_paint
from dissect_report.paint.brushes import find_strokes
from dissect_report.render import render_site
from dissect_report.sampler import latents
from dissect_report.world.weights import WEIGHTS_DIR

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (WEIGHTS_DIR / "generator.safetensors").is_file(), reason="built-in weights missing"
    ),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("paint") / "report"
    dissect = ["-q", "dissect", "--layers", "layer2", "--samples", "120", "--no-images"]
    assert main([*dissect, "--calibration-samples", "64", "--out", str(out)]) == 0
    intervene = ["-q", "intervene", str(out), "--concepts", "tree,water", "--samples", "8",
                 "--insert-samples", "2", "--optimize-steps", "0", "--compare-samples", "0",
                 "--random-trials", "0", "--max-units", "8"]  # fmt: skip
    assert main(intervene) == 0
    return out


@pytest.fixture(scope="module")
def painted(report: Path) -> tuple[Path, str]:
    """The report after ``dissect-report paint`` (small brush samples), and what it printed."""
    brush_sizes = ["--brush-select", "8", "--brush-measure", "12"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["-q", "paint", str(report), "--paint-samples", "3", *brush_sizes]) == 0
    return report, printed.getvalue()


def test_paint_exports_the_tail_activations_and_the_interventions_unit_sets(
    painted: tuple[Path, str],
) -> None:
    report, out = painted
    assert out.startswith("paint: 3 samples at layer2, tail 1.4 MB ONNX")
    assert "\n  tree brush: " in out and "\n  water brush: " in out
    meta = json.loads((report / "paint/paint.json").read_text())
    assert meta["available"] and meta["note"] is None
    assert (meta["layer"], meta["shape"], meta["image"]) == ("layer2", [256, 8, 8], [3, 64, 64])
    index = pq.read_table(report / "concepts/index.parquet").to_pylist()
    assert [c["name"] for c in meta["concepts"]] == [r["concept"] for r in index]
    for concept, row in zip(meta["concepts"], index, strict=True):
        assert concept["iou_units"] == row["top_units"] and len(concept["iou_units"]) == 8
        assert len(concept["units"]) == 32 and 1 <= concept["n"] <= 32  # the brush's ranking
        levels = pq.read_table(report / f"concepts/{row['slug']}/levels.parquet").to_pylist()
        by_unit = {r["unit"]: r["level"] for r in levels}
        assert concept["levels"] == [by_unit[u] for u in concept["units"]]
        assert all(v > 0 for v in concept["levels"])  # a high quantile of ReLU units

    model = onnx.load(str(report / "paint/tail.onnx"))
    onnx.checker.check_model(model, full_check=True)
    # the exporter's stack traces name this machine's source paths: none may ship
    assert not any(n.metadata_props or n.doc_string for n in model.graph.node)
    assert b".py" not in (report / "paint/tail.onnx").read_bytes()
    assert [i.name for i in model.graph.input] == meta["inputs"]
    ops = {n.op_type for n in model.graph.node}
    assert "BatchNormalization" not in ops and "ConvTranspose" in ops  # folded, layer3 on only
    shapes = sorted(tuple(i.dims) for i in model.graph.initializer)
    assert (128, 256, 4, 4) not in shapes  # nothing upstream of the layer (layer1's weights)

    _, models = open_with_models(report)
    z = latents(meta["seed"], meta["samples"], 128)
    with torch.no_grad(), trace(models.generator, "layer2") as t:
        models.generator.eval()(z)
    acts = np.load(report / "paint/activations.npy")
    assert acts.dtype == np.float16 and acts.shape == (3, 256, 8, 8)
    np.testing.assert_array_equal(acts, t.output.numpy().astype(np.float16))
    np.testing.assert_array_equal(np.load(report / "paint/latents.npy"), z.numpy())
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["sections"]["paint"] is True and manifest["paint"]["available"] is True


class NumpyInTheMiddle(nn.Module):
    """The built-in generator with a detour through numpy after layer2: it runs, but no
    exporter can trace it (as with a user's generator that leaves torch mid-forward)."""

    def __init__(self, g: nn.Module) -> None:
        super().__init__()
        self.z_dim = g.z_dim
        for name in ("layer1", "layer2", "layer3", "layer4", "layer5", "output"):
            setattr(self, name, getattr(g, name))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(z.view(z.shape[0], -1, 1, 1)))
        x = torch.from_numpy(x.detach().numpy().copy())
        return self.output(self.layer5(self.layer4(self.layer3(x))))


def test_a_generator_that_cannot_be_exported_gets_a_one_line_note(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "report"
    shutil.copytree(report, copy)
    _, models = open_with_models(copy)
    models = dataclasses.replace(models, generator=NumpyInTheMiddle(models.generator))
    result = build_paint(PaintConfig(samples=2), copy, models=models)
    assert not result.available
    print_summary(result)
    err = capsys.readouterr().err
    assert err.startswith("paint: not available: the generator cannot be exported to ONNX")
    assert err.count("\n") == 1 and ".numpy()" in err
    assert sorted(p.name for p in (copy / "paint").iterdir()) == ["paint.json"]

    site = render_site(copy).site_dir
    page = (site / "paint/index.html").read_text()
    assert "Paint is not available for this report" in page and ".numpy()" in page
    assert not (site / "paint/ort.js").exists() and "ort.js" not in page
    assert (site / "layers/layer2/index.html").is_file()  # the rest of the site as usual
    assert (site / "concepts/tree/index.html").is_file()


def test_brushes_paint_their_concept_on_held_out_ground_strokes(painted: tuple[Path, str]) -> None:
    """Each offered brush turns >= 70% of the pixels its strokes change into its concept, by
    the segmenter, recounted here through the interventions' edit and the real segmenter."""
    report, _ = painted
    meta = json.loads((report / "paint/paint.json").read_text())
    assert meta["brushes"]["min_precision"] == 0.7 and meta["brushes"]["measure_samples"] == 12
    by_name = {c["name"]: c for c in meta["concepts"]}
    assert by_name["tree"]["offered"] and by_name["water"]["offered"]
    _, models = open_with_models(report)
    names = models.concepts
    ids = range(meta["brushes"]["measure_first"], meta["brushes"]["measure_first"] + 12)
    z = latents(meta["seed"], ids, 128)
    with torch.no_grad():
        before = models.segment(models.generate(z))
    for c in meta["concepts"]:
        k = names.index(c["name"])
        on_ground = c["precision"] is not None and c["precision"] >= 0.7
        place = c["place"] or {}
        in_place = place.get("precision") is not None and place["precision"] >= 0.7
        assert c["offered"] == (on_ground or in_place)  # offered where it works, page says where
        assert c["method"] == "optimized" and c["on_ground"] and c["strokes"] >= 6
        strokes = find_strokes(before, k, (8, 8), 2, [names.index("grass")])
        level = torch.zeros(256)
        level[c["units"]] = torch.tensor(c["levels"])
        changed = became = 0
        for s in strokes:
            cells = torch.zeros(8, 8)
            cells[s.row : s.row + 2, s.col : s.col + 2] = 1.0
            with (
                torch.no_grad(),
                edit(models.generator, "layer2", insert(c["units"][: c["n"]], level, cells)),
            ):
                after = models.segment(models.generate(z[s.sample : s.sample + 1]))[0]
            inside = torch.zeros(64, 64, dtype=torch.bool)
            inside[8 * s.row : 8 * s.row + 16, 8 * s.col : 8 * s.col + 16] = True
            moved = inside & (after != before[s.sample])
            changed += int(moved.sum())
            became += int((moved & (after == k)).sum())
        assert len(strokes) == c["strokes"]
        assert became / changed == pytest.approx(c["precision"])
        if on_ground:
            assert became / changed >= 0.7


def test_concept_pages_show_the_brush_and_unit_pages_their_own_effect(
    painted: tuple[Path, str], tmp_path: Path
) -> None:
    report = tmp_path / "report"
    shutil.copytree(painted[0], report)
    site = render_site(report).site_dir
    meta = json.loads((report / "paint/paint.json").read_text())
    tree = next(c for c in meta["concepts"] if c["name"] == "tree")
    page = (site / "concepts/tree/index.html").read_text()
    assert "Paint brush" in page and f"{round(100 * tree['precision'])}%" in page
    first = tree["units"][0]
    assert f'href="../../layers/layer2/units/{first}/index.html"' in page
    own = pq.read_table(report / "concepts/units.parquet").to_pylist()
    assert own and {r["samples"] for r in own} == {8}  # the interventions' 8 held-out samples
    row = own[0]
    unit_page = (site / f"layers/layer2/units/{row['unit']}/index.html").read_text()
    assert "Its own ablation effect" in unit_page
    assert f"share of {row['concept']} removed, net" in unit_page

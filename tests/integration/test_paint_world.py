"""The Paint stage on the built-in world: what it exports, and a generator it cannot export."""

from __future__ import annotations

import dataclasses
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
from dissect_report.modeltools.edit import trace
from dissect_report.modeltools.reopen import open_with_models
from dissect_report.paint import PaintConfig, build_paint
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


def test_paint_exports_the_tail_activations_and_the_interventions_unit_sets(
    report: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-q", "paint", str(report), "--paint-samples", "3"]) == 0
    assert capsys.readouterr().out.startswith("paint: 3 samples at layer2, tail 1.4 MB ONNX")
    meta = json.loads((report / "paint/paint.json").read_text())
    assert meta["available"] and meta["note"] is None
    assert (meta["layer"], meta["shape"], meta["image"]) == ("layer2", [256, 8, 8], [3, 64, 64])
    index = pq.read_table(report / "concepts/index.parquet").to_pylist()
    assert [c["name"] for c in meta["concepts"]] == [r["concept"] for r in index]
    for concept, row in zip(meta["concepts"], index, strict=True):
        assert concept["units"] == row["top_units"] and len(concept["units"]) == 8
        levels = pq.read_table(report / f"concepts/{row['slug']}/levels.parquet").to_pylist()
        by_unit = {r["unit"]: r["level"] for r in levels}
        assert concept["levels"] == [by_unit[u] for u in concept["units"]]
        assert all(v > 0 for v in concept["levels"])  # a high quantile of ReLU units

    model = onnx.load(str(report / "paint/tail.onnx"))
    onnx.checker.check_model(model, full_check=True)
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

"""A generator nobody on this project wrote: the trained DCGAN of PyPI's ``gan-face-generate``.

CI installs it with ``pip install --no-deps gan-face-generate==1.1.1`` (its own dependencies
would pull an unpinned torchvision). It ships real trained weights as a nested checkpoint
(``{"netG_state_dict": ...}``) and takes latents ``(N, 100, 1, 1)``: the dissection goes
through the CLI with ``--weights-key`` and ``--latent-shape``, segmented by the crude face
segmenter of tests/models/face_gan.py, and the unit images must redraw exactly the samples
the pass scored.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

pytest.importorskip("gan_face_generate", reason="pip install --no-deps gan-face-generate==1.1.1")

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS / "models"), str(Path(__file__).parent)]
import face_gan  # noqa: E402
from test_cli_dissect import assert_user_error, cli  # noqa: E402

from dissect_report.config import make_config  # noqa: E402
from dissect_report.models import load_models  # noqa: E402
from dissect_report.trace import TraceDict  # noqa: E402
from dissect_report.weights_io import load_state_dict  # noqa: E402

FACE = [
    "--generator", "face_gan:make_generator",
    "--segmenter", "face_gan:make_segmenter",
    "--layers", "main.5,main.8",
    "--samples", "64", "--batch-size", "16", "--calibration-samples", "32", "--top-k", "4",
]  # fmt: skip


def test_the_checkpoint_is_nested_and_unwrapped():
    state = load_state_dict(face_gan.weights_path())
    assert "main.0.weight" in state and state["main.0.weight"].shape == (100, 512, 4, 4)


def test_without_the_latent_adapter_the_cause_is_named(tmp_path):
    out = tmp_path / "faces"
    proc = cli("dissect", *FACE, "--weights", face_gan.weights_path(), "--z-dim", "100",
               "--out", str(out))  # fmt: skip
    assert_user_error(proc, "--latent-shape 100,1,1")
    assert not out.exists()


def test_unit_images_redraw_exactly_the_samples_the_pass_scored(tmp_path):
    out = tmp_path / "faces"
    weights = ["--weights", face_gan.weights_path(), "--weights-key", "netG_state_dict"]
    cli("dissect", *FACE, *weights, "--latent-shape", "100,1,1", "--out", str(out), check=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["latent_shape"] == [100, 1, 1]
    assert manifest["model"]["weights_key"] == "netG_state_dict"
    assert Path(manifest["model"]["weights"]).is_absolute()
    assert manifest["model_check"]["passed"] is True
    models = load_models(make_config(manifest["config"]), check=False)
    for layer in manifest["layers"]:
        units = pq.read_table(out / "layers" / layer["slug"] / "units.parquet").to_pylist()
        ids = sorted({i for row in units for i in row["top_samples"]})
        with torch.no_grad(), TraceDict(models.generator, [layer["name"]]) as td:
            models.sample(ids)  # what the unit images regenerate, by sample id
        peaks = td[layer["name"]].amax(dim=(2, 3))
        at = {i: k for k, i in enumerate(ids)}
        for row in units:
            for sample, recorded in zip(row["top_samples"], row["top_activations"], strict=True):
                redrawn = float(peaks[at[sample], row["unit"]])
                assert redrawn == pytest.approx(recorded, rel=1e-5, abs=1e-6), (row["unit"], sample)
        assert (out / "layers" / layer["slug"] / "units" / "0.png").is_file()
    labelled = sum(layer["interpretable"] for layer in manifest["layers"])
    assert labelled > 0, "the crude face segmenter still gives some units a concept"


def test_layers_names_the_latent_adapter_and_lists_module_types():
    proc = cli("layers", "--generator", "face_gan:make_generator", "--z-dim", "100")
    assert_user_error(proc, "--latent-shape 100,1,1")
    proc = cli("layers", "--generator", "face_gan:make_generator", "--latent-shape", "100,1,1")
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()[1:]}
    assert rows["main.3"][:2] == ["ConvTranspose2d", "1"]
    assert rows["main.4"][:2] == ["BatchNorm2d", "1"] and rows["main.5"][:2] == ["ReLU", "1"]
    assert " ".join(rows["main.5"][2:]) == "256 x 8 x 8"

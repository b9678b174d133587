"""The shipped built-in models: they load, have the documented shapes, and are real."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from dissect_report.errors import ModelError
from dissect_report.world import load_discriminator, load_generator, load_segmenter, render_scenes
from dissect_report.world.weights import WEIGHTS_DIR

LAYER_SHAPES = {
    "layer1": (256, 4, 4),
    "layer2": (256, 8, 8),
    "layer3": (128, 16, 16),
    "layer4": (64, 32, 32),
    "layer5": (32, 64, 64),
}


def test_generator_layers_and_output():
    gen = load_generator()
    shapes = {}
    hooks = [
        getattr(gen, n).register_forward_hook(
            lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape[1:]))
        )
        for n in LAYER_SHAPES
    ]
    try:
        with torch.no_grad():
            x = gen(torch.randn(3, gen.z_dim, generator=torch.Generator().manual_seed(0)))
    finally:
        for h in hooks:
            h.remove()
    assert gen.z_dim == 128 and x.shape == (3, 3, 64, 64)
    assert x.min() >= -1 and x.max() <= 1
    assert shapes == LAYER_SHAPES
    assert not gen.training


def test_segmenter_accuracy_on_fresh_scenes():
    seg = load_segmenter()
    images, labels = render_scenes(12345, range(150))
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    pred = seg.segment(x).numpy()
    assert pred.shape == labels.shape
    assert (pred == labels).mean() > 0.98
    ious = []
    for c in range(len(seg.concepts)):
        union = ((pred == c) | (labels == c)).sum()
        if union > 200:
            ious.append(((pred == c) & (labels == c)).sum() / union)
    assert np.mean(ious) > 0.9
    probs = seg.class_probs(x[:2].requires_grad_())
    assert probs.shape == (2, 13, 64, 64) and probs.requires_grad
    assert torch.allclose(probs.sum(1), torch.ones(2, 64, 64), atol=1e-5)


def test_generated_scenes_look_like_the_world():
    gen, seg, disc = load_generator(), load_segmenter(), load_discriminator()
    with torch.no_grad():
        x = gen(torch.randn(200, gen.z_dim, generator=torch.Generator().manual_seed(1)))
        freq = np.bincount(seg.segment(x).numpy().ravel(), minlength=13) / (200 * 64 * 64)
        assert disc(x).shape == (200,)
    sky, grass, building = freq[0], freq[4], freq[9]
    assert 0.2 < sky < 0.6 and 0.2 < grass < 0.6 and building > 0.02


def test_missing_and_corrupt_weights_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_generator(tmp_path)
    (tmp_path / "generator.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelError, match="corrupt"):
        load_generator(tmp_path)
    shutil.copy(WEIGHTS_DIR / "discriminator.safetensors", tmp_path / "generator.safetensors")
    with pytest.raises(ModelError, match="missing keys: layer1"):
        load_generator(tmp_path)


def test_cli_world_sample(tmp_path):
    out = tmp_path / "grid.png"
    ok = subprocess.run(
        [sys.executable, "-m", "dissect_report", "world", "sample", "--n", "8", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    from PIL import Image

    assert Image.open(out).size == (8 * 128, 64)
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "generator.safetensors").write_bytes(b"junk")
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "dissect_report",
            "world",
            "sample",
            "--weights",
            str(tmp_path / "w"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr

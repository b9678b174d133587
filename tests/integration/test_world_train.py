"""`world train` is seeded and resumable: a run stopped and resumed gives the same weights."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from safetensors.torch import load_file

from dissect_report.world import load_generator, load_segmenter
from dissect_report.world.train import TrainConfig, train_world

TINY = TrainConfig(
    scenes=48,
    seg_steps=4,
    gan_steps=4,
    seg_batch=6,
    gan_batch=6,
    checkpoint_every=2,
    workers=1,
    bn_batches=2,
    bn_batch=8,
)


def _weights(out: Path) -> dict[str, dict[str, torch.Tensor]]:
    names = ("segmenter", "generator", "discriminator")
    return {n: load_file(str(out / f"{n}.safetensors")) for n in names}


def test_training_resumes_to_identical_weights(tmp_path: Path) -> None:
    whole = train_world(replace(TINY, out=str(tmp_path / "whole")))
    part = replace(TINY, out=str(tmp_path / "part"))
    train_world(replace(part, stop_after=3))  # "killed" at step 3, last checkpoint at 2...
    resumed = train_world(part)  # ...and run again: continues from the step-2 checkpoints
    a, b = _weights(whole), _weights(resumed)
    for model in a:
        assert a[model].keys() == b[model].keys()
        for key in a[model]:
            assert torch.equal(a[model][key], b[model][key]), f"{model}.{key}"
    # The output is the format the loaders read.
    gen, seg = load_generator(whole), load_segmenter(whole)
    with torch.no_grad():
        x = gen(torch.randn(2, gen.z_dim))
    assert x.shape == (2, 3, 64, 64) and seg.segment(x).shape == (2, 64, 64)

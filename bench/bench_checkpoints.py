"""Two checkpoints of the built-in GAN, dissected and compared with ``compare --findings``.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python bench/bench_checkpoints.py --out /tmp/ckpt \\
        --steps 300 --samples 256

Continues the shipped generator's GAN training (``dissect_report.world.train.train_gan``,
the same hinge loss, EMA and BatchNorm recalibration) for ``--steps`` more steps from the
shipped generator and discriminator (fresh Adam states) on ``--scenes`` freshly rendered
training scenes; dissects the shipped ("early") and the continued ("late") generator on the
same samples; prints ``dissect-report compare --findings early late``.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace
from pathlib import Path

import torch

from dissect_report.cli import main as cli
from dissect_report.world.nets import Discriminator, Generator
from dissect_report.world.scenes import render_dataset
from dissect_report.world.train import TRAIN_DATA_OFFSET, TrainConfig, _save_weights, train_gan
from dissect_report.world.weights import load_discriminator, load_generator


def continue_training(out: Path, steps: int, scenes: int, batch: int) -> Path:
    """Write ``out/generator.safetensors``: the shipped GAN trained ``steps`` steps more."""
    out.mkdir(parents=True, exist_ok=True)
    gen, disc = load_generator().train(), load_discriminator().train()
    start = TrainConfig().gan_steps  # the shipped weights are step 12,000's
    cfg = replace(TrainConfig(), out=str(out), scenes=scenes, gan_batch=batch)
    cfg = replace(cfg, gan_steps=start + steps, checkpoint_every=steps, workers=1)
    fresh_g, fresh_d = Generator(cfg.z_dim), Discriminator()
    opt_g = torch.optim.Adam(fresh_g.parameters(), lr=cfg.gan_lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(fresh_d.parameters(), lr=cfg.gan_lr, betas=(0.5, 0.999))
    torch.save(
        {
            "gen": gen.state_dict(),
            "disc": disc.state_dict(),
            "ema": gen.state_dict(),
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "step": start,
        },
        out / "ckpt-gan.pt",
    )
    images, _ = render_dataset(cfg.seed + TRAIN_DATA_OFFSET, scenes, 1)
    ema, _ = train_gan(cfg, torch.from_numpy(images))
    _save_weights(ema, out / "generator.safetensors")
    return out / "generator.safetensors"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/checkpoints"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--samples", type=int, default=256)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    t0 = time.perf_counter()
    weights = continue_training(args.out / "train", args.steps, args.scenes, args.batch)
    print(f"trained {args.steps} steps in {time.perf_counter() - t0:.0f} s")
    common = ["--layers", "layer3,layer4", "--samples", str(args.samples), "--no-images"]
    for name, extra in (("early", []), ("late", ["--weights", str(weights)])):
        if not (args.out / name / "manifest.json").is_file():
            cli(["dissect", "--out", str(args.out / name), *common, *extra])
    cli(["compare", "--findings", str(args.out / "early"), str(args.out / "late")])


if __name__ == "__main__":
    main()

"""Throughput of the full one-pass statistics vs generator + segmenter forward passes alone.

Usage::

    python bench/bench_dissect.py                      # 3 layers, batch 64, 512 samples
    python bench/bench_dissect.py --samples 1024 --policy iqr --threads 2

Prints samples/s of (a) the forward-only loop (latents -> generator -> segmenter) and (b) the
full statistics pass (the same forward passes with traced layers, calibration, joint
histograms, top-k), and their ratio (b / a). Uses the built-in world's trained models when
their weights are installed, otherwise the same architectures with seeded random weights
(same cost).
"""

from __future__ import annotations

import argparse
import time

import torch

from dissect_report.config import DissectConfig
from dissect_report.dissection.statspass import run_pass
from dissect_report.models import Models, load_models


class _Seg:
    """The built-in segmenter architecture, untrained, as a segmenter."""

    def __init__(self) -> None:
        from dissect_report.world import CONCEPTS, PALETTE
        from dissect_report.world.nets import SegNet

        torch.manual_seed(1)
        self.net = SegNet(len(CONCEPTS)).eval()
        self.concepts = list(CONCEPTS)
        self.colors = [PALETTE[c] for c in CONCEPTS]

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).argmax(1)


def builtin_models(config: DissectConfig) -> tuple[Models, str]:
    try:
        return load_models(config), "trained built-in world"
    except Exception as exc:  # weights not installed yet
        from dissect_report.world.nets import Generator

        torch.manual_seed(0)
        gen = Generator().eval().to(config.device)
        seg = _Seg()
        seg.net.to(config.device)
        models = Models(gen, gen.z_dim, seg, config.seed, torch.device(config.device), {})
        return models, f"untrained built-in architectures ({type(exc).__name__})"


def forward_only(models: Models, samples: int, batch: int) -> float:
    t0 = time.perf_counter()
    for start in range(0, samples, batch):
        images = models.sample(range(start, min(start + batch, samples)))
        models.segment(images)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--layers", default="layer2,layer3,layer4")
    parser.add_argument("--policy", default="quantile", choices=["quantile", "iqr", "max-iou"])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = DissectConfig(
        layers=args.layers,
        samples=args.samples,
        batch_size=args.batch_size,
        policy=args.policy,
        device=args.device,
    )
    models, which = builtin_models(config)
    forward_only(models, args.batch_size, args.batch_size)  # warm-up
    t_fwd = forward_only(models, args.samples, args.batch_size)
    t0 = time.perf_counter()
    run_pass(models, config, 0, args.samples)
    t_full = time.perf_counter() - t0
    fwd, full = args.samples / t_fwd, args.samples / t_full
    print(
        f"models:        {which}; layers {args.layers}; batch {args.batch_size}; "
        f"{args.samples} samples; policy {args.policy}; threads {torch.get_num_threads()}"
    )
    print(f"forward only:  {fwd:8.1f} samples/s  ({t_fwd:.1f} s)")
    print(
        f"full pass:     {full:8.1f} samples/s  ({t_full:.1f} s, incl. calibration on "
        f"{min(config.calibration_samples, args.samples)} samples)"
    )
    print(f"ratio:         {full / fwd:8.2f}  (target >= 0.5)")


if __name__ == "__main__":
    main()

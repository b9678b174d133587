"""Throughput of the full one-pass statistics vs generator + segmenter forward passes alone.

Usage::

    python bench/bench_dissect.py                      # 3 layers, batch 64, 512 samples
    python bench/bench_dissect.py --samples 256 --policies iqr,quantile --threads 1

Times (a) the forward-only loop (latents -> generator -> segmenter) and (b) the full
statistics pass (the same forward passes with traced layers, calibration, joint histograms,
top-k) per policy, side by side and alternating in one process, and prints the median of
(b) / (a) as throughput ratios (samples/s of the pass over samples/s of the forward alone),
in wall-clock and CPU time (CPU time is what a loaded shared machine still measures). Uses the built-in world's trained models when
their weights are installed, otherwise the same architectures with seeded random weights
(same cost).
"""

from __future__ import annotations

import argparse
import statistics
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


def forward_only(models: Models, samples: int, batch: int) -> tuple[float, float]:
    """Wall and CPU seconds of the forward passes alone (generator, then segmenter)."""
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, samples, batch):
        images = models.sample(range(start, min(start + batch, samples)))
        models.segment(images)
    return time.perf_counter() - t0, time.process_time() - c0


def full_pass(models: Models, config: DissectConfig) -> tuple[float, float]:
    """Wall and CPU seconds of the statistics pass (calibration included)."""
    t0, c0 = time.perf_counter(), time.process_time()
    run_pass(models, config, 0, config.samples)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--layers", default="layer2,layer3,layer4")
    parser.add_argument("--policies", default="iqr,quantile", help="comma-separated policies")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs; medians")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    policies = args.policies.split(",")
    configs = {
        p: DissectConfig(
            layers=args.layers,
            samples=args.samples,
            batch_size=args.batch_size,
            policy=p,
            device=args.device,
        )
        for p in policies
    }
    models, which = builtin_models(configs[policies[0]])
    forward_only(models, args.batch_size, args.batch_size)  # warm-up
    full_pass(models, configs[policies[0]].model_copy(update={"samples": args.batch_size}))
    ratios: dict[str, list[tuple[float, float]]] = {p: [] for p in policies}
    for _ in range(args.repeats):  # forward-only and each policy side by side, alternating
        for p in policies:
            fwd = forward_only(models, args.samples, args.batch_size)
            full = full_pass(models, configs[p])
            ratios[p].append((fwd[0] / full[0], fwd[1] / full[1]))
    print(
        f"models: {which}; layers {args.layers}; batch {args.batch_size}; "
        f"{args.samples} samples (calibration on {min(128, args.samples)} included); "
        f"threads {torch.get_num_threads()}; {args.repeats} runs"
    )
    for p in policies:
        wall = sorted(r[0] for r in ratios[p])
        cpu = sorted(r[1] for r in ratios[p])
        runs = ", ".join(f"{r[0]:.2f}" for r in ratios[p])
        print(
            f"pass / forward-only, {p:8s}: {statistics.median(wall):.2f} wall "
            f"(runs {runs}), {statistics.median(cpu):.2f} CPU"
        )


if __name__ == "__main__":
    main()

"""Random-weight stand-ins of the models people dissect: a ProGAN-shaped generator, a segmenter.

Usage::

    from standins import standin_models
    models = standin_models(resolution=128, concepts=150)      # dissect_report Models
    models.generator.layers_by_size()                           # {16: "layer16", 32: "layer32", ...}

The generator has ProGAN's layer shapes (512 units up to a quarter of the resolution, then
halving: at 256x256, 512 x 16x16, 512 x 32x32, 512 x 64x64, 256 x 128x128, 128 x 256x256),
each stage an upsample, one 3x3 convolution, LeakyReLU(0.2) and pixel norm (ProGAN has two
convolutions per stage: this stand-in costs about half, so "pass vs forward-only" ratios are
conservative). ``units`` overrides the width of one stage. The segmenter costs about what a
SegFormer-B0 does (strided convolutions to 1/32, logits at 1/4, bilinear to full size) and
returns ``concepts`` classes. Weights are seeded, so runs are repeatable.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from dissect_report.models import Models


class _PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def progan_width(size: int, resolution: int) -> int:
    """ProGAN's channel count at ``size`` for a ``resolution`` generator."""
    return min(512, 512 * resolution // (4 * size))


class StandInGenerator(nn.Module):
    """``z (N, 512) -> images (N, 3, R, R)`` in [-1, 1]; stage outputs are ``layer<size>``."""

    def __init__(self, resolution: int = 256, units: dict[int, int] | None = None) -> None:
        super().__init__()
        self.z_dim = 512
        self.resolution = resolution
        widths = {s: progan_width(s, resolution) for s in _sizes(resolution)}
        widths.update(units or {})
        self.input = nn.Linear(self.z_dim, widths[4] * 16)
        self.widths = widths
        prev = widths[4]
        for size in _sizes(resolution)[1:]:
            stage = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(prev, widths[size], 3, padding=1),
                nn.LeakyReLU(0.2),
                _PixelNorm(),
            )
            self.add_module(f"layer{size}", stage)
            prev = widths[size]
        self.output = nn.Conv2d(prev, 3, 1)

    def layers_by_size(self) -> dict[int, str]:
        return {s: f"layer{s}" for s in _sizes(self.resolution)[1:]}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.input(z), 0.2).view(z.shape[0], self.widths[4], 4, 4)
        for size in _sizes(self.resolution)[1:]:
            x = getattr(self, f"layer{size}")(x)
        return torch.tanh(self.output(x))


def _sizes(resolution: int) -> list[int]:
    sizes = [4]
    while sizes[-1] < resolution:
        sizes.append(sizes[-1] * 2)
    return sizes


class StandInSegmenter:
    """SegFormer-B0-sized encoder (strides 4, 8, 16, 32), logits at 1/4, ``concepts`` classes."""

    def __init__(self, concepts: int = 150) -> None:
        torch.manual_seed(2)
        self.concepts = [f"concept{i}" for i in range(concepts)]
        gen = torch.Generator().manual_seed(3)
        self.colors = [
            tuple(int(v) for v in c) for c in torch.randint(0, 256, (concepts, 3), generator=gen)
        ]
        self.stem = nn.Conv2d(3, 32, 7, stride=4, padding=3)
        self.down = nn.ModuleList(
            [nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in [(32, 64), (64, 160), (160, 256)]]
        )
        self.fuse = nn.ModuleList([nn.Conv2d(c, 256, 1) for c in (32, 64, 160, 256)])
        self.classify = nn.Conv2d(256, concepts, 1)
        self.nets = nn.ModuleList([self.stem, self.down, self.fuse, self.classify]).eval()

    def to(self, device: torch.device | str) -> StandInSegmenter:
        self.nets.to(device)
        return self

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.stem(images))
        feats = [x]
        for conv in self.down:
            x = F.gelu(conv(x))
            feats.append(x)
        size = feats[0].shape[2:]
        fused = sum(
            F.interpolate(f(x), size=size, mode="bilinear", align_corners=False)
            for f, x in zip(self.fuse, feats, strict=True)
        )
        logits = self.classify(fused)
        logits = F.interpolate(logits, size=images.shape[2:], mode="bilinear", align_corners=False)
        return logits.argmax(dim=1)


def standin_models(
    resolution: int = 256,
    concepts: int = 150,
    units: dict[int, int] | None = None,
    device: str = "cpu",
    seed: int = 1,
) -> Models:
    """The stand-in generator and segmenter as :class:`~dissect_report.models.Models`."""
    torch.manual_seed(0)
    gen = StandInGenerator(resolution, units).eval().to(device)
    seg = StandInSegmenter(concepts).to(device)
    return Models(gen, gen.z_dim, seg, seed, torch.device(device), {})


def generator_256() -> StandInGenerator:
    """Factory for the CLI (``--generator standins:generator_256``): the 256 px stand-in."""
    torch.manual_seed(0)
    return StandInGenerator(256).eval()


def generator_32() -> StandInGenerator:
    """Factory for the CLI: a 32 px stand-in with 32-unit stages (dry runs, CI)."""
    torch.manual_seed(0)
    return StandInGenerator(32, {size: 32 for size in _sizes(32)}).eval()


def segmenter_150() -> StandInSegmenter:
    """Factory for the CLI (``--segmenter standins:segmenter_150``): 150 classes."""
    return StandInSegmenter(150)


def segmenter_10() -> StandInSegmenter:
    """Factory for the CLI: 10 classes (dry runs, CI)."""
    return StandInSegmenter(10)

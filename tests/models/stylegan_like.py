"""A small StyleGAN-like generator: mapping network, modulated convolutions, per-layer noise
from the global RNG (``x.new_empty(...).normal_()``, as rosinality's stylegan2-pytorch does)
and blocks that return tuples ``(x, rgb)``; plus a segmenter of its images.

Usage (``tests/models`` on ``PYTHONPATH``)::

    dissect-report dissect --generator stylegan_like:make_generator --seeded-noise \\
        --segmenter stylegan_like:make_segmenter --layers "blocks.1[0]" --out report

Random weights, fixed by a seed: it is here for its architecture. Without
``--seeded-noise`` the model check refuses it (the noise makes sample ``i`` depend on its
batch); with it, sample ``i``'s noise is a function of ``(seed, i)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Z_DIM = 16
W_DIM = 16


class Mapping(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(Z_DIM, W_DIM), nn.LeakyReLU(0.2), nn.Linear(W_DIM, W_DIM), nn.LeakyReLU(0.2)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z / z.pow(2).mean(dim=1, keepdim=True).add(1e-8).sqrt()  # pixel norm
        return self.net(z)


class ModulatedConv(nn.Module):
    """Weight modulation by the style and demodulation, per sample (grouped convolution)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, 3, 3))
        self.style = nn.Linear(W_DIM, cin)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        n, cin, h, wd = x.shape
        s = self.style(w).view(n, 1, cin, 1, 1) + 1.0
        weight = self.weight.unsqueeze(0) * s
        weight = weight / weight.pow(2).sum(dim=(2, 3, 4), keepdim=True).add(1e-8).sqrt()
        out = F.conv2d(
            x.reshape(1, n * cin, h, wd), weight.reshape(-1, cin, 3, 3), padding=1, groups=n
        )
        return out.view(n, -1, h, wd)


class NoiseInjection(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        noise = x.new_empty(x.shape[0], 1, x.shape[2], x.shape[3]).normal_()
        return x + self.strength * noise


class Block(nn.Module):
    """Upsample, two modulated convs sharing one activation module, noise; returns (x, rgb)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = ModulatedConv(cin, cout)
        self.conv2 = ModulatedConv(cout, cout)
        self.noise = NoiseInjection()
        self.act = nn.LeakyReLU(0.2)  # one module, called twice per forward
        self.to_rgb = nn.Conv2d(cout, 3, 1)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.act(self.noise(self.conv1(x, w)))
        x = self.act(self.conv2(x, w))
        return x, self.to_rgb(x)


class StyleGANLike(nn.Module):
    z_dim = Z_DIM

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(7)  # random weights, the same ones every time
        self.mapping = Mapping()
        self.const = nn.Parameter(torch.randn(1, 32, 4, 4))
        self.blocks = nn.ModuleList([Block(32, 32), Block(32, 16), Block(16, 8)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = self.mapping(z)
        x = self.const.expand(z.shape[0], -1, -1, -1)
        rgb = None
        for block in self.blocks:
            x, y = block(x, w)
            rgb = y if rgb is None else F.interpolate(rgb, scale_factor=2, mode="nearest") + y
        assert rgb is not None
        return torch.tanh(rgb)


def make_generator() -> StyleGANLike:
    return StyleGANLike().eval()


class BrightnessSegmenter:
    """Three concepts by the image's brightness (dark / mid / bright): a real function of the
    pixels, enough to test that tables do not change between runs."""

    concepts = ["dark", "mid", "bright"]
    colors = [(30, 30, 30), (128, 128, 128), (240, 240, 240)]

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        v = images.detach().float().mean(dim=1)
        return (v > -0.1).long() + (v > 0.1).long()


def make_segmenter() -> BrightnessSegmenter:
    return BrightnessSegmenter()


class SlowSegmenter(BrightnessSegmenter):
    """The same labels, 50 ms per batch: time to kill a run between two checkpoints."""

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        import time

        time.sleep(0.05)
        return super().segment(images)


def slow_segmenter() -> SlowSegmenter:
    return SlowSegmenter()

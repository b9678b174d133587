"""Hostile models for the fault tests (import paths for the CLI, with tests/ on PYTHONPATH).

Usage::

    dissect-report dissect --generator fault_toys:long_layer_generator \
        --segmenter fault_toys:hostile_segmenter --layers "$(python -c ...LONG_LAYER)"

Each one breaks a promise a real user's model may break: names no file system takes as
they are, code that raises, images of the wrong shape.
"""

from __future__ import annotations

import torch
from dissect_toys import COLORS, Planted, PlantedSegmenter
from torch import nn

# An emoji and markup in one concept name, 500 characters in the other.
HOSTILE_CONCEPTS = ["sky 🌤 <b>&amp;</b>", "T" * 250 + "🌲" + "r" * 249]
LONG_LAYER = "features_" + "x" * 291  # 300 characters: over any file-name limit


class HostileSegmenter(PlantedSegmenter):
    concepts = HOSTILE_CONCEPTS
    colors = COLORS


def hostile_segmenter() -> HostileSegmenter:
    return HostileSegmenter()


class LongLayer(Planted):
    """The planted generator with its ``features`` layer under a 300-character name."""

    def __init__(self) -> None:
        super().__init__()
        self.add_module(LONG_LAYER, self.features)
        del self.features

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.render(getattr(self, LONG_LAYER)(z) * self.scale)


def long_layer_generator() -> LongLayer:
    return LongLayer()


class RaisingSegmenter(PlantedSegmenter):
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        raise ValueError("segmenter exploded on purpose")


def raising_segmenter() -> RaisingSegmenter:
    return RaisingSegmenter()


class RaisingGenerator(Planted):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("generator exploded on purpose")


def raising_generator() -> RaisingGenerator:
    return RaisingGenerator()


class GrayGenerator(Planted):
    """One channel instead of three."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z)[:, :1]


def gray_generator() -> GrayGenerator:
    return GrayGenerator()


class FlatImages(Planted):
    """Images flattened to (N, 3 * 32 * 32)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z).flatten(1)


def flat_images_generator() -> FlatImages:
    return FlatImages()


class RaisingDiscriminator(nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        raise KeyError("discriminator exploded on purpose")


def raising_discriminator() -> RaisingDiscriminator:
    return RaisingDiscriminator()


class Speck(nn.Module):
    """z (N, 4) -> (N, 5, 8, 8): units 0-3 pure noise (a fixed hash of z and position, blind
    to the image), unit 4 a one-cell "tree" speck (1/64 of the image: sky is 98%)."""

    z_dim = 4

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("w", torch.randn(4, 4, 64, generator=g))
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n = z.shape[0]
        noise = torch.sin(1000.0 * torch.einsum("nz,uzk->nuk", z, self.w)).view(n, 4, 8, 8)
        cell = (torch.sigmoid(z[:, :2]) * 8).long().clamp(0, 7)
        speck = torch.zeros(n, 1, 8, 8)
        speck[torch.arange(n), 0, cell[:, 0], cell[:, 1]] = 1.0
        return torch.cat([noise, speck], dim=1) * self.scale


class SpeckGenerator(nn.Module):
    z_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.features = Speck()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        speck = self.features(z)[:, 4:5]
        tree = torch.nn.functional.interpolate(speck, scale_factor=4, mode="nearest")
        sky = torch.tensor([c / 127.5 - 1 for c in COLORS[0]]).view(1, 3, 1, 1)
        green = torch.tensor([c / 127.5 - 1 for c in COLORS[1]]).view(1, 3, 1, 1)
        return sky * (1 - tree) + green * tree


def speck_generator() -> SpeckGenerator:
    return SpeckGenerator()


class GatedSegmenter(PlantedSegmenter):
    """Waits (up to a minute) until the file named by $FAULT_TOYS_GATE exists: a writer that
    holds its lock for exactly as long as a test needs, however loaded the machine is."""

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        import os
        import time
        from pathlib import Path

        gate = os.environ.get("FAULT_TOYS_GATE")
        deadline = time.monotonic() + 60
        while gate and not Path(gate).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return super().segment(images)


def gated_segmenter() -> GatedSegmenter:
    return GatedSegmenter()

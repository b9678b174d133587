"""The DCGAN face generator of the PyPI package ``gan-face-generate`` and a crude face segmenter.

Usage (``tests/models`` on ``PYTHONPATH``; ``pip install --no-deps gan-face-generate==1.1.1``)::

    dissect-report dissect --generator face_gan:make_generator --weights "$(python -c \\
        'import face_gan; print(face_gan.weights_path())')" --latent-shape 100,1,1 \\
        --segmenter face_gan:make_segmenter --layers main.5,main.8 --out faces

The generator is the package's own ``gan_face_generate.models.Generator`` (the PyTorch DCGAN
tutorial's architecture: ``nn.Sequential`` of ConvTranspose2d/BatchNorm2d/ReLU, latents
``(N, 100, 1, 1)``, images ``(N, 3, 64, 64)`` in [-1, 1]) with the trained weights the package
ships, a nested checkpoint ``{"netG_state_dict": {...}}`` in ``weights.tar``. Nobody on this
project wrote or trained it.

The segmenter is CRUDE, on purpose a few lines of colour and position rules and no learning:
"skin" is a warm pixel (red > green > blue) inside a central ellipse, "hair" a dark pixel in
the upper two thirds outside the inner face, "mouth" a pixel redder than skin in the lower
middle of the face, "background" everything else. On this generator's 64 x 64 faces it
outlines the face and hair well enough for units to agree with it; it mislabels hats,
glasses, dark skin as hair and warm backgrounds as skin, so its IoUs are a test of the
plumbing, not a finding about faces. The discriminator is the package's architecture
(ending in ``nn.Sigmoid``) with untrained weights: the package ships none for it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

CONCEPTS = ["background", "skin", "hair", "mouth"]
COLORS = [(90, 90, 110), (230, 180, 150), (70, 45, 25), (200, 30, 60)]


def weights_path() -> str:
    """The trained generator checkpoint inside the installed package (``weights.tar``)."""
    import gan_face_generate

    return str(Path(gan_face_generate.__file__).parent / "weights.tar")


def make_generator() -> nn.Module:
    """The package's DCGAN generator (untrained until ``--weights`` loads the checkpoint)."""
    from gan_face_generate.models import Generator

    return Generator(ngpu=0, nc=3, nz=100, ngf=64)


def make_discriminator() -> nn.Module:
    """The package's discriminator architecture: ends in a sigmoid (probabilities). Untrained."""
    from gan_face_generate.models import Discriminator

    torch.manual_seed(0)  # untrained, but the same weights every time
    return Discriminator(ngpu=0, nc=3, ndf=64).eval()


class FaceSegmenter:
    """Colour-and-position rules on ``(N, 3, H, W)`` images in [-1, 1] -> ``(N, H, W)`` labels."""

    concepts = CONCEPTS
    colors = COLORS

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.detach().float().cpu().clamp(-1, 1) + 1) / 2
        r, g, b = x[:, 0], x[:, 1], x[:, 2]
        n, h, w = r.shape
        yy = (torch.arange(h, dtype=torch.float32).view(h, 1) + 0.5) / h
        xx = (torch.arange(w, dtype=torch.float32).view(1, w) + 0.5) / w
        # faces are centred: an ellipse a little below the middle, and the inner face in it
        face = ((xx - 0.5) / 0.36) ** 2 + ((yy - 0.55) / 0.45) ** 2 <= 1.0
        inner = ((xx - 0.5) / 0.26) ** 2 + ((yy - 0.58) / 0.33) ** 2 <= 1.0
        value = x.max(dim=1).values
        warm = (r > g) & (g > b) & (r - b > 0.1) & (value > 0.3)
        skin = warm & face
        hair = (value < 0.33) & (yy < 0.67) & ~inner & ~skin
        lower = (yy > 0.68) & (yy < 0.92) & ((xx - 0.5).abs() < 0.17)
        reddish = (r - g > 0.18) & (r - b > 0.12) & ~((g > 0.55) & (b > 0.45))
        mouth = inner & lower & (reddish | (value < 0.3))
        labels = torch.zeros(n, h, w, dtype=torch.int64)
        labels[skin] = 1
        labels[hair] = 2
        labels[mouth] = 3
        return labels

    def to(self, device: object) -> FaceSegmenter:
        return self


def make_segmenter() -> FaceSegmenter:
    return FaceSegmenter()

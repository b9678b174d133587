"""Architectures of the built-in world's models: generator, discriminator, segmenter.

Usage::

    from dissect_report.world.nets import Generator
    g = Generator()
    images = g(torch.randn(4, g.z_dim))       # (4, 3, 64, 64) in [-1, 1]

The generator's layers are named ``layer1`` (4x4) ... ``layer5`` (64x64) and ``output`` so
they can be dissected by name.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import spectral_norm


def _up(cin: int, cout: int, first: bool = False) -> nn.Sequential:
    conv = (
        nn.ConvTranspose2d(cin, cout, 4, 1, 0, bias=False)
        if first
        else nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)
    )
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Generator(nn.Module):
    """DCGAN-style generator: z ``(N, z_dim)`` -> image ``(N, 3, 64, 64)`` in ``[-1, 1]``."""

    def __init__(self, z_dim: int = 128, widths: tuple[int, ...] = (256, 256, 128, 64, 32)) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.layer1 = _up(z_dim, widths[0], first=True)  # 4x4
        self.layer2 = _up(widths[0], widths[1])  # 8x8
        self.layer3 = _up(widths[1], widths[2])  # 16x16
        self.layer4 = _up(widths[2], widths[3])  # 32x32
        self.layer5 = _up(widths[3], widths[4])  # 64x64
        self.output = nn.Sequential(nn.Conv2d(widths[4], 3, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.view(z.shape[0], self.z_dim, 1, 1)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4, self.layer5, self.output):
            x = layer(x)
        return x


class Discriminator(nn.Module):
    """Spectrally normalized conv net: image ``(N, 3, 64, 64)`` -> realism logit ``(N,)``."""

    def __init__(self, widths: tuple[int, ...] = (64, 128, 256, 256)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for w in widths:  # 64 -> 32 -> 16 -> 8 -> 4
            layers += [spectral_norm(nn.Conv2d(cin, w, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            cin = w
        self.features = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Conv2d(cin, 1, 4, 1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(-1)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SegNet(nn.Module):
    """A small U-Net: image ``(N, 3, H, W)`` in ``[-1, 1]`` -> logits ``(N, classes, H, W)``."""

    def __init__(self, classes: int = 13, widths: tuple[int, ...] = (32, 64, 128, 160)) -> None:
        super().__init__()
        w1, w2, w3, w4 = widths
        self.enc1, self.enc2, self.enc3, self.mid = (
            _block(3, w1),
            _block(w1, w2),
            _block(w2, w3),
            _block(w3, w4),
        )
        self.up3, self.dec3 = nn.ConvTranspose2d(w4, w3, 2, 2), _block(2 * w3, w3)
        self.up2, self.dec2 = nn.ConvTranspose2d(w3, w2, 2, 2), _block(2 * w2, w2)
        self.up1, self.dec1 = nn.ConvTranspose2d(w2, w1, 2, 2), _block(2 * w1, w1)
        self.head = nn.Conv2d(w1, classes, 1)
        self.pool = nn.MaxPool2d(2)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        e3 = self.enc3(self.pool(e2))
        return e1, e2, e3, self.mid(self.pool(e3))

    def bottleneck(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck features alone (the encoder; no decoder pass)."""
        return self._encode(x)[3]

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the bottleneck features (the penultimate semantic summary)."""
        e1, e2, e3, m = self._encode(x)
        d3 = self.dec3(torch.cat([self.up3(m), e3], 1))
        d2 = self.dec2(torch.cat([self.up2(d3), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1), m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]

"""A small DCGAN laid out as the PyTorch DCGAN tutorial's (one flat ``main`` Sequential), carrying
the built-in world generator's weights under its own layer names.

Usage (``tests/models`` on ``sys.path``)::

    DissectConfig(generator="small_dcgan:make_generator", layers=("main.8", "main.11"), ...)

Another architecture by every name a report records (module paths ``main.8``/``main.11``
instead of ``layer3``/``layer4``, another factory and state hash), computing the same function:
``main.8`` is the world's ``layer3`` (16 x 16, 128 units) and ``main.11`` its ``layer4``, so a
findings comparison of the two must find the same units per concept in those layers.
"""

from __future__ import annotations

import torch
from torch import nn

from dissect_report.world.nets import Generator
from dissect_report.world.weights import load_generator


class SmallDCGAN(nn.Module):
    """z ``(N, 128)`` -> image ``(N, 3, 64, 64)``: five (conv, BN, ReLU) stages, conv, tanh."""

    def __init__(self, world: Generator) -> None:
        super().__init__()
        self.z_dim = world.z_dim
        stages = [world.layer1, world.layer2, world.layer3, world.layer4, world.layer5]
        self.main = nn.Sequential(*[m for stage in stages for m in stage], *world.output)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], self.z_dim, 1, 1))


def make_generator() -> nn.Module:
    """The small DCGAN with the built-in world's trained weights."""
    return SmallDCGAN(load_generator())

"""The built-in world with StyleGAN-like per-pixel noise after ``layer3`` (for --seeded-noise).

The noise is drawn as rosinality's stylegan2-pytorch draws it, ``x.new_empty(...).normal_()``,
inside the forward pass, after the layer the Paint page edits (``layer2``): the page's tail
must reproduce each sample's noise.
"""

from __future__ import annotations

import torch
from torch import nn

from dissect_report import world


def _noise(_m: nn.Module, _i: tuple[torch.Tensor, ...], out: torch.Tensor) -> torch.Tensor:
    noise = out.new_empty(out.shape[0], 1, out.shape[2], out.shape[3]).normal_()
    return out + 0.3 * noise


def make_generator() -> nn.Module:
    generator = world.load_generator()
    generator.layer3.register_forward_hook(_noise)
    return generator

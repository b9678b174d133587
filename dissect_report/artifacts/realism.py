"""A discriminator's realism as logits: a final sigmoid is detected and undone, or refused.

Usage::

    from dissect_report.artifacts.realism import detect_sigmoid, as_logits
    detect_sigmoid(discriminator, images)          # True: its output ends in a sigmoid
    d, how = as_logits(discriminator, images)      # d returns logits; how: "logits" or
                                                   # "sigmoid converted to logits"

Why: a sigmoid squashes differences between images. A DCGAN discriminator that ends in
``nn.Sigmoid`` reads 0.5 -> 0.5004 where its logit moves by 0.002, and the realism gains that
confirm a repair become meaningless. Detection follows the autograd graph of one forward pass
back from the output through shape-only operations (view, reshape, squeeze, flatten, select,
mean over outputs); the output is a probability when that walk reaches a sigmoid (``nn.Sigmoid``
and ``torch.sigmoid`` alike). Discriminators that run under ``no_grad`` inside are judged by
their last submodule instead. Probabilities are converted by ``log p - log(1 - p)`` in float64;
if any is exactly 0 or 1 (float32 saturates beyond logits of about +17 / -88) the logit is
lost, so :func:`logits_of` raises a one-line ModelError naming the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dissect_report.errors import ModelError

Discriminator = nn.Module | Callable[[torch.Tensor], torch.Tensor]

# Autograd nodes that only move or average values: a sigmoid before them is still the output's.
_PASS_THROUGH = (
    "View",
    "Reshape",
    "UnsafeView",
    "Squeeze",
    "Unsqueeze",
    "Select",
    "Slice",
    "Expand",
    "Clone",
    "Mean",
    "Permute",
    "Transpose",
    "ToCopy",
    "Alias",
)


def _ends_in_sigmoid(fn: Any) -> bool:
    seen = 0
    while fn is not None and seen < 64:
        name = type(fn).__name__
        if name.startswith("SigmoidBackward"):
            return True
        if not name.startswith(_PASS_THROUGH):
            return False
        parents = [f for f, _ in fn.next_functions if f is not None]
        if len(parents) != 1:
            return False
        fn, seen = parents[0], seen + 1
    return False


def _last_module_is_sigmoid(d: Discriminator) -> bool:
    if not isinstance(d, nn.Module):
        return False
    leaves = [m for m in d.modules() if not list(m.children())]
    return bool(leaves) and isinstance(leaves[-1], nn.Sigmoid)


def detect_sigmoid(discriminator: Discriminator, images: torch.Tensor) -> bool:
    """Whether ``discriminator``'s output on ``images`` (N, 3, H, W) comes from a sigmoid.

    Runs one forward pass in eval mode with gradients on a copy of ``images`` (the weights'
    ``requires_grad`` flags are restored after) and reads the autograd graph; see the module doc.
    """
    from dissect_report.modeltools.frozen import frozen

    x = images.detach().clone().requires_grad_(True)
    with frozen(discriminator), torch.enable_grad():  # eval mode: BatchNorm statistics stay
        out = discriminator(x)
    if not isinstance(out, torch.Tensor):
        raise ModelError(f"the discriminator must return a tensor; got {type(out).__name__}")
    if out.grad_fn is None:
        return _last_module_is_sigmoid(discriminator)
    return _ends_in_sigmoid(out.grad_fn)


def logits_of(probabilities: torch.Tensor) -> torch.Tensor:
    """``log p - log(1 - p)`` in float64; ModelError if any ``p`` is 0, 1 or outside [0, 1]."""
    p = probabilities.double()
    bad = (p <= 0) | (p >= 1) | ~torch.isfinite(p)
    if bool(bad.any()):
        k = int(bad.sum())
        raise ModelError(
            f"the discriminator ends in a sigmoid that saturates ({k} of {p.numel()} outputs are "
            "exactly 0 or 1), so its logits are lost; give it without the final sigmoid"
        )
    return torch.log(p) - torch.log1p(-p)


class SigmoidUndone(nn.Module):
    """A discriminator whose final sigmoid is undone: returns logits (float64)."""

    def __init__(self, discriminator: Discriminator) -> None:
        super().__init__()
        self.inner = discriminator

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return logits_of(self.inner(images))


def as_logits(discriminator: Discriminator, images: torch.Tensor) -> tuple[Discriminator, str]:
    """``(discriminator returning logits, how)``; ``how`` says what was done, for the manifest."""
    if detect_sigmoid(discriminator, images):
        return SigmoidUndone(discriminator), "sigmoid converted to logits"
    return discriminator, "logits"

"""The built-in world's generator and segmenter, perturbed or changed, for the golden tests.

Usage (as config import paths; ``tests/`` is on ``sys.path`` in the test run)::

    DissectConfig(generator="world_variants:perturbed_generator", ...)   # float noise only
    DissectConfig(generator="world_variants:swapped_generator", ...)     # two units swap
    DissectConfig(segmenter="world_variants:doorless_segmenter", ...)    # a concept removed

``perturbed_generator`` multiplies every block's output by ``1 + 1e-6 * u`` with ``u`` in
[-1, 1): the relative size of what another BLAS, another torch build or a GPU changes. ``u`` is
a hash of the value itself, not a random draw, so sample ``i`` stays a pure function of
``(seed, i)`` whatever its batch (the model contract holds) and the noise never repeats a
pattern that batch order could expose.
"""

from __future__ import annotations

import torch
from torch import nn

from dissect_report.world import CONCEPTS
from dissect_report.world.weights import WorldSegmenter, load_generator, load_segmenter

RELATIVE_NOISE = 1e-6

# Two layer3 units of the golden `builtin` report with different best concepts
# (unit 1: grass, IoU 0.145; unit 3: sky, 0.199); swapping them relabels both and leaves
# the images as they were.
SWAP_LAYER, SWAP_NEXT, SWAP_UNITS = "layer3", "layer4", (1, 3)


def _hash_noise(x: torch.Tensor) -> torch.Tensor:
    """A deterministic value in [-1, 1) per element, a function of the element alone."""
    return torch.frac(torch.sin(x * 12.9898 + 78.233) * 43758.5453) * 2 - 1


def _perturbed(level: float) -> nn.Module:
    gen = load_generator()

    def perturb(_m: nn.Module, _i: tuple[torch.Tensor, ...], out: torch.Tensor) -> torch.Tensor:
        return out * (1 + level * _hash_noise(out))

    for name in ("layer1", "layer2", "layer3", "layer4", "layer5", "output"):
        getattr(gen, name).register_forward_hook(perturb)
    return gen


def perturbed_generator() -> nn.Module:
    """The built-in generator with relative noise 1e-6 on every block's output."""
    return _perturbed(RELATIVE_NOISE)


def tf32_perturbed_generator() -> nn.Module:
    """The same with relative noise 1e-3, the size of TF32 matmuls on a GPU (for the bench)."""
    return _perturbed(1e-3)


def _swap(x: torch.Tensor) -> torch.Tensor:
    a, b = SWAP_UNITS
    order = list(range(x.shape[1]))
    order[a], order[b] = b, a
    return x[:, order]


def swapped_generator() -> nn.Module:
    """The built-in generator whose ``layer3`` units 1 and 3 trade places.

    The next block swaps them back, so the images are unchanged and only the two units'
    findings (concept, IoU, threshold, top samples) exchange: a unit relabelled.
    """
    gen = load_generator()
    getattr(gen, SWAP_LAYER).register_forward_hook(lambda _m, _i, out: _swap(out))
    getattr(gen, SWAP_NEXT).register_forward_pre_hook(lambda _m, args: (_swap(args[0]),))
    return gen


class DoorlessSegmenter(WorldSegmenter):
    """The built-in segmenter without ``door``: door pixels read as ``building``."""

    name = "builtin-world-segmenter-without-door"

    def __init__(self) -> None:
        super().__init__(load_segmenter().net)
        self.concepts = [c for c in self.concepts if c != "door"]
        self.colors = self.colors[: len(self.concepts)]
        self._door, self._building = CONCEPTS.index("door"), CONCEPTS.index("building")

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        labels = super().segment(images)
        return torch.where(labels == self._door, self._building, labels)


def doorless_segmenter() -> DoorlessSegmenter:
    """A segmenter that lost one concept (``door``), as a retrained segmenter might."""
    return DoorlessSegmenter()

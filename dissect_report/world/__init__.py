"""The built-in world: procedural scenes with exact labels, and the small models trained on them.

Usage::

    from dissect_report import world
    images, labels = world.render_scenes(seed=0, indices=range(8))
    gen = world.load_generator()          # z (N, gen.z_dim) -> images (N, 3, 64, 64) in [-1, 1]
    seg = world.load_segmenter()          # the segmenter protocol of dissect_report.segmenter
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dissect_report.lazy import lazy_exports
from dissect_report.world.scenes import CONCEPTS, PALETTE, colorize, render_scene, render_scenes

if TYPE_CHECKING:
    from dissect_report.world.weights import (
        WorldSegmenter,
        load_discriminator,
        load_generator,
        load_segmenter,
    )

__all__ = [
    "CONCEPTS",
    "PALETTE",
    "colorize",
    "render_scene",
    "render_scenes",
    "load_generator",
    "load_discriminator",
    "load_segmenter",
    "WorldSegmenter",
]


# The loaders import torch; keep the renderer import light.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "load_generator": ".weights",
        "load_discriminator": ".weights",
        "load_segmenter": ".weights",
        "WorldSegmenter": ".weights",
    },
)

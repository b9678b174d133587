"""The built-in world: procedural scenes with exact labels, and the small models trained on them.

Usage::

    from dissect_report import world
    images, labels = world.render_scenes(seed=0, indices=range(8))
    gen = world.load_generator()          # z (N, gen.z_dim) -> images (N, 3, 64, 64) in [-1, 1]
    seg = world.load_segmenter()          # the segmenter protocol of dissect_report.segmenter
"""

from __future__ import annotations

from dissect_report.world.scenes import CONCEPTS, PALETTE, colorize, render_scene, render_scenes

__all__ = [
    "CONCEPTS",
    "PALETTE",
    "colorize",
    "render_scene",
    "render_scenes",
    "load_generator",
    "load_discriminator",
    "load_segmenter",
]


def __getattr__(name: str):  # the loaders import torch; keep the renderer import light
    if name in {"load_generator", "load_discriminator", "load_segmenter", "WorldSegmenter"}:
        from dissect_report.world import weights

        return getattr(weights, name)
    raise AttributeError(name)

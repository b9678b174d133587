"""The segmenter protocol and its adapters.

Usage::

    from dissect_report.world import load_segmenter
    seg = load_segmenter()
    labels = seg.segment(images)          # images: float (N, 3, H, W) in [-1, 1]
    probs = seg.class_probs(images)       # differentiable (N, C, H, W), sums to 1 over C

A segmenter names its concepts (index ``i`` of ``concepts`` is label ``i``), gives each a
color, and maps generator-style images to an integer label map. ``class_probs`` is optional;
interventions that optimize unit sets need it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Segmenter(Protocol):
    """What dissection needs from a segmenter."""

    concepts: list[str]
    colors: list[tuple[int, int, int]]

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        """Label map ``(N, H, W)`` of ``int64`` in ``[0, len(concepts))`` for ``(N, 3, H, W)``."""
        ...


@runtime_checkable
class DifferentiableSegmenter(Segmenter, Protocol):
    def class_probs(self, images: torch.Tensor) -> torch.Tensor:
        """Per-pixel class probabilities ``(N, C, H, W)``, differentiable in ``images``."""
        ...

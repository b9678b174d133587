"""Models that assert the device and dtype of everything they are given (import paths for the CLI).

Usage::

    dissect-report run --generator device_toys:float64_generator \
        --segmenter device_toys:bfloat16_segmenter ...

with ``tests/`` on ``PYTHONPATH``. The built-in world's generator, segmenter and discriminator,
cast to another dtype than float32 and guarded: a tensor a stage made itself (a float32 latent,
CPU images) instead of taking it from :class:`dissect_report.models.Models` fails an assertion
inside the model, so the stage fails. On a CPU, a dtype other than float32 stands in for a
device mismatch: every tensor Models places is also cast, every tensor made elsewhere is not.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dissect_report.world.weights import WorldSegmenter


def _param(module: nn.Module) -> torch.Tensor:
    return next(p for p in module.parameters() if p.is_floating_point())


def _check(module: nn.Module, x: torch.Tensor, role: str) -> None:
    """``x`` has the module's parameters' dtype and device (also on a float32 export copy)."""
    p = _param(module)
    if x.dtype != p.dtype or x.device != p.device:
        raise AssertionError(
            f"{role} got {x.dtype} on {x.device}; its weights are {p.dtype} on {p.device}"
        )


def _guard(module: nn.Module, role: str) -> nn.Module:
    def pre_hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
        _check(mod, args[0], role)

    module.register_forward_pre_hook(pre_hook)
    return module


def _generator(dtype: torch.dtype) -> nn.Module:
    from dissect_report import world

    return _guard(world.load_generator().to(dtype), "generator")


def float64_generator() -> nn.Module:
    """The built-in generator in float64, asserting float64 latents on its device."""
    return _generator(torch.float64)


def float16_generator() -> nn.Module:
    """The built-in generator in float16, asserting float16 latents on its device."""
    return _generator(torch.float16)


class GuardedSegmenter(WorldSegmenter):
    """The built-in segmenter in ``dtype``; every method asserts its images' dtype and device."""

    def __init__(self, dtype: torch.dtype) -> None:
        from dissect_report import world

        super().__init__(world.load_segmenter().net.to(dtype))

    def class_probs(self, images: torch.Tensor) -> torch.Tensor:
        _check(self.net, images, "segmenter")
        return super().class_probs(images)

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        _check(self.net, images, "segmenter")
        return super().segment(images)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        _check(self.net, images, "segmenter")
        return super().features(images)


def bfloat16_segmenter() -> GuardedSegmenter:
    """The built-in segmenter in bfloat16, asserting bfloat16 images on its device."""
    return GuardedSegmenter(torch.bfloat16)


def float64_discriminator() -> nn.Module:
    """The built-in discriminator in float64, asserting float64 images on its device."""
    from dissect_report import world

    return _guard(world.load_discriminator().double(), "discriminator")


def meta_generator() -> nn.Module:
    """The built-in architecture with its weights on the meta device (never loaded)."""
    from dissect_report.world.nets import Generator

    with torch.device("meta"):
        return Generator()


def mixed_generator() -> nn.Module:
    """The built-in generator with one block in float16 and the rest in float32."""
    from dissect_report import world

    gen = world.load_generator()
    dict(gen.named_children())["layer4"].half()
    return gen

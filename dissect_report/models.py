"""Load the generator and segmenter a config names, and check what they return.

Usage::

    from dissect_report.config import DissectConfig
    from dissect_report.models import load_models
    models = load_models(DissectConfig())          # the built-in world
    images = models.generate(range(8))             # (8, 3, 64, 64), sample i = f(seed, i)
    labels = models.segment(images)                # (8, 64, 64) int64, checked

A generator is a factory import path ``pkg.module:make_generator`` (called with no
arguments) plus an optional weights file: ``.safetensors``, or a ``.pt``/``.pth`` state dict
read with ``torch.load(weights_only=True)``. Nothing is ever unpickled or evaluated.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dissect_report.config import BUILTIN_SEGMENTER, DissectConfig
from dissect_report.errors import ConfigError, ModelError, user_code
from dissect_report.sampler import latents
from dissect_report.segmenter import Segmenter
from dissect_report.weights_io import file_sha256, load_weights


def import_factory(path: str) -> Callable[[], Any]:
    """The callable at ``pkg.module:name``; a wrong path is a one-line :class:`ConfigError`."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{path!r} is not an import path of the form 'pkg.module:factory'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"cannot import {module_name!r} (from {path!r}): {exc}") from None
    except Exception as exc:  # the user's module failed while importing
        raise ConfigError(f"importing {module_name!r} (from {path!r}) failed: {exc!r}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"module {module_name!r} has no attribute {attr!r} (from {path!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"{path!r} is not callable")
    return obj


def state_sha256(module: nn.Module) -> str:
    """A hash of a module's parameters and buffers (names, shapes, dtypes, bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


@dataclass(frozen=True)
class Models:
    """The generator (eval mode), its latent size and a checked segmenter."""

    generator: nn.Module
    z_dim: int
    segmenter: Segmenter
    seed: int
    device: torch.device
    identity: dict[str, Any]

    @property
    def concepts(self) -> list[str]:
        return list(self.segmenter.concepts)

    def latents(self, ids: Iterable[int]) -> torch.Tensor:
        return latents(self.seed, ids, self.z_dim).to(self.device)

    @torch.no_grad()
    def generate(self, ids: Iterable[int]) -> torch.Tensor:
        """Images ``(N, 3, H, W)``; an exception inside the generator names it (UserCodeError)."""
        z = self.latents(ids)
        with user_code("generator"):
            images = self.generator(z)
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
            shape = (
                tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            )
            raise ModelError(
                f"the generator returned {shape} for {z.shape[0]} latents; "
                "expected RGB images (N, 3, H, W)"
            )
        return images

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        """The segmenter's labels, checked: shape ``(N, H, W)``, integer, within its concepts."""
        with user_code("segmenter"):
            labels = self.segmenter.segment(images)
        n = images.shape[0]
        if not isinstance(labels, torch.Tensor) or labels.dim() != 3 or labels.shape[0] != n:
            shape = (
                tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
            )
            raise ModelError(
                f"segmenter returned {shape} for {n} images; "
                f"expected labels (N, H, W) = ({n}, H, W)"
            )
        if labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ModelError(f"segmenter returned {labels.dtype} labels; expected integers")
        labels = labels.to(torch.int64)
        count = len(self.segmenter.concepts)
        if labels.numel():
            lo, hi = int(labels.min()), int(labels.max())
            if lo < 0 or hi >= count:
                bad = lo if lo < 0 else hi
                raise ModelError(
                    f"segmenter returned label {bad} outside its {count} concepts (0..{count - 1})"
                )
        return labels


def _check_segmenter(seg: Any, spec: str) -> Segmenter:
    concepts = getattr(seg, "concepts", None)
    colors = getattr(seg, "colors", None)
    if not callable(getattr(seg, "segment", None)) or not concepts:
        raise ModelError(f"segmenter {spec!r} lacks concepts or a segment(images) method")
    if colors is None or len(colors) != len(concepts):
        raise ModelError(f"segmenter {spec!r} has {len(concepts)} concepts but no color for each")
    if len(set(concepts)) != len(concepts):
        raise ModelError(f"segmenter {spec!r} has duplicate concept names")
    return seg


def load_segmenter(spec: str = BUILTIN_SEGMENTER, device: torch.device | str = "cpu") -> Segmenter:
    """``"builtin"`` (the world's segmenter) or a factory path returning a segmenter."""
    if spec == BUILTIN_SEGMENTER:
        from dissect_report import world

        seg = world.load_segmenter()
    elif spec.startswith("hf:"):
        from dissect_report.hf_segmenter import HFSegmenter

        seg = HFSegmenter(spec[3:])
    else:
        factory = import_factory(spec)
        try:
            seg = factory()
        except Exception as exc:
            raise ModelError(f"segmenter factory {spec!r} failed: {exc!r}") from None
    if isinstance(seg, nn.Module):
        seg.eval()
    if callable(getattr(seg, "to", None)):  # modules and adapters (built-in, hf:) alike
        seg.to(device)
    return _check_segmenter(seg, spec)


def load_generator(
    factory_path: str, weights: str | None = None, device: torch.device | str = "cpu"
) -> nn.Module:
    """Call the factory, load ``weights`` if given, and return the model in eval mode."""
    factory = import_factory(factory_path)
    try:
        model = factory()
    except Exception as exc:
        raise ModelError(f"generator factory {factory_path!r} failed: {exc!r}") from None
    if not isinstance(model, nn.Module):
        raise ModelError(
            f"generator factory {factory_path!r} returned {type(model).__name__}, "
            "not a torch Module"
        )
    if weights is not None:
        load_weights(model, weights)
    return model.eval().to(device)


def load_models(config: DissectConfig) -> Models:
    """The generator and segmenter of ``config``, with their identity for the manifest."""
    try:
        device = torch.device(config.device)
    except RuntimeError:
        raise ConfigError(f"unknown device {config.device!r}") from None
    generator = load_generator(config.generator, config.weights, device)
    z_dim = config.z_dim or getattr(generator, "z_dim", None)
    if not isinstance(z_dim, int) or z_dim < 1:
        raise ModelError(
            f"generator {config.generator!r} has no integer z_dim; set z_dim in the config"
        )
    segmenter = load_segmenter(config.segmenter, device)
    identity = {
        "model": {
            "name": config.generator_name,
            "factory": config.generator,
            "weights": config.weights,
            "weights_sha256": file_sha256(config.weights) if config.weights else None,
            "state_sha256": state_sha256(generator),
            "z_dim": z_dim,
        },
        "segmenter": {
            "name": config.segmenter,
            "weights_sha256": state_sha256(segmenter) if isinstance(segmenter, nn.Module) else None,
        },
    }
    return Models(generator, z_dim, segmenter, config.seed, device, identity)

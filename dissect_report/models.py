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

import dataclasses
import hashlib
import importlib
import logging
import math
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dissect_report.adapters import adapt_generator
from dissect_report.config import BUILTIN_SEGMENTER, DissectConfig
from dissect_report.contract import ModelCheck, check_model
from dissect_report.errors import ConfigError, ModelError, user_code
from dissect_report.sampler import latents
from dissect_report.segmenter import Segmenter
from dissect_report.weights_io import file_sha256, load_weights

log = logging.getLogger(__name__)


def import_factory(path: str) -> Callable[[], Any]:
    """The callable at ``pkg.module:name``; a wrong path is a one-line :class:`ConfigError`.

    The working directory is importable (appended to ``sys.path``, so it never shadows an
    installed package): ``--generator mymodel:make`` finds ``./mymodel.py``.
    """
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{path!r} is not an import path of the form 'pkg.module:factory'")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)
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
    check: ModelCheck | None = None  # the model check's findings (None: not run)

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
    factory_path: str,
    weights: str | None = None,
    device: torch.device | str = "cpu",
    *,
    weights_key: str | None = None,
    latent_shape: tuple[int, ...] | None = None,
    seeded_noise: bool = False,
) -> nn.Module:
    """Call the factory, load ``weights`` if given, apply the adapters, return it in eval mode.

    ``latent_shape`` (or the generator's own ``latent_shape`` attribute) and
    ``seeded_noise`` are :func:`dissect_report.adapters.adapt_generator`'s.
    """
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
        load_weights(model, weights, weights_key)
    elif weights_key is not None:
        raise ConfigError("--weights-key needs --weights")
    shape = latent_shape or getattr(model, "latent_shape", None)
    model = adapt_generator(model, shape, seeded_noise)
    return model.eval().to(device)


def latent_size(generator: nn.Module, z_dim: int | None, where: str) -> int:
    """The latent size: ``z_dim``, else the product of the latent shape, else ``generator.z_dim``."""
    shape = getattr(generator, "latent_shape", None)
    if shape is not None:
        size = math.prod(shape)
        if z_dim is not None and z_dim != size:
            raise ConfigError(f"z_dim {z_dim} does not match latent shape {tuple(shape)} ({size})")
        return size
    found = z_dim or getattr(generator, "z_dim", None)
    if not isinstance(found, int) or found < 1:
        raise ModelError(
            f"generator {where!r} has no integer z_dim; pass --z-dim N or --latent-shape N,1,1"
        )
    return found


def source_identity(spec: str) -> dict[str, Any]:
    """The absolute file and SHA-256 of the module a factory path names (None for builtins)."""
    module_name = spec.partition(":")[0]
    module = sys.modules.get(module_name)
    source = getattr(module, "__file__", None) if module is not None else None
    if not source or not os.path.isfile(source):
        return {"file": None, "file_sha256": None}
    return {"file": os.path.abspath(source), "file_sha256": file_sha256(source)}


def _sources(spec: str) -> dict[str, Any]:
    """``source_sha256`` and ``source_files``: the factory's project modules it imports."""
    from dissect_report.provenance import project_sources

    found = project_sources(spec) if ":" in spec else None
    return {
        "source_sha256": found["sha256"] if found else None,
        "source_files": found["files"] if found else {},
    }


def model_identity(
    config: DissectConfig, generator: nn.Module, segmenter: Any, z_dim: int
) -> dict[str, Any]:
    """What the manifest records of the models: absolute paths, file and state hashes, adapters."""
    weights = os.path.abspath(config.weights) if config.weights else None
    seg_source = (
        source_identity(config.segmenter)
        if ":" in config.segmenter and not config.segmenter.startswith("hf:")
        else {"file": None, "file_sha256": None}
    )
    return {
        "model": {
            "name": config.generator_name,
            "factory": config.generator,
            "factory_file": source_identity(config.generator)["file"],
            "factory_sha256": source_identity(config.generator)["file_sha256"],
            "weights": weights,
            "weights_key": config.weights_key,
            "weights_sha256": file_sha256(config.weights) if config.weights else None,
            "state_sha256": state_sha256(generator),
            "z_dim": z_dim,
            "latent_shape": list(getattr(generator, "latent_shape", None) or []) or None,
            "seeded_noise": config.seeded_noise,
            **_sources(config.generator),
        },
        "segmenter": {
            "name": config.segmenter,
            "path": os.path.abspath(config.segmenter[3:])
            if config.segmenter.startswith("hf:")
            else None,
            "factory_file": seg_source["file"],
            "factory_sha256": seg_source["file_sha256"],
            "weights_sha256": state_sha256(segmenter) if isinstance(segmenter, nn.Module) else None,
        },
    }


_FINGERPRINT = {
    "generator factory": ("model", "factory"),
    "generator code sha256": ("model", "factory_sha256"),
    "generator weights sha256": ("model", "weights_sha256"),
    "generator state sha256": ("model", "state_sha256"),
    "z_dim": ("model", "z_dim"),
    "latent shape": ("model", "latent_shape"),
    "seeded noise": ("model", "seeded_noise"),
    "segmenter": ("segmenter", "name"),
    "segmenter code sha256": ("segmenter", "factory_sha256"),
    "segmenter weights sha256": ("segmenter", "weights_sha256"),
}
# What an override of --generator/--weights on a finished report must still match.
CONTENT_KEYS = (
    "generator weights sha256",
    "generator state sha256",
    "z_dim",
    "latent shape",
    "seeded noise",
    "segmenter weights sha256",
)


def model_fingerprint(identity: dict[str, Any]) -> dict[str, Any]:
    """What must match for two runs to describe one model: content hashes, not paths.

    Keys an identity lacks (a report made before they were recorded) are left out, so
    they are never compared.
    """
    out = {}
    for label, (section, key) in _FINGERPRINT.items():
        part = identity.get(section) or {}
        if key in part:
            out[label] = part[key]
    return out


def _short(value: Any) -> str:
    text = str(value)
    return text[:12] if isinstance(value, str) and len(text) == 64 else text


def fingerprint_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``["generator weights sha256 1a2b3c4d5e6f -> 9f8e7d6c5b4a", ...]`` (keys in both)."""
    return [
        f"{key} {_short(old[key])} -> {_short(new.get(key))}"
        for key in old
        if key in new and old[key] != new[key]
    ]


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Table-changing config fields that differ: ``["samples 2000 -> 1000", ...]``."""
    from dissect_report.config import RUN_FIELDS

    keys = sorted((set(old) | set(new)) - RUN_FIELDS)
    defaults = {k: f.default for k, f in DissectConfig.model_fields.items()}
    norm = DissectConfig.model_construct(**defaults).model_dump(mode="json")
    return [
        f"{k} {old.get(k, norm.get(k))!r} -> {new.get(k, norm.get(k))!r}"
        for k in keys
        if old.get(k, norm.get(k)) != new.get(k, norm.get(k))
    ]


def run_models_check(models: Models, config: DissectConfig) -> Models:
    """Run the model check on ``config.layers``; a broken promise raises :class:`ModelError`."""
    if not config.check_model:
        log.warning("model check skipped (--no-model-check): findings may not be reproducible")
        return models
    result = check_model(models, config.layers, tolerance=config.check_tolerance)
    result.raise_for_problems()
    for warning in result.warnings:
        log.warning("model check: %s", warning)
    log.info("model check passed in %.2f s", result.seconds)
    return dataclasses.replace(models, check=result)


def load_models(config: DissectConfig, *, check: bool = True) -> Models:
    """The generator and segmenter of ``config``, with their identity for the manifest.

    ``check``: run the model check (:mod:`dissect_report.contract`) on ``config.layers``
    unless ``config.check_model`` is off; a broken promise is a :class:`ModelError`.
    """
    try:
        device = torch.device(config.device)
    except RuntimeError:
        raise ConfigError(f"unknown device {config.device!r}") from None
    generator = load_generator(
        config.generator,
        config.weights,
        device,
        weights_key=config.weights_key,
        latent_shape=config.latent_shape,
        seeded_noise=config.seeded_noise,
    )
    z_dim = latent_size(generator, config.z_dim, config.generator)
    segmenter = load_segmenter(config.segmenter, device)
    identity = model_identity(config, generator, segmenter, z_dim)
    models = Models(generator, z_dim, segmenter, config.seed, device, identity)
    return run_models_check(models, config) if check else models

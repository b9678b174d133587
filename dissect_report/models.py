"""Load the generator and segmenter a config names, and check what they return.

Usage::

    from dissect_report.config import DissectConfig
    from dissect_report.models import load_models
    models = load_models(DissectConfig())          # the built-in world
    z = models.latents(range(8))                   # (8, 128) on models.device, models.dtype
    images = models.generate(z)                    # (8, 3, 64, 64) float32, sample i = f(seed, i)
    images = models.sample(range(8), seed=2)       # the same in one call, for another seed
    labels = models.segment(images)                # (8, 64, 64) int64, checked

A generator is a factory import path ``pkg.module:make_generator`` (called with no
arguments) plus an optional weights file: ``.safetensors``, or a ``.pt``/``.pth`` state dict
read with ``torch.load(weights_only=True)``. Nothing is ever unpickled or evaluated.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import importlib
import logging
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from dissect_report.adapters import adapt_generator
from dissect_report.config import BUILTIN_GENERATOR, BUILTIN_SEGMENTER, DissectConfig
from dissect_report.contract import ModelCheck, check_model
from dissect_report.errors import ConfigError, ModelError, user_code
from dissect_report.sampler import latents
from dissect_report.segmenter import Segmenter
from dissect_report.trace import check_default_layers
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


Images = torch.Tensor  # float (N, 3, H, W) in [-1, 1]
Critic = Callable[[torch.Tensor], torch.Tensor]  # a discriminator or a feature extractor
Reference = Callable[[int, Sequence[int]], torch.Tensor]  # (seed, ids) -> real images


def module_dtype(obj: object, role: str) -> torch.dtype | None:
    """The floating dtype ``obj`` computes in: a declared ``dtype`` attribute, else its parameters'.

    Looks inside adapters too (their ``net`` / ``model`` module). None: no floating
    parameters and no declaration (the caller's tensors go in as they are). Weights on the
    meta device (never loaded) or of several floating dtypes are a one-line ModelError.
    """
    declared = getattr(obj, "dtype", None)
    if isinstance(declared, torch.dtype):
        return declared
    module = obj if isinstance(obj, nn.Module) else None
    for name in ("net", "model"):
        inner = getattr(obj, name, None)
        if module is None and isinstance(inner, nn.Module):
            module = inner
    if module is None:
        return None
    tensors = [*module.parameters(), *module.buffers()]
    if any(t.is_meta for t in tensors):
        raise ModelError(
            f"the {role}'s weights are on the meta device (created without data, never "
            "loaded); load real weights (--weights, or to_empty() + load_state_dict()) first"
        )
    dtypes = sorted({str(p.dtype) for p in module.parameters() if p.is_floating_point()})
    if len(dtypes) > 1:
        raise ModelError(
            f"the {role}'s parameters mix dtypes ({', '.join(dtypes)}); "
            "cast it to one (model.float(), .half() or .bfloat16()) in its factory"
        )
    if not dtypes:
        return None
    return next(p.dtype for p in module.parameters() if p.is_floating_point())


def generator_latents(
    generator: nn.Module, seed: int, ids: Iterable[int], z_dim: int
) -> torch.Tensor:
    """Latents for a generator used alone (``layers``, compare's regeneration), without Models.

    The samples of :meth:`Models.latents`, on the generator's device and in its dtype.
    """
    param = next((p for p in generator.parameters() if p.is_floating_point()), None)
    z = latents(seed, ids, z_dim)
    if param is None:
        return z
    return z.to(device=param.device, dtype=module_dtype(generator, "generator") or param.dtype)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A tensor from any device as a CPU array (where a table or a file is written)."""
    return tensor.detach().cpu().numpy()


_SEEN_SIZES: set[tuple[tuple[int, ...], tuple[int, ...]]] = (
    set()
)  # label/image sizes already warned about


def _at_image_size(labels: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Labels at the images' size: the same size, or an integer fraction of it upsampled.

    The rule: labels ``(H/k, W/k)`` for a whole ``k`` (a segmenter that predicts at a lower
    resolution) are repeated ``k x k`` (nearest), with one warning, so the dissection compares
    units with concepts at the image's resolution, as it does for every other segmenter.
    Any other size (a different aspect, a larger or a fractional size) is a ModelError.
    """
    got = tuple(labels.shape[1:])
    if got == size or labels.shape[0] == 0:
        return labels
    h, w = size
    lh, lw = got
    k = h // lh if lh and h % lh == 0 else 0
    if k > 1 and lw * k == w:
        if (got, size) not in _SEEN_SIZES:
            _SEEN_SIZES.add((got, size))
            log.warning(
                "segmenter labels are %dx%d for %dx%d images: upsampled x%d (nearest) to the "
                "image size; a segmenter that predicts at the image size is more precise",
                lh, lw, h, w, k,
            )  # fmt: skip
        return labels.repeat_interleave(k, dim=1).repeat_interleave(k, dim=2)
    raise ModelError(
        f"segmenter returned labels of size {lh}x{lw} for {h}x{w} images; labels must be at the "
        f"image size (or a whole fraction of it, upsampled): resize its logits to {h}x{w} "
        "before the argmax"
    )


@dataclass(frozen=True)
class Models:
    """Every model a stage uses, on one device: the only place latents are made and placed.

    ``generator`` (eval mode) draws images from latents of ``z_dim`` (its ``latent_shape``
    adapter reshapes them); ``dtype`` is what it computes in (float32, float16, bfloat16...):
    latents are cast to it and images come back as float32. The ``segmenter``, optional
    ``discriminator`` (images -> realism logits (N,) or (N, 1)) and ``features`` (images ->
    (N, D)) get images on ``device`` in their own dtype. ``reference`` renders real images
    ``(seed, ids)`` for FSD (the built-in world has them). ``seed`` is the dissection's;
    other stages pass their own. ``amp``: the generator runs under autocast.
    """

    generator: nn.Module
    z_dim: int
    segmenter: Segmenter
    seed: int
    device: torch.device
    identity: dict[str, Any]
    check: ModelCheck | None = None  # the model check's findings (None: not run)
    dtype: torch.dtype = torch.float32
    discriminator: Critic | None = None
    features: Critic | None = None
    reference: Reference | None = None
    amp: bool = False

    @classmethod
    def from_modules(
        cls,
        generator: nn.Module,
        segmenter: Any,
        *,
        seed: int = 1,
        z_dim: int | None = None,
        discriminator: Critic | None = None,
        features: Critic | None = None,
        reference: Reference | None = None,
        device: torch.device | str | None = None,
        amp: bool = False,
    ) -> Models:
        """Models made in memory (tests, benchmarks, notebooks): device and dtype detected.

        ``device``: where the generator's parameters are, unless given (then everything is
        moved there). ``z_dim``: the generator's ``z_dim`` attribute unless given.
        """
        if device is None:
            param = next(iter(generator.parameters()), None)
            device = param.device if param is not None else torch.device("cpu")
        device = torch.device(device)
        dtype = module_dtype(generator, "generator") or torch.float32
        generator = generator.eval().to(device)
        for module in (segmenter, discriminator, features):
            if callable(getattr(module, "to", None)):
                module.to(device)  # type: ignore[union-attr]
        size = latent_size(generator, z_dim, type(generator).__name__)
        return cls(
            generator,
            size,
            segmenter,
            seed,
            device,
            {},
            dtype=dtype,
            discriminator=discriminator,
            features=features,
            reference=reference,
            amp=amp,
        )

    @property
    def concepts(self) -> list[str]:
        return list(self.segmenter.concepts)

    def export_copy(self) -> nn.Module:
        """The generator as float32 on the CPU (the generator itself when it already is).

        For exports that run elsewhere (the Paint page's ONNX tail runs float32 in a browser).
        """
        if self.device.type == "cpu" and self.dtype == torch.float32:
            return self.generator
        return copy.deepcopy(self.generator).float().cpu().eval()

    def place(self, tensor: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """``tensor`` on the models' device (in ``dtype`` if given)."""
        return tensor.to(device=self.device, dtype=dtype or tensor.dtype)

    def latents(self, ids: Iterable[int], *, seed: int | None = None) -> torch.Tensor:
        """Latents ``(N, z_dim)`` of samples ``ids`` of ``seed`` (default: the dissection's).

        Row k is a pure function of ``(seed, ids[k])``; on the device, in the generator's dtype.
        """
        z = latents(self.seed if seed is None else seed, ids, self.z_dim)
        return z.to(device=self.device, dtype=self.dtype)

    def _autocast(self) -> Any:
        if not self.amp:
            return contextlib.nullcontext()
        half = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=half)

    def generate(self, z: torch.Tensor, *, grad: bool = False) -> Images:
        """Images ``(N, 3, H, W)`` float32 of latents ``z`` (from :meth:`latents`).

        No gradients unless ``grad`` (the optimized unit sets). An exception inside the
        generator names it (UserCodeError); a wrong output is a one-line ModelError.
        """
        with torch.set_grad_enabled(grad), user_code("generator"), self._autocast():
            images = self.generator(z)
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
            shape = (
                tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            )
            raise ModelError(
                f"the generator returned {shape} for {z.shape[0]} latents; "
                "expected RGB images (N, 3, H, W)"
            )
        if not images.dtype.is_floating_point:
            raise ModelError(f"the generator returned {images.dtype} images; expected floats")
        if images.device.type != torch.device(self.device).type:
            from dissect_report.contract import device_message

            raise ModelError(device_message(images.device, self.device))
        return images.float()

    def sample(self, ids: Iterable[int], *, seed: int | None = None) -> Images:
        """Images of samples ``ids`` of ``seed`` (default: the dissection's): generate(latents)."""
        return self.generate(self.latents(ids, seed=seed))

    def _feed(self, images: torch.Tensor, model: object, role: str) -> torch.Tensor:
        """``images`` on the device, in the dtype ``model`` computes in."""
        dtype = module_dtype(model, role) or torch.float32
        return images.to(device=self.device, dtype=dtype)

    @torch.no_grad()
    def segment(self, images: Images) -> torch.Tensor:
        """The segmenter's labels, checked: shape ``(N, H, W)``, int64, within its concepts."""
        x = self._feed(images, self.segmenter, "segmenter")
        with user_code("segmenter"):
            labels = self.segmenter.segment(x)
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
        labels = _at_image_size(labels.to(torch.int64), tuple(images.shape[-2:]))
        count = len(self.segmenter.concepts)
        if labels.numel():
            lo, hi = int(labels.min()), int(labels.max())
            if lo < 0 or hi >= count:
                bad = lo if lo < 0 else hi
                raise ModelError(
                    f"segmenter returned label {bad} outside its {count} concepts (0..{count - 1})"
                )
        return labels

    def has_class_probs(self) -> bool:
        """Whether the segmenter has a differentiable ``class_probs`` (optimized unit sets)."""
        return callable(getattr(self.segmenter, "class_probs", None))

    def class_probs(self, images: Images) -> torch.Tensor:
        """The segmenter's per-pixel probabilities ``(N, C, H, W)`` float32, differentiable."""
        x = self._feed(images, self.segmenter, "segmenter")
        with user_code("segmenter"):
            probs = self.segmenter.class_probs(x)  # type: ignore[attr-defined]
        if probs.dim() != 4 or probs.shape[1] != len(self.concepts):
            raise ModelError(
                f"class_probs must return (N, {len(self.concepts)}, H, W); got {tuple(probs.shape)}"
            )
        return probs.float()

    def discriminator_input(self, images: Images) -> torch.Tensor:
        """``images`` as the discriminator takes them (its device and dtype)."""
        return self._feed(images, self.discriminator, "discriminator")

    @torch.no_grad()
    def realism(self, images: Images) -> torch.Tensor | None:
        """Discriminator logits (N,) float64, or None without a discriminator."""
        if self.discriminator is None:
            return None
        x = self._feed(images, self.discriminator, "discriminator")
        with user_code("discriminator"):
            out = self.discriminator(x)
        out = out.reshape(out.shape[0], -1)
        if out.shape[1] != 1:
            raise ModelError(
                f"the discriminator must return (N,) or (N, 1); got {tuple(out.shape)}"
            )
        return out[:, 0].double()

    def feature_kind(self) -> str:
        """What :meth:`feature_vectors` uses: the user's extractor, else the segmenter's."""
        if self.features is not None:
            return "user"
        if callable(getattr(self.segmenter, "features", None)):
            return "segmenter-features"
        if self.has_class_probs():
            return "segmenter-class-probs"
        return "segmenter-label-histogram"

    @torch.no_grad()
    def feature_vectors(self, images: Images) -> torch.Tensor:
        """(N, D) float64 features: user's, else the segmenter's, else its class histogram."""
        kind = self.feature_kind()
        if kind == "user":
            with user_code("feature extractor"):
                f = self.features(self._feed(images, self.features, "feature extractor"))  # type: ignore[misc]
        elif kind == "segmenter-features":
            with user_code("segmenter"):
                f = self.segmenter.features(self._feed(images, self.segmenter, "segmenter"))  # type: ignore[attr-defined]
        elif kind == "segmenter-class-probs":
            f = self.class_probs(images).mean(dim=(2, 3))
        else:
            labels = self.segment(images)
            c = len(self.concepts)
            f = torch.stack([torch.bincount(x.flatten(), minlength=c) for x in labels]).double()
            f = f / labels[0].numel()
        return f.reshape(f.shape[0], -1).double()

    def reference_images(self, seed: int, ids: Sequence[int]) -> Images:
        """Real images ``(N, 3, H, W)`` from :attr:`reference`, on the device (float32)."""
        if self.reference is None:
            raise ModelError("these models have no renderer of real images")
        return self.place(self.reference(seed, [int(i) for i in ids]), torch.float32)


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
    seg: object  # checked to be a segmenter at the end (_check_segmenter)
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
    module_dtype(seg, "segmenter")  # weights on the meta device or of mixed dtypes: refused
    to = getattr(seg, "to", None)
    if callable(to):  # modules and adapters (built-in, hf:) alike
        to(device)
    return _check_segmenter(seg, spec)


def load_generator(
    factory_path: str,
    weights: str | None = None,
    device: torch.device | str = "cpu",
    *,
    weights_key: str | None = None,
    latent_shape: tuple[int, ...] | None = None,
    seeded_noise: bool = False,
    clamp_output: bool = False,
    factory_args: dict[str, Any] | None = None,
) -> nn.Module:
    """Call the factory (with ``factory_args``), load ``weights`` if given, apply the adapters,
    return it in eval mode.

    ``latent_shape`` (or the generator's own ``latent_shape`` attribute), ``seeded_noise`` and
    ``clamp_output`` are :func:`dissect_report.adapters.adapt_generator`'s.
    """
    factory = import_factory(factory_path)
    try:
        model = factory(**(factory_args or {}))
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
    model = adapt_generator(model, shape, seeded_noise, clamp=clamp_output)
    module_dtype(model, "generator")  # weights on the meta device or of mixed dtypes: refused
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
            "clamp_output": config.clamp_output,
            "generator_args": dict(config.generator_args),
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
    defaults = {
        k: f.get_default(call_default_factory=True) for k, f in DissectConfig.model_fields.items()
    }
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


def config_generator(config: DissectConfig, device: torch.device | str = "cpu") -> nn.Module:
    """The generator ``config`` names (factory, weights, adapters), on ``device``."""
    return load_generator(
        config.generator,
        config.weights,
        device,
        weights_key=config.weights_key,
        latent_shape=config.latent_shape,
        seeded_noise=config.seeded_noise,
        clamp_output=config.clamp_output,
        factory_args=config.generator_args,
    )


def load_models(config: DissectConfig, *, check: bool = True) -> Models:
    """The generator and segmenter of ``config``, with their identity for the manifest.

    ``check``: run the model check (:mod:`dissect_report.contract`) on ``config.layers``
    unless ``config.check_model`` is off; a broken promise is a :class:`ModelError`.
    """
    try:
        device = torch.device(config.device)
    except RuntimeError:
        raise ConfigError(f"unknown device {config.device!r}") from None
    generator = config_generator(config, device)
    if config.generator != BUILTIN_GENERATOR:  # the default layers are the built-in world's
        defaults = DissectConfig.model_fields["layers"].default
        check_default_layers(generator, config.layers, defaults)
    z_dim = latent_size(generator, config.z_dim, config.generator)
    segmenter = load_segmenter(config.segmenter, device)
    identity = model_identity(config, generator, segmenter, z_dim)
    dtype = module_dtype(generator, "generator") or torch.float32
    models = Models(
        generator, z_dim, segmenter, config.seed, device, identity, dtype=dtype, amp=config.amp
    )
    return run_models_check(models, config) if check else models

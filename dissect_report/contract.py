"""The model check: does the generator keep the promise every finding rests on?

Usage::

    from dissect_report.contract import check_model
    check = check_model(models, ["layer3", "blocks.2[0]"], tolerance=1e-3)
    check.passed, check.problems[0].message if check.problems else None
    check.raise_for_problems()        # ModelError: one line naming the cause and the fix
    check.summary()                   # what the manifest records

The promise: sample ``i`` is a pure function of ``(seed, i)`` whatever its batch, order,
shard or resume, and a layer is one tensor ``(N, C, H, W)`` of units made by one call per
forward pass. The check generates a few sample ids in a batch, again in the same batch, in a
second batch of other composition and order, and each alone, and compares the images and the
chosen layers' activations (relative tolerance ``tolerance`` of each tensor's largest
magnitude, for float noise between batch sizes); it counts calls per layer per forward, and
checks the images' shape, dtype, range and finiteness and each layer's layout. A few
seconds on a small GAN (see the README for measured costs).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from dissect_report.adapters import TORCHSCRIPT_FIX, RandomCalls
from dissect_report.errors import ModelError, UserCodeError, UserError, one_line, user_code
from dissect_report.trace import LayerSpec, TraceDict, layer_spec, resolve_layers

if TYPE_CHECKING:
    from dissect_report.models import Models

CHECK_IDS = (0, 1, 2, 3)
OTHER_BATCH = (3, 6, 1, 5, 0, 2)  # other samples around them, in another order
REDUCED_OTHER = (6, 1, 0)  # the same for samples 0, 1, when the model is slow
BUDGET_S = 5.0  # past this (estimated from the first forward), the check is reduced
ACCEPT = "or --no-model-check to accept the risk"


@dataclass(frozen=True)
class Problem:
    """A broken promise: ``kind`` (noise, batch, calls, tuple, shape, layout, images, range)
    and a one-line ``message`` naming the cause and the fix."""

    kind: str
    message: str


@dataclass(frozen=True)
class LayerCheck:
    """What the check saw of one chosen layer (``shape`` per sample, ``calls`` per forward)."""

    name: str
    module_type: str
    calls: int
    shape: tuple[int, ...] | None
    max_difference: float | None = None  # relative, worst over the batch compositions
    nonfinite: float | None = None  # share of values that are NaN or infinite (None: unmeasured)


@dataclass(frozen=True)
class ModelCheck:
    """The model check's findings. ``passed`` when there is no problem."""

    samples: tuple[int, ...]
    tolerance: float
    image_shape: tuple[int, ...] | None = None
    image_dtype: str | None = None
    image_range: tuple[float, float] | None = None
    image_difference: float | None = None  # None: not measured (the images were unusable)
    repeat_difference: float | None = None
    random_ops: tuple[str, ...] = ()
    layers: tuple[LayerCheck, ...] = ()
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    forwards: int = 0  # the check's cost: generator forward passes, and samples in them
    sample_forwards: int = 0
    reduced: str | None = None  # what a slow model's check left out, in words

    @property
    def passed(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise :class:`ModelError` with the first problem's line (and how many more)."""
        if self.problems:
            more = len(self.problems) - 1
            tail = f" [{more} more: dissect-report check]" if more else ""
            raise ModelError(self.problems[0].message + tail)

    def summary(self) -> dict[str, Any]:
        """JSON-ready record for the manifest."""
        return {
            "performed": True,
            "passed": self.passed,
            "samples": list(self.samples),
            "tolerance": self.tolerance,
            "image_shape": list(self.image_shape) if self.image_shape else None,
            "image_range": list(self.image_range) if self.image_range else None,
            "image_difference": self.image_difference,
            "random_ops": sorted(set(self.random_ops)),
            "layers": [
                {
                    "name": layer.name,
                    "module_type": layer.module_type,
                    "calls": layer.calls,
                    "shape": list(layer.shape) if layer.shape else None,
                    "max_difference": layer.max_difference,
                    "nonfinite": layer.nonfinite,
                }
                for layer in self.layers
            ],
            "problems": [p.message for p in self.problems],
            "warnings": list(self.warnings),
        } | (
            {"reduced": self.reduced} if self.reduced else {}
        )  # its seconds go to the manifest's timings (model_check_s), with the other timings

    def lines(self) -> list[str]:
        """Human-readable lines for ``dissect-report check``."""
        out = []
        if self.image_shape is not None:
            lo, hi = self.image_range or (float("nan"), float("nan"))
            out.append(
                f"images: {' x '.join(map(str, self.image_shape))} {self.image_dtype}, "
                f"range [{lo:.3g}, {hi:.3g}]"
            )
        if self.repeat_difference is None or self.image_difference is None:
            out.append("same samples: not compared (the generator's images are unusable)")
        else:
            out.append(
                f"same samples: repeated batch differs by {self.repeat_difference:.2g}, "
                f"other batches/alone by {self.image_difference:.2g} "
                f"(tolerance {self.tolerance:g})"
            )
        if self.random_ops:
            out.append(f"random ops inside forward: {', '.join(sorted(set(self.random_ops)))}")
        for layer in self.layers:
            shape = " x ".join(map(str, layer.shape)) if layer.shape else "?"
            measured = (
                f"differs by {layer.max_difference:.2g}, {layer.nonfinite:.1%} non-finite"
                if layer.max_difference is not None and layer.nonfinite is not None
                else "not compared (see its problem)"
                if layer.shape is None
                else "not compared (the generator's images are unusable)"
            )
            out.append(
                f"layer {layer.name}: {layer.module_type}, {shape}, {layer.calls} call(s) per "
                f"forward, {measured}"
            )
        if self.reduced:
            out.append(f"reduced: {self.reduced}")
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"problem: {p.message}" for p in self.problems]
        out.append(
            f"{'passed' if self.passed else 'FAILED'} in {self.seconds:.2f} s "
            f"({self.forwards} forward passes of the generator, {self.sample_forwards} samples)"
        )
        return out


def skipped_summary() -> dict[str, Any]:
    """The manifest's record when the user opted out (``--no-model-check``)."""
    return {"performed": False, "passed": None, "opt_out": True}


def _difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| relative to max |a| (non-finite values must sit at the same places)."""
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    if a.shape != b.shape:
        return float("inf")
    fa, fb = torch.isfinite(a), torch.isfinite(b)
    if not torch.equal(fa, fb):
        return float("inf")
    a, b = torch.where(fa, a, 0.0), torch.where(fb, b, 0.0)
    scale = float(a.abs().max()) if a.numel() else 0.0
    diff = float((a - b).abs().max()) if a.numel() else 0.0
    return diff / scale if scale > 0 else diff


def _rewritten(model: nn.Module, before: dict[str, torch.Tensor]) -> list[str]:
    """Names of parameters/buffers whose values differ from ``before`` (changed by forward)."""
    now = model.state_dict(keep_vars=True)
    return [
        name
        for name, old in before.items()
        if name in now
        and (now[name].shape != old.shape or not torch.equal(now[name].detach(), old))
    ]


def batch_statistics_modules(model: nn.Module) -> list[str]:
    """Names of norm layers that normalize by batch statistics in the model's current mode."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and (
            module.training or not module.track_running_stats or module.running_mean is None
        ):
            found.append(name or type(module).__name__)
    return found


def training_modules(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if name and m.training]


def channels_last(shape: tuple[int, ...], image: tuple[int, ...] | None = None) -> bool:
    """A per-sample ``(A, B, C)`` output that reads as ``(H, W, C)`` rather than ``(C, H, W)``.

    With the generator's ``image`` size ``(H, W)`` known, the reading whose aspect ratio is
    the image's wins (a 32 x 64 generator's ``(8, 8, 16)`` layer is 8 units of 8 x 16, not
    channels-last); without it, or when neither or both readings fit: a square ``A x B``
    with ``C`` different.
    """
    if len(shape) != 3:
        return False
    a, b, c = shape
    if image is not None and len(image) == 2 and min(image) > 0:
        h, w = image
        nchw, nhwc = b * w == c * h, a * w == b * h
        if nchw != nhwc:
            return nhwc
    return a == b and b != c


def _probe(
    model: nn.Module, specs: list[Any], z: torch.Tensor
) -> tuple[dict[str, list[object]], object]:
    """Each named module's outputs in one forward pass (calls, tuples, shapes), and its images."""
    modules = dict(model.named_modules())
    seen: dict[str, list[object]] = {s.module: [] for s in specs}
    handles = []
    try:
        for name in seen:
            if name in modules:
                handles.append(
                    modules[name].register_forward_hook(
                        lambda _m, _i, out, name=name: seen[name].append(out)
                    )
                )
        with torch.no_grad():
            images = model(z)
    except UserError:
        raise
    except Exception as exc:
        raise forward_error(model, z, exc) from exc
    finally:
        for h in handles:
            h.remove()
    return seen, images


_SHAPE_WORDS = ("shape", "size", "dimension", "dim ", "dims", "expected 4d", "expected 3d")
_DTYPE_WORDS = ("dtype", "scalar type", "half", "bfloat16", "float16", "double")


def forward_error(model: nn.Module, z: torch.Tensor, exc: Exception) -> UserError:
    """The one-line error for a generator that raised on latents ``z``, named by its cause.

    Causes told apart: a forward that takes other arguments (``forward(x, depth, alpha)``),
    code that calls a torch API this torch lacks (a package made for another version), a
    dtype mismatch, and the latent layout (a DCGAN wants ``(N, z, 1, 1)``, not ``(N, z)``);
    anything else is the generator's own error, named.
    """
    text = one_line(exc)[:160]
    lowered = str(exc).lower()
    said = f"the generator raised {type(exc).__name__} on latents {tuple(z.shape)} ({text})"
    inner, where = _frames(exc)
    if isinstance(exc, TypeError) and (
        "positional argument" in lowered or "keyword argument" in lowered
    ):
        called = re.match(r"([\w.]+)\(\)", str(exc))
        owner = called.group(1).split(".")[0] if called else ""
        if where is not None and owner != type(model).__name__ and _is_torch_name(owner):
            return ModelError(
                f"{said} in {where}: that code calls torch {torch.__version__} with arguments "
                "of another version; fix: a version of the package made for this torch (or a "
                "torch it supports)"
            )
        return ModelError(
            f"{said}: its forward takes other arguments than the latents; fix: return from "
            "the factory a module whose forward(z) calls it with them (e.g. "
            "forward(z): return G(z, depth=..., alpha=1.0))"
        )
    if isinstance(exc, AttributeError | ImportError) and "torch" in lowered:
        owner = f" in {where}" if where else ""
        return ModelError(
            f"{said}{owner}: that code calls a torch API this torch {torch.__version__} lacks; "
            "fix: a version of the package made for this torch (or a torch it supports)"
        )
    if any(w in lowered for w in _DTYPE_WORDS) and "shape" not in lowered:
        dtypes = sorted({str(p.dtype).replace("torch.", "") for p in model.parameters()})
        return ModelError(
            f"{said}: a dtype mismatch (weights {', '.join(dtypes) or 'none'}, latents "
            f"{str(z.dtype).replace('torch.', '')}); fix: cast the model to one dtype in its "
            "factory (model.float())"
        )
    if getattr(model, "latent_shape", None) is None and any(w in lowered for w in _SHAPE_WORDS):
        return ModelError(
            f"{said}; if it takes another latent layout, pass it, "
            f"e.g. --latent-shape {z.shape[1]},1,1 (the DCGAN tutorial's (N, z, 1, 1))"
        )
    return UserCodeError.wrap("generator", exc)


def _is_torch_name(name: str) -> bool:
    """A class or function name of torch's (``_ConvTransposeNd``, ``Conv2d``, ``interpolate``)."""
    if not name:
        return False
    return any(hasattr(space, name) for space in (torch, torch.nn, torch.nn.functional)) or any(
        hasattr(module, name) for module in (torch.nn.modules.conv, torch.nn.modules.module)
    )


def _frames(exc: BaseException) -> tuple[str, str | None]:
    """Where ``exc`` was raised ("torch" or "other") and the innermost frame outside torch and
    this package, as 'file.py:line', with its distribution and version when installed."""
    import traceback
    from importlib.metadata import packages_distributions, version
    from pathlib import Path

    torch_dir = str(Path(torch.__file__).parent)
    here = str(Path(__file__).parent)
    frames = traceback.extract_tb(exc.__traceback__)
    inner = "torch" if frames and frames[-1].filename.startswith(torch_dir) else "other"
    found = None
    for frame in frames:
        if not frame.filename.startswith((torch_dir, here)):
            found = frame
    if found is None:
        return inner, None
    where = f"{Path(found.filename).name}:{found.lineno}"
    parts = Path(found.filename).parts
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        top = Path(parts[parts.index("site-packages") + 1]).stem
        for dist in packages_distributions().get(top, [])[:1]:
            where += f" (package {dist} {version(dist)})"
    return inner, where


def _scripted_ancestor(model: nn.Module, name: str) -> str | None:
    """The outermost module on the path to ``name`` that is TorchScript, or None."""
    parts = name.split(".")
    for k in range(len(parts) + 1):  # the outermost one: the module the user scripted
        prefix = ".".join(parts[:k])
        try:
            module = model.get_submodule(prefix)
        except AttributeError:
            continue
        if isinstance(module, torch.jit.ScriptModule):
            return prefix or type(module).__name__
    return None


def _shape_of(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return " x ".join(str(d) for d in value.shape[1:])
    return type(value).__name__


def _not_run(model: nn.Module, spec: LayerSpec) -> Problem:
    """Why a chosen layer saw no call: inside TorchScript, or not on the forward path."""
    scripted = _scripted_ancestor(model, spec.module)
    return Problem(
        "calls",
        f"layer {spec.text!r} is inside the TorchScript module {scripted!r}: " + TORCHSCRIPT_FIX
        if scripted is not None
        else f"layer {spec.text!r} is not run by the generator's forward pass",
    )


def _select(spec: LayerSpec, kind: str, outs: list[object]) -> tuple[object, Problem | None]:
    """The output of the call and tuple element ``spec`` names, or the problem why not."""
    calls = len(outs)
    if spec.call is None and calls > 1:
        shapes = "; ".join(f"@{k}: {_shape_of(o)}" for k, o in enumerate(outs))
        return None, Problem(
            "calls",
            f"layer {spec.text!r} ({kind}) runs {calls} times per forward pass "
            f"({shapes}); name one call: {spec.text}@0 .. {spec.text}@{calls - 1}",
        )
    if spec.call is not None and spec.call >= calls:
        return None, Problem(
            "calls",
            f"layer {spec.text!r}: {spec.module!r} runs {calls} time(s) per forward "
            f"pass; calls are @0 .. @{calls - 1}",
        )
    out = outs[spec.call or 0]
    if isinstance(out, tuple | list):
        if spec.element is None:
            parts = ", ".join(f"[{i}] {_shape_of(v)}" for i, v in enumerate(out))
            return None, Problem(
                "tuple",
                f"layer {spec.text!r} ({kind}) returns a {type(out).__name__} "
                f"({parts}); pick an element, e.g. {spec.text}[0]",
            )
        if spec.element >= len(out):
            return None, Problem(
                "tuple", f"layer {spec.text!r}: {spec.module!r} returns {len(out)} elements"
            )
        return out[spec.element], None
    if spec.element is not None:
        return None, Problem(
            "tuple", f"layer {spec.text!r}: {spec.module!r} does not return a tuple"
        )
    return out, None


def _layout(
    spec: LayerSpec, kind: str, out: object, image: tuple[int, ...] | None
) -> tuple[tuple[int, ...] | None, Problem | None]:
    """A layer output's per-sample shape (None unless 4-D) and its shape or layout problem."""
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        what = (
            f"shape {tuple(out.shape)} ({out.dim()}-D)"
            if isinstance(out, torch.Tensor)
            else type(out).__name__
        )
        return None, Problem(
            "shape",
            f"layer {spec.text!r} ({kind}) outputs {what}; dissection needs a 4-D "
            "(N, C, H, W) layer (dissect-report layers lists them)",
        )
    shape = tuple(int(d) for d in out.shape[1:])
    if channels_last(shape, image):
        return shape, Problem(
            "layout",
            f"layer {spec.text!r} ({kind}) looks channels-last: {' x '.join(map(str, shape))} "
            f"reads as (H, W, C) = {shape[0]} x {shape[1]} x {shape[2]}, so its "
            f"{shape[0]} 'units' would be rows; permute it to (N, C, H, W) in the model "
            "(x.permute(0, 3, 1, 2)) or pick another layer",
        )
    return shape, None


def _structure(
    model: nn.Module, layers: Sequence[str], z: torch.Tensor
) -> tuple[list[LayerCheck], list[Problem]]:
    """Calls per forward, tuple outputs, dimensionality and layout of each chosen layer."""
    modules = resolve_layers(model, layers)
    specs = [layer_spec(model, n) for n in layers]
    seen, images = _probe(model, specs, z)
    image = (
        tuple(int(d) for d in images.shape[-2:])
        if isinstance(images, torch.Tensor) and images.dim() == 4 and images.shape[1] == 3
        else None
    )
    checks, problems = [], []
    for spec in specs:
        outs = seen[spec.module]
        kind = type(modules[spec.text]).__name__
        shape: tuple[int, ...] | None = None
        if not outs:
            problem: Problem | None = _not_run(model, spec)
        else:
            out, problem = _select(spec, kind, outs)
            if problem is None:
                shape, problem = _layout(spec, kind, out, image)
        if problem is not None:
            problems.append(problem)
        checks.append(LayerCheck(spec.text, kind, len(outs), shape))
    return checks, problems


NEAR_CONSTANT = 1e-3  # pixel spread (images in [-1, 1]) below which images count as constant


def _image_problems(
    images: object, device: torch.device | None = None
) -> tuple[list[Problem], list[str]]:
    fix = "the contract is float images (N, 3, H, W) in [-1, 1]"
    if not isinstance(images, torch.Tensor):
        return [Problem("images", f"the generator returns {type(images).__name__}; {fix}")], []
    if device is not None and images.device.type != torch.device(device).type:
        return [Problem("images", device_message(images.device, device))], []
    shape = tuple(images.shape)
    if images.dim() == 4 and shape[1] != 3 and shape[-1] == 3:
        return [
            Problem(
                "images",
                f"the generator returns channels-last images {shape}; {fix}: "
                "return x.permute(0, 3, 1, 2)",
            )
        ], []
    if images.dim() != 4 or shape[1] != 3:
        return [Problem("images", f"the generator returns shape {shape}; {fix}")], []
    if not images.dtype.is_floating_point:
        return [Problem("images", f"the generator returns {images.dtype} images; {fix}")], []
    finite = torch.isfinite(images)
    if not bool(finite.all()):
        share = 1.0 - float(finite.float().mean())
        return [
            Problem("images", f"{share:.1%} of the generated pixels are NaN or infinite; {fix}")
        ], []
    lo, hi = float(images.min()), float(images.max())
    problems, warnings = [], []
    if lo >= 0.0 and hi <= 1.0 + 1e-6 and hi - lo > NEAR_CONSTANT:  # constant: no range to read
        problems.append(
            Problem(
                "range",
                f"images range [{lo:.3g}, {hi:.3g}] looks like [0, 1]; {fix}: return 2 * x - 1",
            )
        )
    elif lo < -1.5 or hi > 1.5:
        problems.append(
            Problem(
                "range",
                f"images range [{lo:.3g}, {hi:.3g}]; {fix}: rescale them, or --clamp-output "
                "when the model's own scripts clamp its output (ProGAN's do)",
            )
        )
    elif lo < -1.0 - 1e-3 or hi > 1.0 + 1e-3:
        warnings.append(f"images range [{lo:.3g}, {hi:.3g}] slightly exceeds [-1, 1]")
    return problems, warnings


def constant_images(images: torch.Tensor) -> list[str]:
    """One warning when the checked images are (nearly) constant: every sample the same
    image, or each image one flat colour. Legal, but almost certainly a broken model."""
    x = images.detach().float()
    if x.numel() == 0:
        return []
    if len(x) > 1:
        spread = float((x - x[:1]).abs().max())
        if spread <= NEAR_CONSTANT:
            return [
                f"every sample gives the same image (samples differ by at most {spread:.2g}): "
                "the latent has no effect, almost certainly a broken generator (weights not "
                "loaded? a wrong --latent-shape?); the dissection would find nothing"
            ]
    std = float(x.flatten(1).std(dim=1, unbiased=False).max())
    if std <= NEAR_CONSTANT:
        return [
            f"every image is one flat colour (pixel std at most {std:.2g}): almost certainly a "
            "broken generator (weights not loaded?); the dissection would find nothing"
        ]
    return []


def device_message(got: torch.device, device: torch.device | str) -> str:
    """One line for images returned on another device than the run's (or without data)."""
    where = "the meta device (no data)" if got.type == "meta" else str(got)
    return (
        f"the generator returns images on {where} while the run is on {device}; fix: return "
        "them where its latents are (x.to(z.device)), or run with the matching --device"
    )


def _batch_cause(models: Models) -> str:
    stats = batch_statistics_modules(models.generator)
    if stats:
        shown = ", ".join(stats[:4]) + (", ..." if len(stats) > 4 else "")
        return (
            f"(BatchNorm {shown} normalizes by batch statistics); fix: eval mode with running "
            "statistics (track_running_stats=True) or a per-sample norm"
        )
    training = training_modules(models.generator)
    if training:
        return (
            f"(modules in train mode: {', '.join(training[:4])}); fix: the factory must "
            "return a model that stays in eval mode"
        )
    return "fix: make each sample's forward pass independent of the others in its batch"


@dataclass
class _Forwards:
    """The generator on some sample ids with the measured layers traced; counts its cost.

    The generator itself, not ``models.generate``: the check names what is wrong with images.
    """

    models: Models
    names: list[str]  # the layers the structure check could read
    forwards: int  # generator forward passes so far, and samples in them
    sample_forwards: int

    def __call__(self, sample_ids: Sequence[int]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        z = self.models.latents(sample_ids)
        self.forwards += 1
        self.sample_forwards += len(sample_ids)
        gen = self.models.generator
        with torch.no_grad(), user_code("generator"), TraceDict(gen, self.names) as td:
            images = gen(z)
        return images, {n: td[n] for n in self.names}


@dataclass(frozen=True)
class Differences:
    """How far the same samples moved: ``repeat`` the same batch run twice, ``image`` in
    another batch or alone (images), ``layers`` the worst of all per layer, ``repeat_layers``
    per layer in the repeated batch (relative, :func:`_difference`)."""

    repeat: float
    image: float
    layers: dict[str, float]
    repeat_layers: dict[str, float]


def _plan(
    ids: list[int], other: Sequence[int], per_sample: float
) -> tuple[list[int], Sequence[int], str | None]:
    """The samples to compare, the other batch, and what a slow model's check leaves out."""
    planned = (3 * len(ids) + len(other)) * per_sample  # again, other batch, each alone
    if planned > BUDGET_S and len(ids) > 2 and tuple(other) == OTHER_BATCH:
        # A large model: two samples, one of them alone, still catch noise and batch effects.
        reduced = (
            f"samples 0, 1 only, sample 0 alone (a forward takes {per_sample:.2g} s per "
            f"sample; the full check would take ~{planned:.0f} s more)"
        )
        return ids[:2], REDUCED_OTHER, reduced
    return ids, other, None


def _differences(
    run: _Forwards,
    ids: list[int],
    other: Sequence[int],
    alone: Sequence[int],
    images: torch.Tensor,
    acts: dict[str, torch.Tensor],
) -> Differences:
    """The samples ``ids`` again in the same batch, in the ``other`` batch, and each of
    ``alone`` by itself, compared with their first ``images`` and activations ``acts``."""
    again, acts_again = run(ids)
    repeat_layers = {n: _difference(acts[n], acts_again[n]) for n in run.names}
    layer_diff = dict(repeat_layers)
    pos = {i: k for k, i in enumerate(other)}
    batch_images, batch_acts = run(list(other))
    sel = [pos[i] for i in ids if i in pos]
    mine = [k for k, i in enumerate(ids) if i in pos]
    image_diff = max(0.0, _difference(images[mine], batch_images[sel]))
    for n in run.names:
        layer_diff[n] = max(layer_diff[n], _difference(acts[n][mine], batch_acts[n][sel]))
    for k, i in enumerate(alone):
        one, one_acts = run([i])
        image_diff = max(image_diff, _difference(images[k : k + 1], one))
        for n in run.names:
            layer_diff[n] = max(layer_diff[n], _difference(acts[n][k : k + 1], one_acts[n]))
    return Differences(_difference(images, again), image_diff, layer_diff, repeat_layers)


def _state_problem(rewritten: list[str]) -> Problem:
    shown = ", ".join(rewritten[:6]) + (", ..." if len(rewritten) > 6 else "")
    return Problem(
        "state",
        f"the generator rewrites {len(rewritten)} of its parameters/buffers in every "
        f"forward pass in eval mode ({shown}; e.g. a SpectralNorm that power-iterates "
        "in eval), so a sample depends on every forward before it; fix: update them only "
        "when self.training (torch.nn.utils.parametrizations.spectral_norm does), or "
        f"run the iteration in the factory and stop it, {ACCEPT}",
    )


def _noise_problem(seeded: bool, repeat: float, ops: tuple[str, ...]) -> Problem:
    if seeded:
        return Problem(
            "noise",
            f"with --seeded-noise on, the same samples still differ by {repeat:.2g} "
            "between two identical runs: the generator draws from a source the adapter "
            "does not seed (NumPy's or Python's RNG, a random op of its own) or is not "
            f"deterministic; fix: derive that randomness from the latent, {ACCEPT}",
        )
    cause = (
        f"the generator draws random numbers inside forward ({', '.join(sorted(set(ops)))}), so "
        if ops
        else "the generator is not deterministic: "
    )
    return Problem(
        "noise",
        f"{cause}the same samples differ by {repeat:.2g} between two identical runs "
        "and tables would depend on batch, shard and resume; fix: --seeded-noise "
        f"(makes them a function of (seed, i)), {ACCEPT}",
    )


def _batch_problem(models: Models, diffs: Differences, tolerance: float) -> Problem:
    where = (
        "image"
        if diffs.image > tolerance
        else "layer " + ", ".join(n for n, v in diffs.layers.items() if v > tolerance)
    )
    worst = max([diffs.image, *diffs.layers.values()])
    noise = (
        " (with --seeded-noise: a random draw without a batch axis is shared by the batch)"
        if models.identity.get("model", {}).get("seeded_noise")
        else ""
    )
    return Problem(
        "batch",
        f"a sample's {where} depends on the rest of its batch (differs by {worst:.2g} "
        f"alone vs in a batch){noise} {_batch_cause(models)}, {ACCEPT}",
    )


def _independence_problem(
    models: Models, diffs: Differences, tolerance: float, ops: tuple[str, ...], rewritten: list[str]
) -> Problem | None:
    """The cause of a sample that is not a function of ``(seed, i)``, if any: the first of a
    rewritten state, noise between identical runs, dependence on the batch."""
    if rewritten:  # the cause of any difference below: say it, not its symptoms
        return _state_problem(rewritten)
    if diffs.repeat > tolerance or any(v > tolerance for v in diffs.repeat_layers.values()):
        seeded = bool(models.identity.get("model", {}).get("seeded_noise"))
        return _noise_problem(seeded, diffs.repeat, ops)
    if diffs.image > tolerance or any(v > tolerance for v in diffs.layers.values()):
        return _batch_problem(models, diffs, tolerance)
    return None


def _measured_layers(
    checks: list[LayerCheck], acts: dict[str, torch.Tensor], diffs: Differences
) -> tuple[LayerCheck, ...]:
    """The structure check's layers with what the comparison measured of each."""
    final = []
    for check in checks:
        if check.name not in acts:
            final.append(check)  # not measured: its problem says why
            continue
        a = acts[check.name]
        share = 1.0 - float(torch.isfinite(a).float().mean()) if a.numel() else 0.0
        final.append(replace(check, max_difference=diffs.layers[check.name], nonfinite=share))
    return tuple(final)


def check_model(
    models: Models,
    layers: Sequence[str],
    *,
    tolerance: float = 1e-3,
    ids: Sequence[int] = CHECK_IDS,
    other: Sequence[int] = OTHER_BATCH,
) -> ModelCheck:
    """Check the model contract on a few samples (see the module docstring).

    ``models``: loaded models (adapters applied); ``layers``: the layer specs to dissect.
    Returns a :class:`ModelCheck`; it raises only for a wrong layer name (ConfigError).
    """
    t0 = time.perf_counter()
    ids = [int(i) for i in ids]
    gen = models.generator
    checks, problems = _structure(gen, layers, models.latents(ids))
    ids, other, reduced = _plan(ids, other, (time.perf_counter() - t0) / max(1, len(ids)))
    base = ModelCheck(samples=tuple(ids), tolerance=tolerance, reduced=reduced)
    # Layers the structure check could read are compared even when another one has a
    # problem: the check reports what it measured, and only that.
    run = _Forwards(models, [c.name for c in checks if c.shape is not None], 1, len(ids))
    state = {k: v.detach().clone() for k, v in gen.state_dict(keep_vars=True).items()}
    with RandomCalls() as recorder:
        images, acts = run(ids)
    image_problems, warnings = _image_problems(images, models.device)
    if all(p.kind == "range" for p in image_problems):  # images to look at
        warnings += constant_images(images)
    if any(p.kind != "range" for p in image_problems):  # no images to compare
        return replace(
            base,
            image_shape=tuple(images.shape[1:]) if isinstance(images, torch.Tensor) else None,
            layers=tuple(checks),
            problems=tuple(problems + image_problems),
            seconds=time.perf_counter() - t0,
            forwards=run.forwards,
            sample_forwards=run.sample_forwards,
        )
    diffs = _differences(run, ids, other, ids[:1] if reduced else ids, images, acts)
    ops = tuple(recorder.names)
    cause = _independence_problem(models, diffs, tolerance, ops, _rewritten(gen, state))
    problems += [cause] if cause is not None else []
    problems += [p for p in image_problems if p.kind == "range"]  # after noise/batch causes
    return replace(
        base,
        image_shape=tuple(images.shape[1:]),
        image_dtype=str(images.dtype).replace("torch.", ""),
        image_range=(float(images.min()), float(images.max())),
        image_difference=diffs.image,
        repeat_difference=diffs.repeat,
        random_ops=ops,
        layers=_measured_layers(checks, acts, diffs),
        problems=tuple(problems),
        warnings=tuple(warnings),
        seconds=time.perf_counter() - t0,
        forwards=run.forwards,
        sample_forwards=run.sample_forwards,
    )

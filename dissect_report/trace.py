"""Record named layers' outputs during a forward pass; hooks live only inside ``with``.

Usage::

    from dissect_report.trace import TraceDict, describe_layers, parse_layer
    with TraceDict(generator, ["layer3", "blocks.2[0]", "blocks.1.act@1"]) as td:
        images = generator(z)
    td["layer3"]                      # (N, U, H, W), detached copy
    parse_layer("blocks.2[0]@1")      # LayerSpec(module='blocks.2', element=0, call=1)
    describe_layers(generator, z[:1]) # [LayerInfo(name, module type, calls, outputs), ...]

A layer is named by its module path, optionally with ``[i]`` (element ``i`` of a module that
returns a tuple, as StyleGAN blocks return ``(x, rgb)``) and ``@k`` (the ``k``-th call, from
0, of a module that runs more than once per forward pass, such as a shared activation).
A reused module named without ``@k`` is refused at its second call: statistics of the last
call and edits of every call would silently disagree.

Like baukit's ``nethook.TraceDict``: hooks are registered on entry and removed in ``finally``,
also when the forward pass raises. A wrong name raises
``unknown layer 'layr4'; layers: layer1, layer2, ...``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from types import TracebackType

import torch
from torch import nn

from dissect_report.errors import ConfigError, ModelError

# fn(layer_name, tensor) -> replacement, or None to keep the tensor as it is.
LayerFn = Callable[[str, torch.Tensor], torch.Tensor | None]

_SPEC = re.compile(r"^(?P<module>.+?)(?:\[(?P<e1>\d+)\])?(?:@(?P<call>\d+))?(?:\[(?P<e2>\d+)\])?$")


@dataclass(frozen=True)
class LayerSpec:
    """A parsed layer name: module path, tuple element (or None), call index (or None)."""

    text: str
    module: str
    element: int | None = None
    call: int | None = None


def parse_layer(text: str) -> LayerSpec:
    """``"blocks.2[0]@1"`` -> ``LayerSpec("blocks.2[0]@1", "blocks.2", element=0, call=1)``."""
    m = _SPEC.match(text.strip()) if text else None
    if m is None or (m["e1"] is not None and m["e2"] is not None):
        raise ConfigError(
            f"invalid layer name {text!r}; expected MODULE, MODULE[i] (tuple element) "
            "or MODULE@k (k-th call)"
        )
    element = m["e1"] if m["e1"] is not None else m["e2"]
    return LayerSpec(
        text,
        m["module"],
        int(element) if element is not None else None,
        int(m["call"]) if m["call"] is not None else None,
    )


def layer_spec(model: nn.Module, name: str) -> LayerSpec:
    """``name`` parsed, unless it is a module's own path (which then wins as is)."""
    return LayerSpec(name, name) if name in dict(model.named_modules()) else parse_layer(name)


def module_names(model: nn.Module) -> list[str]:
    """Every named submodule's path, in definition order (the root excluded)."""
    return [name for name, _ in model.named_modules() if name]


def layer_listing(model: nn.Module) -> str:
    """The model's layers for a message: "fc, b1, b1.conv, ..." (the first 40, then a count)."""
    names = module_names(model)
    return ", ".join(names[:40]) + (f", ... ({len(names)} in all)" if len(names) > 40 else "")


def _unknown(model: nn.Module, name: str) -> ConfigError:
    return ConfigError(f"unknown layer {name!r}; layers: {layer_listing(model)}")


def check_default_layers(model: nn.Module, layers: Sequence[str], defaults: Sequence[str]) -> None:
    """A ConfigError when ``layers`` are still ``defaults`` (the built-in world's) and this
    model lacks one of them: the user named no layer, so "unknown layer 'layer2'" would
    mislead; e.g. "no --layers given (the defaults are the built-in world's
    layer2,layer3,layer4); this generator's layers: fc, b1, ...; pass --layers"."""
    if tuple(layers) != tuple(defaults):
        return
    try:
        resolve_layers(model, layers)
    except ConfigError:
        raise ConfigError(
            f"no --layers given (the defaults are the built-in world's {','.join(defaults)}); "
            f"this generator's layers: {layer_listing(model)}; pass --layers"
        ) from None


def resolve_layers(model: nn.Module, layers: Sequence[str]) -> dict[str, nn.Module]:
    """Map each layer name to its module; an unknown name lists the valid ones."""
    modules = dict(model.named_modules())
    out: dict[str, nn.Module] = {}
    for name in layers:
        if not name:
            raise _unknown(model, name)
        spec = parse_layer(name) if name not in modules else LayerSpec(name, name)
        if not spec.module or spec.module not in modules:
            raise _unknown(model, name)
        out[name] = modules[spec.module]
    return out


def _shape_text(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return " x ".join(str(d) for d in value.shape[1:]) or "scalar"
    return type(value).__name__


def _pick(spec: LayerSpec, output: object) -> torch.Tensor:
    """The tensor ``spec`` names inside a module's output (a tensor, or an element of a tuple)."""
    if isinstance(output, tuple | list):
        if spec.element is None:
            parts = ", ".join(f"[{i}] {_shape_text(v)}" for i, v in enumerate(output))
            raise ModelError(
                f"layer {spec.text!r} returns a {type(output).__name__} ({parts}); "
                f"pick an element, e.g. {spec.module}[0]"
            )
        if spec.element >= len(output):
            raise ConfigError(
                f"layer {spec.text!r}: element {spec.element} of a {len(output)}-element "
                f"{type(output).__name__}"
            )
        picked = output[spec.element]
    elif spec.element is not None:
        raise ConfigError(
            f"layer {spec.text!r}: {spec.module!r} returns {type(output).__name__}, not a tuple"
        )
    else:
        picked = output
    if not isinstance(picked, torch.Tensor):
        raise ModelError(
            f"layer {spec.text!r} returns {type(picked).__name__}, not a tensor; "
            "pick a layer whose output is (N, C, H, W)"
        )
    return picked


def _put(spec: LayerSpec, output: object, value: torch.Tensor) -> object:
    if spec.element is None:
        return value
    assert isinstance(output, tuple | list)
    items = list(output)
    items[spec.element] = value
    return type(output)(items) if isinstance(output, list) else tuple(items)


@contextmanager
def hook_layers(model: nn.Module, layers: Sequence[str], fn: LayerFn) -> Iterator[None]:
    """Call ``fn(name, tensor)`` on each named layer's tensor in every forward pass of ``model``.

    ``fn`` returns a replacement tensor (an edit) or None. Calls of each module are counted
    per forward pass of ``model``; ``name@k`` acts on call ``k`` only, a name without ``@k``
    raises :class:`ModelError` at a module's second call. Hooks are removed on exit.
    """
    modules = resolve_layers(model, layers)
    specs = [layer_spec(model, n) for n in layers]
    counts: dict[str, int] = {}
    handles: list[torch.utils.hooks.RemovableHandle] = []

    def reset(_m: nn.Module, _i: object) -> None:
        counts.clear()

    def make(spec: LayerSpec) -> Callable[[nn.Module, object, object], object]:
        def hook(_module: nn.Module, _inputs: object, output: object) -> object:
            call = counts.get(spec.text, 0)
            counts[spec.text] = call + 1
            if spec.call is None and call == 1:
                raise ModelError(
                    f"layer {spec.text!r} runs more than once per forward pass; "
                    f"name one call: {spec.text}@0, {spec.text}@1, ..."
                )
            if spec.call is not None and call != spec.call:
                return None
            new = fn(spec.text, _pick(spec, output))
            return None if new is None else _put(spec, output, new)

        return hook

    try:
        handles.append(model.register_forward_pre_hook(reset))
        for spec in specs:
            handles.append(modules[spec.text].register_forward_hook(make(spec)))
        yield
    finally:
        for handle in handles:
            handle.remove()


class TraceDict:
    """Context manager that records several layers' outputs.

    Edits of a forward pass go through :mod:`dissect_report.modeltools.edit`.

    ``check_4d`` makes a layer whose output is not ``(N, C, H, W)`` a :class:`ModelError`.
    Outputs are detached clones, so later in-place ops in the model cannot change them.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str],
        *,
        check_4d: bool = True,
        clone: bool = True,
    ) -> None:
        resolve_layers(model, layers)  # a wrong name fails here, before any hook exists
        self._model = model
        self._layers = list(layers)
        self._check_4d = check_4d
        self._clone = clone
        self._context: AbstractContextManager[None] | None = None
        self.outputs: dict[str, torch.Tensor] = {}

    def _record(self, name: str, output: torch.Tensor) -> torch.Tensor | None:
        if self._check_4d and output.dim() != 4:
            raise ModelError(
                f"layer {name!r} outputs shape {tuple(output.shape)} ({output.dim()}-D); "
                "dissection needs a 4-D (N, C, H, W) layer"
            )
        kept = output.detach()
        self.outputs[name] = kept.clone() if self._clone else kept
        return None

    def __enter__(self) -> TraceDict:
        self._context = hook_layers(self._model, self._layers, self._record)
        self._context.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove every hook (idempotent)."""
        if self._context is not None:
            context, self._context = self._context, None
            context.__exit__(None, None, None)

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self.outputs:
            raise ModelError(f"layer {name!r} was not run by the forward pass")
        return self.outputs[name]


@dataclass(frozen=True)
class LayerInfo:
    """One module as ``dissect-report layers`` lists it.

    ``outputs`` holds one entry per call: a tensor's per-sample shape, or for a tuple the
    per-sample shape of each element (None for an element that is not a tensor).
    """

    name: str
    module_type: str
    calls: int
    outputs: tuple[tuple[int, ...] | tuple[tuple[int, ...] | None, ...], ...]
    tuple_output: bool

    @property
    def dissectable(self) -> bool:
        """Some call yields a 4-D tensor (directly or as a tuple element)."""
        for out in self.outputs:
            parts = out if self.tuple_output else (out,)
            if any(p is not None and len(p) == 3 for p in parts):  # type: ignore[arg-type]
                return True
        return False


def describe_layers(model: nn.Module, z: torch.Tensor) -> list[LayerInfo]:
    """Every submodule's type, calls per forward pass and output shapes, from one forward."""
    seen: dict[str, list[tuple[int, ...] | tuple[tuple[int, ...] | None, ...]]] = {}
    kinds: dict[str, bool] = {}
    handles = []

    def make(name: str) -> Callable[[nn.Module, object, object], None]:
        def hook(_m: nn.Module, _i: object, output: object) -> None:
            if isinstance(output, tuple | list):
                kinds[name] = True
                seen.setdefault(name, []).append(
                    tuple(
                        tuple(v.shape[1:]) if isinstance(v, torch.Tensor) else None for v in output
                    )
                )
            elif isinstance(output, torch.Tensor):
                kinds.setdefault(name, False)
                seen.setdefault(name, []).append(tuple(output.shape[1:]))

        return hook

    try:
        for name, module in model.named_modules():
            if name:
                handles.append(module.register_forward_hook(make(name)))
        with torch.no_grad():
            model(z)
    finally:
        for handle in handles:
            handle.remove()
    modules = dict(model.named_modules())
    return [
        LayerInfo(
            name, type(modules[name]).__name__, len(seen[name]), tuple(seen[name]), kinds[name]
        )
        for name in module_names(model)
        if name in seen
    ]


def layer_shapes(model: nn.Module, z: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Output shape (without the batch axis) of every submodule that returns a tensor."""
    return {
        info.name: info.outputs[0]  # type: ignore[misc]
        for info in describe_layers(model, z)
        if not info.tuple_output
    }

"""Record named layers' outputs during a forward pass; hooks live only inside ``with``.

Usage::

    from dissect_report.trace import TraceDict, layer_shapes
    with TraceDict(generator, ["layer3", "layer4"]) as td:
        images = generator(z)
    td["layer4"]                      # (N, U, H, W), detached copy
    layer_shapes(generator, z[:1])    # {"layer1": (256, 4, 4), ...} for every 4-D module

Like baukit's ``nethook.TraceDict``: hooks are registered on entry and removed in ``finally``,
also when the forward pass raises. A wrong name raises
``unknown layer 'layr4'; layers: layer1, layer2, ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType

import torch
from torch import nn

from dissect_report.errors import ConfigError, ModelError

# edit(layer_name, output) -> output: the one signature of an edit function.
Edit = Callable[[str, torch.Tensor], torch.Tensor]


def module_names(model: nn.Module) -> list[str]:
    """Every named submodule's path, in definition order (the root excluded)."""
    return [name for name, _ in model.named_modules() if name]


def resolve_layers(model: nn.Module, layers: Sequence[str]) -> dict[str, nn.Module]:
    """Map each layer name to its module; an unknown name lists the valid ones."""
    modules = dict(model.named_modules())
    out: dict[str, nn.Module] = {}
    for name in layers:
        if not name or name not in modules:
            names = module_names(model)
            shown = ", ".join(names[:40]) + (
                f", ... ({len(names)} in all)" if len(names) > 40 else ""
            )
            raise ConfigError(f"unknown layer {name!r}; layers: {shown}")
        out[name] = modules[name]
    return out


class TraceDict:
    """Context manager that records (and optionally edits) several layers' outputs.

    ``check_4d`` makes a layer whose output is not ``(N, C, H, W)`` a :class:`ModelError`.
    Outputs are detached clones, so later in-place ops in the model cannot change them.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str],
        *,
        edit: Edit | None = None,
        check_4d: bool = True,
        clone: bool = True,
    ) -> None:
        self._modules = resolve_layers(model, layers)
        self._edit = edit
        self._check_4d = check_4d
        self._clone = clone
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self.outputs: dict[str, torch.Tensor] = {}

    def _hook(self, name: str) -> Callable[[nn.Module, object, object], object]:
        def hook(_module: nn.Module, _inputs: object, output: object) -> object:
            if not isinstance(output, torch.Tensor):
                raise ModelError(
                    f"layer {name!r} returns {type(output).__name__}, not a tensor; "
                    "pick a layer whose output is (N, C, H, W)"
                )
            if self._check_4d and output.dim() != 4:
                raise ModelError(
                    f"layer {name!r} outputs shape {tuple(output.shape)} ({output.dim()}-D); "
                    "dissection needs a 4-D (N, C, H, W) layer"
                )
            if self._edit is not None:
                output = self._edit(name, output)
            kept = output.detach()
            self.outputs[name] = kept.clone() if self._clone else kept
            return output if self._edit is not None else None

        return hook

    def __enter__(self) -> TraceDict:
        try:
            for name, module in self._modules.items():
                self._handles.append(module.register_forward_hook(self._hook(name)))
        except BaseException:
            self.close()
            raise
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
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self.outputs:
            raise ModelError(f"layer {name!r} was not run by the forward pass")
        return self.outputs[name]


def layer_shapes(model: nn.Module, z: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Output shape (without the batch axis) of every submodule that returns a tensor."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []

    def make(name: str) -> Callable[[nn.Module, object, object], None]:
        def hook(_m: nn.Module, _i: object, output: object) -> None:
            if isinstance(output, torch.Tensor) and name not in shapes:
                shapes[name] = tuple(output.shape[1:])

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
    order = module_names(model)
    return {name: shapes[name] for name in order if name in shapes}

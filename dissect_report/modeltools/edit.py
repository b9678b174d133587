"""The intervention primitive: edit one layer's output during a forward pass.

Usage::

    from dissect_report.modeltools.edit import ablate, edit, insert, patch_mask

    with edit(generator, "layer4", ablate([3, 17])):
        images = generator(z)                      # units 3 and 17 zeroed everywhere

    region = patch_mask(8, 8, top=2, left=4, size=3)   # (8, 8) bool
    with edit(generator, "layer4", insert([5], level=torch.tensor([2.5]), region=region)):
        images = generator(z)                      # unit 5 forced to 2.5 inside the patch

    with trace(generator, "layer4") as t:
        generator(z)
    t.output                                       # the layer's (unedited) output

One generic loop (:func:`edit`: a forward hook that pipes the layer's output through setter
functions) and small setters built on :func:`blend`, as in TransformerLens ``patching.py``.
Hooks exist only inside the ``with`` block and are removed in ``finally``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from dissect_report.errors import ConfigError
from dissect_report.trace import hook_layers

# A setter maps the layer's output (N, U, H, W) to its edited version (same shape).
Setter = Callable[[torch.Tensor], torch.Tensor]


@contextmanager
def edit(model: nn.Module, layer: str, *setters: Setter) -> Iterator[None]:
    """Apply ``setters`` in order to ``layer``'s output on every forward pass inside the block.

    ``layer`` may name a tuple element (``blocks.2[0]``) or one call of a reused module
    (``blocks.1.act@1``), as in :func:`dissect_report.trace.parse_layer`. The hook is
    removed on exit, also when the block raises.
    """

    def apply(_name: str, output: torch.Tensor) -> torch.Tensor:
        for setter in setters:
            output = setter(output)
        return output

    with hook_layers(model, [layer], apply):
        yield


@dataclass
class Trace:
    """What :func:`trace` recorded: the layer's output of the last forward pass."""

    output: torch.Tensor | None = None
    outputs: list[torch.Tensor] = field(default_factory=list)


@contextmanager
def trace(
    model: nn.Module, layer: str, *setters: Setter, keep_all: bool = False
) -> Iterator[Trace]:
    """Record ``layer``'s output (after ``setters``, if any), detached.

    ``keep_all`` keeps every forward pass's output in ``outputs`` (else only the last).
    """
    record = Trace()

    def keep(output: torch.Tensor) -> torch.Tensor:
        record.output = output.detach()
        if keep_all:
            record.outputs.append(record.output)
        return output

    with edit(model, layer, *setters, keep):
        yield record


def _region(region: torch.Tensor | None, output: torch.Tensor) -> torch.Tensor | None:
    """The region as a float mask broadcastable to ``(N, 1, H, W)`` at the layer's size."""
    if region is None:
        return None
    mask = region.to(device=output.device, dtype=output.dtype)
    if mask.dim() == 2:
        mask = mask[None, None]
    elif mask.dim() == 3:
        mask = mask[:, None]
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ConfigError(
            f"region must be (H, W), (N, H, W) or (N, 1, H, W); got {tuple(region.shape)}"
        )
    if mask.shape[-2:] != output.shape[-2:]:
        # Regions drawn at another resolution (e.g. image pixels) are resampled to the layer's.
        mask = nn.functional.interpolate(mask, size=output.shape[-2:], mode="area")
    if mask.shape[0] not in (1, output.shape[0]):
        raise ConfigError(f"region has {mask.shape[0]} masks for a batch of {output.shape[0]}")
    return mask


def blend(
    weights: torch.Tensor, target: torch.Tensor | float, region: torch.Tensor | None = None
) -> Setter:
    """The one setter the others are made of: ``h + w * m * (target - h)`` per unit.

    ``weights`` (U,) in [0, 1] says how far each unit moves toward ``target`` (a scalar or a
    (U,) per-unit level); ``region`` (H, W) / (N, H, W) / (N, 1, H, W) limits where (soft
    masks allowed). Differentiable in ``weights`` (used to optimize unit sets).
    """

    def setter(output: torch.Tensor) -> torch.Tensor:
        if output.dim() != 4:
            raise ConfigError(f"can only edit (N, U, H, W) outputs; got {tuple(output.shape)}")
        units = output.shape[1]
        w = weights.to(device=output.device, dtype=output.dtype)
        if w.shape != (units,):
            raise ConfigError(f"edit weights have shape {tuple(w.shape)}; layer has {units} units")
        w = w.view(1, units, 1, 1)
        tgt = torch.as_tensor(target, device=output.device, dtype=output.dtype)
        if tgt.dim() == 1:
            if tgt.shape[0] != units:
                raise ConfigError(f"edit target has {tgt.shape[0]} values; layer has {units} units")
            tgt = tgt.view(1, units, 1, 1)
        mask = _region(region, output)
        if mask is not None:
            w = w * mask
        return output + w * (tgt - output)

    return setter


def unit_weights(units: Sequence[int], total: int) -> torch.Tensor:
    """A (total,) 0/1 vector with ones at ``units``; a unit out of range is an error."""
    bad = [u for u in units if not 0 <= int(u) < total]
    if bad:
        raise ConfigError(f"unit {bad[0]} out of range; the layer has {total} units")
    w = torch.zeros(total)
    if len(units):
        w[torch.as_tensor([int(u) for u in units], dtype=torch.long)] = 1.0
    return w


def _by_units(units: Sequence[int], make: Callable[[torch.Tensor], Setter]) -> Setter:
    """A setter whose weight vector is built lazily, once the layer's width is known."""
    cache: dict[int, Setter] = {}

    def setter(output: torch.Tensor) -> torch.Tensor:
        total = output.shape[1]
        if total not in cache:
            cache[total] = make(unit_weights(units, total))
        return cache[total](output)

    return setter


def ablate(
    units: Sequence[int], value: float | torch.Tensor = 0.0, region: torch.Tensor | None = None
) -> Setter:
    """Set ``units`` to ``value`` (0 by default; a scalar or per-unit (U,) tensor)."""
    return _by_units(units, lambda w: blend(w, value, region))


def insert(
    units: Sequence[int], level: torch.Tensor | float, region: torch.Tensor | None = None
) -> Setter:
    """Force ``units`` to ``level`` (scalar or per-unit (U,) tensor, e.g. a high quantile)."""
    return _by_units(units, lambda w: blend(w, level, region))


def patch_mask(height: int, width: int, top: int, left: int, size: int) -> torch.Tensor:
    """A (height, width) bool mask that is True on the ``size`` x ``size`` square at (top, left)."""
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[max(top, 0) : top + size, max(left, 0) : left + size] = True
    return mask

"""Adapters that make common generator architectures keep the model contract.

Usage::

    from dissect_report.adapters import adapt_generator, seeded_noise
    g = adapt_generator(g, latent_shape=(100, 1, 1))   # DCGAN: z (N, 100) -> (N, 100, 1, 1)
    g = adapt_generator(g, seeded_noise=True)           # StyleGAN: torch.randn in forward
    with seeded_noise(z):                               # the same, for one call you make
        images = g(z)

The contract: sample ``i`` of a run is a pure function of ``(seed, i)``. Latents are (see
:mod:`dissect_report.sampler`); a generator that draws its own noise inside ``forward``
(StyleGAN's per-layer noise, ``torch.randn`` / ``x.new_empty(...).normal_()``) breaks it,
because the global RNG's state depends on the batch, shard and resume point.

How seeded noise works, and why this way: inside the generator's forward a
``TorchFunctionMode`` intercepts the random factory calls (``randn``, ``rand``,
``randn_like``, ``rand_like``, ``normal_``, ``uniform_``, ``normal``). A draw whose first
axis is the batch is filled row by row, row ``k`` from a per-sample ``torch.Generator``
seeded by a hash of latent row ``k`` (itself a function of ``(seed, i)``), so sample ``i``
draws the same noise in any batch, order, shard or resume, and also in the interventions
and artifacts stages, which pass latents rather than sample ids. A draw without a batch axis
(shape ``(1, ...)``, shared by the batch) comes from a generator seeded by its call number:
the same noise for every sample, a pure function too. Any other random op inside forward
(``randint``, ``bernoulli``, ``dropout`` in train mode...) is refused by name. This needs no
change to the model's code (rosinality's and lucidrains' StyleGAN2 both draw with these
calls), where a ``noise=`` argument protocol would need every model rewritten; it does not
cover NumPy's or Python's RNG (the model check still catches those).
"""

from __future__ import annotations

import hashlib
import math
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from dissect_report.errors import ModelError

# Random ops the adapter draws itself (fills per sample) and ones it refuses by name.
_FACTORY = {"randn": "normal", "rand": "uniform"}
_LIKE = {"randn_like": "normal", "rand_like": "uniform"}
_INPLACE = {"normal_": "normal", "uniform_": "uniform"}
_REFUSED = {
    "randint",
    "randint_like",
    "randperm",
    "bernoulli",
    "bernoulli_",
    "multinomial",
    "poisson",
    "exponential_",
    "geometric_",
    "cauchy_",
    "log_normal_",
    "random_",
    "dropout",
    "dropout_",
    "rrelu",
    "rrelu_",
}
RANDOM_OPS = frozenset(_FACTORY) | frozenset(_LIKE) | frozenset(_INPLACE) | {"normal"} | _REFUSED


def row_seed(row: torch.Tensor) -> int:
    """A 63-bit seed from the bytes of one latent row (float32, on the CPU)."""
    data = row.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


def _name(func: Any) -> str:
    return str(getattr(func, "__name__", func))


def _draws(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether a call of torch ``name`` draws from the global RNG: a random op without a
    generator of its own; dropout only when training (``F.dropout``'s default is training)."""
    if name not in RANDOM_OPS or kwargs.get("generator") is not None:
        return False
    if name.startswith("dropout"):
        return bool(args[2] if len(args) > 2 else kwargs.get("train", kwargs.get("training", True)))
    return True


def _size(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, ...]:
    if "size" in kwargs:
        size = kwargs["size"]
    elif len(args) == 1 and isinstance(args[0], Sequence | torch.Size):
        size = args[0]
    else:
        size = args
    return tuple(int(s) for s in size)


def _draw(kind: str, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    if kind == "normal":
        return torch.randn(shape, generator=gen)
    return torch.rand(shape, generator=gen)


class _RandomOpMode(TorchFunctionMode):
    """A mode that hands every torch call drawing from the global RNG (:func:`_draws`) to
    :meth:`_random` and lets every other call through."""

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = dict(kwargs or {})
        name = _name(func)
        if not _draws(name, args, kwargs):
            return func(*args, **kwargs)
        return self._random(func, name, args, kwargs)

    def _random(self, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError


class _NoiseMode(_RandomOpMode):
    """Answers the generator's random draws with values of its own (:meth:`_unit`)."""

    def _unit(self, kind: str, shape: tuple[int, ...]) -> torch.Tensor:
        """Standard ``kind`` ("normal" or "uniform") values of ``shape``, one row a sample."""
        raise NotImplementedError

    def _like(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
        """``randn_like`` / ``rand_like``: the draw on the device of its model tensor."""
        like: torch.Tensor = args[0]
        out = self._unit(_LIKE[name], tuple(like.shape))
        return out.to(device=like.device, dtype=kwargs.get("dtype") or like.dtype)

    def _inplace(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
        """The values an in-place draw (``normal_``, ``uniform_``) gives its tensor ``args[0]``,
        in that tensor's dtype."""
        target: torch.Tensor = args[0]
        params = list(args[1:3]) + [None, None]
        a = kwargs.get("mean", kwargs.get("from", params[0]))
        b = kwargs.get("std", kwargs.get("to", params[1]))
        unit = self._unit(_INPLACE[name], tuple(target.shape))
        if _INPLACE[name] == "normal":
            unit = unit * (1.0 if b is None else b) + (0.0 if a is None else a)
        else:
            lo, hi = (0.0 if a is None else a), (1.0 if b is None else b)
            unit = unit * (hi - lo) + lo
        return unit.to(target.dtype)


class _SeededRandom(_NoiseMode):
    """Fills the generator's own random draws from per-sample generators (see module doc)."""

    def __init__(self, seeds: list[int]) -> None:
        super().__init__()
        self.rows = [torch.Generator().manual_seed(s) for s in seeds]
        self.shared_calls = 0

    def _unit(self, kind: str, shape: tuple[int, ...]) -> torch.Tensor:
        n = len(self.rows)
        if shape and shape[0] == n:
            return torch.stack([_draw(kind, shape[1:], g) for g in self.rows])
        self.shared_calls += 1
        shared = torch.Generator().manual_seed(1_000_003 * self.shared_calls)
        return _draw(kind, shape, shared)

    def _random(self, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if name in _REFUSED:
            raise ModelError(
                f"the generator calls torch {name} inside forward; seeded noise covers only "
                "randn, rand, randn_like, rand_like, normal, normal_ and uniform_"
            )
        if name in _FACTORY:
            dtype = kwargs.get("dtype") or torch.get_default_dtype()
            out = self._unit(_FACTORY[name], _size(args, kwargs))
            return out.to(device=kwargs.get("device"), dtype=dtype)
        if name in _LIKE:
            return self._like(name, args, kwargs)
        if name in _INPLACE:
            target: torch.Tensor = args[0]
            with torch.no_grad():
                target.copy_(self._inplace(name, args, kwargs))
            return target
        # torch.normal(mean, std, size) with float mean/std; tensor means broadcast per element
        mean = kwargs.get("mean", args[0] if args else 0.0)
        std = kwargs.get("std", args[1] if len(args) > 1 else 1.0)
        if isinstance(mean, torch.Tensor) or isinstance(std, torch.Tensor):
            ref = mean if isinstance(mean, torch.Tensor) else std
            shape = torch.broadcast_shapes(
                tuple(getattr(mean, "shape", ())), tuple(getattr(std, "shape", ()))
            )
            return self._unit("normal", shape).to(ref.device, ref.dtype) * std + mean
        size = kwargs.get("size", args[2] if len(args) > 2 else None)
        if size is None:
            return func(*args, **kwargs)
        out = self._unit("normal", tuple(int(s) for s in size)) * std + mean
        return out.to(device=kwargs.get("device"), dtype=kwargs.get("dtype") or out.dtype)


class _Recording(_SeededRandom):
    """Seeded draws, each kept (``(N, ...)`` per call, in call order) for :func:`noise_table`."""

    def __init__(self, seeds: list[int]) -> None:
        super().__init__(seeds)
        self.draws: list[torch.Tensor] = []

    def _unit(self, kind: str, shape: tuple[int, ...]) -> torch.Tensor:
        out = super()._unit(kind, shape)
        n = len(self.rows)
        self.draws.append(out if shape and shape[0] == n else out.expand(n, *out.shape[1:]))
        return out


class _Replay(_NoiseMode):
    """Random draws replayed from a :class:`NoiseTable`: the row of the table whose latent is
    nearest each input latent (traceable: no hashing, so an exporter can follow it)."""

    def __init__(self, table: NoiseTable, z: torch.Tensor) -> None:
        super().__init__()
        flat = z.reshape(z.shape[0], -1).float()
        known = table.latents.to(flat.device)
        self.index = ((known[None] - flat[:, None]) ** 2).sum(-1).argmin(1)
        self.table = table
        self.calls = 0

    def _unit(self, kind: str, shape: tuple[int, ...]) -> torch.Tensor:
        """The next recorded draw (``kind`` was fixed when it was recorded)."""
        if self.calls >= len(self.table.draws):
            raise ModelError("the generator drew more random numbers than when it was recorded")
        draw = self.table.draws[self.calls].to(self.index.device)
        self.calls += 1
        rows = draw.index_select(0, self.index)
        return rows if shape and shape[0] == rows.shape[0] else rows[:1].reshape(shape)

    def _random(self, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if name in _REFUSED:
            return func(*args, **kwargs)
        if name in _INPLACE:
            return self._inplace(name, args, kwargs)  # the value, as the exporter's graph wants
        if name in _LIKE:
            return self._like(name, args, kwargs)
        size = _size(args, kwargs) if name in _FACTORY else tuple(kwargs.get("size", args[2]))
        return self._unit("normal", tuple(int(d) for d in size)).to(
            dtype=kwargs.get("dtype") or torch.float32
        )


class NoiseTable:
    """The seeded-noise draws of known latents: ``latents`` ``(S, D)``, ``draws`` per call
    ``(S, ...)``. An export replays them (:func:`replaying`), since the adapter's own seeding
    (a hash of each latent's bytes) cannot be traced."""

    def __init__(self, latents: torch.Tensor, draws: list[torch.Tensor]) -> None:
        self.latents = latents.reshape(latents.shape[0], -1).float()
        self.draws = draws


def noise_table(generator: nn.Module, z: torch.Tensor) -> NoiseTable:
    """Run ``generator`` (adapted with ``seeded``) on ``z`` and keep every draw it makes."""
    _RECORD.append([])
    try:
        with torch.no_grad():
            generator(z)
        return NoiseTable(z, _RECORD[-1])
    finally:
        _RECORD.pop()


_RECORD: list[list[torch.Tensor]] = []  # active recordings (noise_table)
_REPLAY: list[NoiseTable] = []  # active replays (replaying)


@contextmanager
def replaying(table: NoiseTable) -> Iterator[None]:
    """Inside the block, a seeded-noise generator replays ``table`` instead of drawing."""
    _REPLAY.append(table)
    try:
        yield
    finally:
        _REPLAY.pop()


@contextmanager
def seeded_noise(z: torch.Tensor) -> Iterator[None]:
    """Inside the block, random draws in a forward pass are a function of each row of ``z``.

    ``z``: the latents ``(N, ...)`` the generator is called with; row ``k`` seeds sample
    ``k``'s noise. See the module docstring for what is covered and how.
    """
    if _REPLAY:
        with _Replay(_REPLAY[-1], z):
            yield
        return
    seeds = [row_seed(row) for row in z.reshape(z.shape[0], -1)]
    if _RECORD:
        recording = _Recording(seeds)
        with recording:
            yield
        _RECORD[-1].extend(recording.draws)
        return
    with _SeededRandom(seeds):
        yield


class RandomCalls(_RandomOpMode):
    """Records the names of unseeded random ops called inside the block (for the model check)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def _random(self, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.names.append(name)
        return func(*args, **kwargs)


TORCHSCRIPT_FIX = (
    "forward hooks never run inside TorchScript, so no layer can be read; fix: return the "
    "Python nn.Module from the factory (build the model's class, load the weights into it)"
)


def refuse_torchscript(generator: nn.Module) -> None:
    """A :class:`ModelError` for a TorchScript generator (``torch.jit.script`` / ``trace``)."""
    if isinstance(generator, torch.jit.ScriptModule):
        raise ModelError(
            f"the generator is a TorchScript module ({type(generator).__name__}): "
            + TORCHSCRIPT_FIX
        )


def adapt_generator(
    generator: nn.Module,
    latent_shape: Sequence[int] | None = None,
    seeded: bool = False,
    *,
    clamp: bool = False,
) -> nn.Module:
    """The same module, its ``forward`` taking latents ``(N, z_dim)`` with adapters applied.

    ``latent_shape``: the per-sample shape the generator wants, e.g. ``(100, 1, 1)`` for the
    PyTorch DCGAN tutorial; ``z_dim`` is its product and rows are reshaped, not redrawn.
    ``seeded``: make the generator's own random draws a function of ``(seed, i)``
    (:func:`seeded_noise`). ``clamp``: clamp its images to [-1, 1] (an unbounded output, as
    ProGAN's, whose own scripts clamp when saving). Only the instance's ``forward`` changes: module names, hooks,
    state dict and hash stay those of the model.
    """
    refuse_torchscript(generator)
    if latent_shape is None and not seeded and not clamp:
        return generator
    inner = generator.forward
    shape = tuple(int(s) for s in latent_shape) if latent_shape is not None else None

    def forward(self: nn.Module, z: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if shape is not None and z.dim() == 2:
            if z.shape[1] != math.prod(shape):
                raise ModelError(
                    f"latents of size {z.shape[1]} do not fit latent shape {shape} "
                    f"({math.prod(shape)} values)"
                )
            z = z.reshape(z.shape[0], *shape)
        if not seeded:
            out = inner(z, *args, **kwargs)
        else:
            with seeded_noise(z):
                out = inner(z, *args, **kwargs)
        return out.clamp(-1.0, 1.0) if clamp and isinstance(out, torch.Tensor) else out

    generator.forward = types.MethodType(forward, generator)  # type: ignore[method-assign]
    generator.latent_shape = shape  # type: ignore[assignment]
    return generator

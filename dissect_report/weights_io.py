"""Read weights files safely and fit them to a module with a clear error.

Usage::

    from dissect_report.weights_io import apply_state_dict, load_state_dict
    state = load_state_dict("gen.safetensors")        # or a .pt/.pth state dict
    apply_state_dict(model, state, "gen.safetensors")

Only safetensors, or ``torch.load(weights_only=True)``: never arbitrary unpickling.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import warnings
from pathlib import Path

import torch

from dissect_report.errors import ModelError


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, for the manifest's model identity."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_tensor_dict(value: object) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(v, torch.Tensor) for v in value.values())
    )


def _describe(state: dict[str, object]) -> str:
    parts = []
    for k in sorted(state, key=str)[:12]:
        v = state[k]
        kind = "tensors" if _is_tensor_dict(v) else type(v).__name__
        parts.append(f"{k} ({kind})")
    return ", ".join(parts) + (f", ... ({len(state)} in all)" if len(state) > 12 else "")


def unwrap_state(
    state: object, path: str | Path, key: str | None = None
) -> dict[str, torch.Tensor]:
    """The state dict of tensors in a loaded checkpoint.

    ``key`` picks one entry (``{"netG_state_dict": {...}, "epoch": 5}`` with
    ``key="netG_state_dict"``); without it a flat dict of tensors is taken as is, and a
    checkpoint holding exactly one nested dict of tensors is unwrapped. Anything else is a
    :class:`ModelError` that names the keys found and the ``--weights-key`` to choose.
    """
    where = str(path)
    if not isinstance(state, dict):
        raise ModelError(f"weights file {where!r} holds a {type(state).__name__}, not a state dict")
    if key is not None:
        if key not in state:
            raise ModelError(f"weights file {where!r} has no key {key!r}; keys: {_describe(state)}")
        chosen = state[key]
        if not _is_tensor_dict(chosen):
            raise ModelError(
                f"key {key!r} of weights file {where!r} holds {type(chosen).__name__}, "
                "not a dict of tensors"
            )
        return chosen  # type: ignore[return-value]
    if _is_tensor_dict(state):
        return state  # type: ignore[return-value]
    nested = [k for k, v in state.items() if _is_tensor_dict(v)]
    if len(nested) == 1:
        return state[nested[0]]  # type: ignore[no-any-return]
    if nested:
        raise ModelError(
            f"weights file {where!r} holds {len(nested)} state dicts "
            f"({', '.join(map(str, nested))}); pick one with --weights-key KEY"
        )
    raise ModelError(
        f"weights file {where!r} does not hold a state dict of tensors; keys: {_describe(state)}"
    )


def load_state_dict(path: str | Path, key: str | None = None) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` or ``.pt``/``.pth``/``.tar``/``.bin`` state dict, on the CPU.

    A checkpoint that nests its state dicts (``{"netG_state_dict": {...}}``) is unwrapped
    as :func:`unwrap_state` says; ``key`` picks one entry.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"weights file {str(path)!r} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: object = load_file(str(path), device="cpu")
        else:
            with warnings.catch_warnings():  # torch's own advice would precede our one line
                warnings.simplefilter("ignore")
                state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch words every refusal "Weights only load failed", also for bytes that are no
        # pickle at all ("Unsupported operand 103"): only an unsupported GLOBAL is an object
        if "unsupported global" not in str(exc).lower():
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "UnpicklingError"
            detail = re.search(r"WeightsUnpickler error:\s*(.+)", str(exc))
            why = detail.group(1).strip().splitlines()[0] if detail else first
            raise ModelError(
                f"cannot read weights file {str(path)!r}: corrupt or not a state dict ({why})"
            ) from None
        # weights_only refused an object that is no tensor (torch's advice to retry unsafely
        # is not ours to give)
        found = re.search(r"unsupported GLOBAL (\S+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise ModelError(
            f"cannot read weights file {str(path)!r}: refused, it holds pickled Python "
            f"objects{what}, not only tensors; save a state dict (or .safetensors)"
        ) from None
    except Exception as exc:  # every library reports corruption differently
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"cannot read weights file {str(path)!r}: corrupt or not a state dict ({first})"
        ) from None
    return unwrap_state(state, path, key)


def _names(keys: list[str], limit: int = 8) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:limit]) + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def apply_state_dict(
    module: torch.nn.Module, state: dict[str, torch.Tensor], source: str | Path
) -> None:
    """Load ``state`` into ``module`` strictly; mismatched keys and shapes are named."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in sorted(own.items())
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_names(unexpected)}")
    if wrong:
        problems.append(f"wrong shapes: {', '.join(wrong[:8])}")
    if problems:
        raise ModelError(
            f"weights {str(source)!r} do not fit {type(module).__name__}; " + "; ".join(problems)
        )
    module.load_state_dict(state)


def load_weights(module: torch.nn.Module, path: str | Path, key: str | None = None) -> None:
    """Read ``path`` (entry ``key`` of a nested checkpoint) and load it into ``module``."""
    apply_state_dict(module, load_state_dict(path, key), path)

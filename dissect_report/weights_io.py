"""Read weights files safely and fit them to a module with a clear error.

Usage::

    from dissect_report.weights_io import apply_state_dict, load_state_dict
    state = load_state_dict("gen.safetensors")        # or a .pt/.pth state dict
    apply_state_dict(model, state, "gen.safetensors")

Only safetensors, or ``torch.load(weights_only=True)``: never arbitrary unpickling.
"""

from __future__ import annotations

import hashlib
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


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` or ``.pt``/``.pth``/``.bin`` state dict, on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if (
                isinstance(state, dict)
                and "state_dict" in state
                and isinstance(state["state_dict"], dict)
            ):
                state = state["state_dict"]
    except Exception as exc:  # every library reports corruption differently
        raise ModelError(
            f"cannot read weights file {path}: corrupt or not a state dict ({type(exc).__name__})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"weights file {path} does not hold a state dict of tensors")
    return state


def _names(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def apply_state_dict(
    module: torch.nn.Module, state: dict[str, torch.Tensor], source: str | Path
) -> None:
    """Load ``state`` into ``module`` strictly; mismatches name the offending keys."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_names(unexpected)}")
    if shapes:
        problems.append(f"shape mismatch: {_names(shapes, 3)}")
    if problems:
        raise ModelError(
            f"weights {source} do not fit {type(module).__name__}: " + "; ".join(problems)
        )
    module.load_state_dict(state)

"""Match the units of one layer in two reports of the same architecture (checkpoints, fine-tunes).

Usage::

    from dissect_report.compare.matching import match_by_activation, match_by_iou
    pairs, scores = match_by_iou(iou_a, iou_b)          # (unit_a, unit_b) pairs, similarity
    found = match_by_activation(report_a, report_b, ["layer3"], samples=32)
    found["layer3"]                                     # pairs and correlations, or absent

A unit is matched one to one (Hungarian assignment, ``scipy.optimize.linear_sum_assignment``)
with the unit of the other report that fires on the same pixels of the same samples: the
Pearson correlation of their activations on shared samples, when both reports can regenerate
them (their generator loads and has the recorded state hash); otherwise the cosine similarity
of their IoU profiles over the shared concepts. Ties go to the unit of the same index, so a
checkpoint that kept its units matches them to themselves.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Added to the diagonal so that equal scores prefer the unit of the same index.
_SAME_INDEX_BONUS = 1e-6


def assign(similarity: np.ndarray) -> tuple[list[tuple[int, int]], list[float]]:
    """One-to-one pairs (row, column) maximizing the total similarity, and each pair's score.

    Usage::

        assign(np.eye(3))    # ([(0, 0), (1, 1), (2, 2)], [1.0, 1.0, 1.0])
    """
    from scipy.optimize import linear_sum_assignment

    sim = np.nan_to_num(np.asarray(similarity, dtype=np.float64), nan=-1.0)
    bonus = np.zeros_like(sim)
    n = min(sim.shape)
    bonus[np.arange(n), np.arange(n)] = _SAME_INDEX_BONUS
    rows, cols = linear_sum_assignment(-(sim + bonus))
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]
    return pairs, [float(sim[r, c]) for r, c in pairs]


def match_by_iou(iou_a: np.ndarray, iou_b: np.ndarray) -> tuple[list[tuple[int, int]], list[float]]:
    """Pairs of units (rows) whose IoU profiles over the same concepts (columns) agree best."""
    a = iou_a / np.maximum(np.linalg.norm(iou_a, axis=1, keepdims=True), 1e-12)
    b = iou_b / np.maximum(np.linalg.norm(iou_b, axis=1, keepdims=True), 1e-12)
    return assign(a @ b.T)


def correlation(acts_a: np.ndarray, acts_b: np.ndarray) -> np.ndarray:
    """Pearson correlation of every unit of ``acts_a`` with every unit of ``acts_b``.

    Both are ``(N, C, H, W)`` activations of the same samples; a constant unit correlates 0.
    """
    a = acts_a.transpose(1, 0, 2, 3).reshape(acts_a.shape[1], -1).astype(np.float64)
    b = acts_b.transpose(1, 0, 2, 3).reshape(acts_b.shape[1], -1).astype(np.float64)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    a = np.where(na > 0, a / np.maximum(na, 1e-300), 0.0)
    b = np.where(nb > 0, b / np.maximum(nb, 1e-300), 0.0)
    return a @ b.T


def _activations(manifest: dict[str, Any], layers: list[str], seed: int, samples: int) -> Any:
    """The report's generator, reloaded and checked against its recorded state hash, run on
    samples ``0..samples-1`` of ``seed``: ``{layer: (N, C, H, W) array}``, or None."""
    import torch

    from dissect_report.errors import UserError
    from dissect_report.models import (
        generator_latents,
        latent_size,
        load_generator,
        state_sha256,
    )
    from dissect_report.trace import TraceDict

    model = manifest.get("model") or {}
    factory = model.get("factory")
    if not factory:
        return None
    try:
        generator = load_generator(
            factory,
            model.get("weights"),
            "cpu",
            weights_key=model.get("weights_key"),
            latent_shape=tuple(model["latent_shape"]) if model.get("latent_shape") else None,
            seeded_noise=bool(model.get("seeded_noise")),
            clamp_output=bool(model.get("clamp_output")),
            factory_args=model.get("generator_args") or {},
        )
        if model.get("state_sha256") and state_sha256(generator) != model["state_sha256"]:
            log.info("%s: the generator loaded now is not the one dissected", factory)
            return None
        z_dim = latent_size(generator, model.get("z_dim"), factory)
        z = generator_latents(generator, seed, range(samples), z_dim)
        with torch.no_grad(), TraceDict(generator, layers) as trace:
            generator(z)
        return {name: trace[name].float().numpy() for name in layers}
    except (UserError, OSError, ImportError) as exc:
        log.info("cannot regenerate %s: %s", factory, exc)
        return None


def match_by_activation(
    manifest_a: dict[str, Any],
    manifest_b: dict[str, Any],
    layers: list[str],
    samples: int = 32,
) -> dict[str, tuple[list[tuple[int, int]], list[float]]]:
    """Pairs and correlations per layer, from activations on shared samples; ``{}`` when
    either report's generator cannot be regenerated as it was dissected."""
    seed = int((manifest_a.get("samples") or {}).get("seed", 1))
    acts_a = _activations(manifest_a, layers, seed, samples)
    acts_b = _activations(manifest_b, layers, seed, samples) if acts_a is not None else None
    if acts_a is None or acts_b is None:
        return {}
    out = {}
    for layer in layers:
        if acts_a[layer].shape == acts_b[layer].shape:
            out[layer] = assign(correlation(acts_a[layer], acts_b[layer]))
    return out

"""Optimized unit sets: learn a per-unit ablation vector alpha in [0, 1] (GAN Dissection 4.2).

Usage::

    z = models.latents(range(64), seed=1)                # training samples (not the held-out)
    settings = OptimizeSettings(steps=30, patch=8)
    alpha = optimize_alpha(models, "layer4", z, (64, 32, 32), 3, levels, settings)
    order = alpha_order(alpha)            # units by learned alpha, largest first

Loss (minimized with Adam, alpha projected back onto [0, 1] after each step)::

    mean p_c(G with h -> (1 - alpha) h)                       # concept left after ablation
  - mean p_c(G with h -> h + alpha m (level - h))             # concept made by insertion in patch m
  + l2 * sum(alpha^2)

``p_c`` is the segmenter's differentiable ``class_probs`` for the concept. Each step uses
``batch`` of the training latents ``z`` in a fixed rotation and one insertion site per sample
from the insertion lattice, so the result depends on the settings and seed, not on
``--batch-size``. The intervention stage trains on the dissection's samples, so the ACE of the
learned set is measured, like the IoU ordering's, on samples neither has seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dissect_report.errors import ModelError
from dissect_report.interventions.insertion import grid_positions
from dissect_report.models import Models, to_numpy
from dissect_report.modeltools.edit import Setter, blend, edit
from dissect_report.modeltools.frozen import frozen
from dissect_report.progress import bar


def _concept_prob(models: Models, images: torch.Tensor, concept: int) -> torch.Tensor:
    return models.class_probs(images)[:, concept].mean()


def _probe(flag: torch.Tensor) -> Setter:
    """A setter that adds ``0 * flag`` to the layer's output: a path for gradients to flow."""

    def setter(output: torch.Tensor) -> torch.Tensor:
        return output + 0.0 * flag

    return setter


def gradient_problem(models: Models, layer: str, z: torch.Tensor) -> str | None:
    """Why unit sets cannot be learned here, in one line, or None when gradients flow.

    Usage::

        reason = gradient_problem(models, "layer2", z_train[:1])
        if reason:
            log.warning("no optimized unit sets: %s", reason)

    Runs one sample with gradients enabled and checks that the image depends differentiably on
    ``layer`` and that ``class_probs`` depends differentiably on the image. A generator whose
    forward runs under ``torch.no_grad()`` / ``inference_mode()`` (or detaches), or a segmenter
    whose ``class_probs`` does, would otherwise give an alpha of all zeros, learned from nothing.
    """
    if not models.has_class_probs():
        return "the segmenter has no class_probs()"
    flag = models.place(torch.zeros(())).requires_grad_(True)
    seg_module = models.segmenter if isinstance(models.segmenter, torch.nn.Module) else None
    net = getattr(models.segmenter, "net", None)
    with frozen(models.generator, seg_module, net if isinstance(net, torch.nn.Module) else None):
        with edit(models.generator, layer, _probe(flag)):
            images = models.generate(z[:1], grad=True)
        if not (isinstance(images, torch.Tensor) and images.requires_grad):
            return (
                f"the generator's image does not depend differentiably on {layer!r} (its forward "
                "runs under torch.no_grad() or inference_mode(), or detaches)"
            )
        probe = images.detach().float().clone().requires_grad_(True)
        with torch.enable_grad():
            probs = models.class_probs(probe)
        if not (isinstance(probs, torch.Tensor) and probs.requires_grad):
            return (
                "the segmenter's class_probs() gives no gradient (it runs under torch.no_grad() "
                "or inference_mode(), or detaches)"
            )
    return None


@dataclass(frozen=True)
class OptimizeSettings:
    """How alpha is learned: Adam ``steps`` of ``batch`` latents at rate ``lr``, ``l2`` on alpha,
    insertion patches of ``patch`` layer pixels on a ``grid`` x ``grid`` lattice, alpha starting
    at ``init``."""

    steps: int = 30
    lr: float = 0.05
    l2: float = 1e-3
    batch: int = 8
    grid: int = 4
    patch: int = 1
    init: float = 0.1


def optimize_alpha(
    models: Models,
    layer: str,
    z_train: torch.Tensor,
    shape: tuple[int, int, int],
    concept: int,
    level: torch.Tensor,
    settings: OptimizeSettings = OptimizeSettings(),
    desc: str = "optimize",
) -> np.ndarray:
    """The learned alpha (U,) float64; needs a segmenter with ``class_probs``."""
    steps, lr, l2, batch = settings.steps, settings.lr, settings.l2, settings.batch
    grid, patch, init = settings.grid, settings.patch, settings.init
    if not models.has_class_probs():
        raise ModelError("optimizing unit sets needs a segmenter with class_probs()")
    reason = gradient_problem(models, layer, z_train)
    if reason is not None:
        raise ModelError(f"cannot optimize unit sets: {reason}")
    units, h, w = shape
    count = int(z_train.shape[0])
    alpha = models.place(torch.full((units,), float(init))).requires_grad_(True)
    opt = torch.optim.Adam([alpha], lr=lr)
    sites = [(r, c) for r in grid_positions(h, patch, grid) for c in grid_positions(w, patch, grid)]
    seg_module = models.segmenter if isinstance(models.segmenter, torch.nn.Module) else None
    net = getattr(models.segmenter, "net", None)
    with frozen(models.generator, seg_module, net if isinstance(net, torch.nn.Module) else None):
        for step in bar(range(steps), desc=desc, unit="step", leave=False):
            idx = [(step * batch + i) % count for i in range(min(batch, count))]
            z = z_train[idx]
            masks = models.place(torch.zeros(len(idx), 1, h, w))
            for k, j in enumerate(idx):
                r, c = sites[(j + step) % len(sites)]
                masks[k, 0, r : r + patch, c : c + patch] = 1.0
            with torch.enable_grad():
                with edit(models.generator, layer, blend(alpha, 0.0)):
                    left = _concept_prob(models, models.generate(z, grad=True), concept)
                with edit(models.generator, layer, blend(alpha, level, region=masks)):
                    made = _concept_prob(models, models.generate(z, grad=True), concept)
                loss = left - made + l2 * (alpha**2).sum()
                (grad,) = torch.autograd.grad(loss, [alpha])
            projected_step(opt, alpha, grad)
    return to_numpy(alpha.double())


def projected_step(opt: torch.optim.Optimizer, alpha: torch.Tensor, grad: torch.Tensor) -> None:
    """One optimizer step on ``alpha`` with ``grad``, then alpha clamped back into [0, 1]."""
    opt.zero_grad()
    alpha.grad = grad
    opt.step()
    with torch.no_grad():
        alpha.clamp_(0.0, 1.0)


def alpha_order(alpha: np.ndarray) -> list[int]:
    """Units by alpha, largest first (ties: lower unit first)."""
    return [int(u) for u in sorted(range(len(alpha)), key=lambda u: (-alpha[u], u))]

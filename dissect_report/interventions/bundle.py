"""The models an intervention needs, and batched, batch-size-independent passes over samples.

Usage::

    from dissect_report.interventions.bundle import ModelBundle
    from dissect_report import world

    models = ModelBundle(generator=world.load_generator(), segmenter=world.load_segmenter())
    z = models.latents(seed=2, ids=range(8))       # sample i of seed s is a pure function of (s, i)
    images = models.generate(z)                     # (8, 3, 64, 64) in [-1, 1], eval mode, no grad

Every per-sample quantity is computed per sample and reduced in sample order, so results do
not depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dissect_report.errors import ModelError, user_code
from dissect_report.sampler import latents

Images = torch.Tensor  # float (N, 3, H, W) in [-1, 1]
LatentFn = Callable[[int, Sequence[int], int], torch.Tensor]


@contextmanager
def frozen(*modules: object) -> Iterator[None]:
    """Eval mode and ``requires_grad=False`` on every parameter inside the block; restored after.

    Objects that are not modules are skipped. Eval mode makes each sample's output independent of its batch (BatchNorm uses its running
    statistics); frozen parameters keep gradient graphs (alpha optimization) off the weights.
    """
    saved: list[tuple[nn.Module, bool]] = []
    grads: list[tuple[nn.Parameter, bool]] = []
    try:
        for m in modules:
            if not isinstance(m, nn.Module):
                continue
            saved.append((m, m.training))
            m.eval()
            for p in m.parameters():
                grads.append((p, p.requires_grad))
                p.requires_grad_(False)
        yield
    finally:
        for p, flag in grads:
            p.requires_grad_(flag)
        for m, mode in saved:
            m.train(mode)


@dataclass(frozen=True)
class ModelBundle:
    """A generator plus what measures its images.

    ``segmenter`` follows :class:`dissect_report.segmenter.Segmenter`; ``discriminator`` maps
    images to realism logits (N,) or (N, 1); ``features`` maps images to (N, D) features for
    Frechet distances (default: see :meth:`feature_fn`); ``reference`` renders real images
    ``(seed, ids) -> (N, 3, H, W)`` in [-1, 1] for FSD (the built-in world has them).
    """

    generator: nn.Module
    segmenter: object
    latent_fn: LatentFn | None = None
    discriminator: nn.Module | Callable[[Images], torch.Tensor] | None = None
    features: Callable[[Images], torch.Tensor] | None = None
    reference: Callable[[int, Sequence[int]], Images] | None = None
    latent_dim: int | None = None  # overrides the generator's ``z_dim`` attribute

    @property
    def z_dim(self) -> int:
        z_dim = self.latent_dim or getattr(self.generator, "z_dim", None)
        if not isinstance(z_dim, int):
            raise ModelError("the generator has no integer 'z_dim' attribute; give latent_dim")
        return z_dim

    @property
    def concepts(self) -> list[str]:
        return list(self.segmenter.concepts)  # type: ignore[attr-defined]

    def latents(self, seed: int, ids: Sequence[int]) -> torch.Tensor:
        fn = self.latent_fn or latents
        return fn(seed, [int(i) for i in ids], self.z_dim)

    def generate(self, z: torch.Tensor) -> Images:
        with torch.no_grad(), user_code("generator"):
            out = self.generator(z)
        if not isinstance(out, torch.Tensor) or out.dim() != 4 or out.shape[1] != 3:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ModelError(f"the generator must return images (N, 3, H, W); got {shape}")
        return out.float()

    def segment(self, images: Images) -> torch.Tensor:
        with torch.no_grad(), user_code("segmenter"):
            labels = self.segmenter.segment(images)  # type: ignore[attr-defined]
        return labels.long()

    def has_probs(self) -> bool:
        return callable(getattr(self.segmenter, "class_probs", None))

    def realism(self, images: Images) -> torch.Tensor | None:
        """Discriminator logits (N,), or None without a discriminator."""
        if self.discriminator is None:
            return None
        with torch.no_grad(), user_code("discriminator"):
            out = self.discriminator(images)
        out = out.reshape(out.shape[0], -1)
        if out.shape[1] != 1:
            raise ModelError(
                f"the discriminator must return (N,) or (N, 1); got {tuple(out.shape)}"
            )
        return out[:, 0].double()

    def feature_kind(self) -> str:
        if self.features is not None:
            return "user"
        if callable(getattr(self.segmenter, "features", None)):
            return "segmenter-features"
        if self.has_probs():
            return "segmenter-class-probs"
        return "segmenter-label-histogram"

    def feature_fn(self, images: Images) -> torch.Tensor:
        """(N, D) float64 features: user's, else the segmenter's, else its class histogram."""
        kind = self.feature_kind()
        role = "feature extractor" if kind == "user" else "segmenter"
        with torch.no_grad(), user_code(role):
            if kind == "user":
                f = self.features(images)  # type: ignore[misc]
            elif kind == "segmenter-features":
                f = self.segmenter.features(images)  # type: ignore[attr-defined]
            elif kind == "segmenter-class-probs":
                f = self.segmenter.class_probs(images).mean(dim=(2, 3))  # type: ignore[attr-defined]
            else:
                labels = self.segment(images)
                c = len(self.concepts)
                f = torch.stack([torch.bincount(x.flatten(), minlength=c) for x in labels]).double()
                f = f / labels[0].numel()
        return f.reshape(f.shape[0], -1).double()


def batches(ids: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Consecutive chunks of ``ids`` of at most ``batch_size``."""
    if batch_size < 1:
        raise ModelError(f"batch size must be >= 1; got {batch_size}")
    ids = [int(i) for i in ids]
    for start in range(0, len(ids), batch_size):
        yield ids[start : start + batch_size]


def concept_counts(labels: torch.Tensor, concepts: int) -> np.ndarray:
    """Per-sample pixel counts per concept: (N, C) int64 (exact, so sums are order-free)."""
    flat = labels.reshape(labels.shape[0], -1)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= concepts):
        bad = int(flat.min()) if int(flat.min()) < 0 else int(flat.max())
        raise ModelError(f"the segmenter returned label {bad}; it has {concepts} concepts")
    offsets = torch.arange(flat.shape[0]).unsqueeze(1) * concepts
    counts = torch.bincount((flat + offsets).flatten(), minlength=flat.shape[0] * concepts)
    return counts.view(flat.shape[0], concepts).numpy().astype(np.int64)

"""One pass over held-out samples: their segmentations, the layer's shape and insertion levels.

Usage::

    held = heldout_pass(models, "layer4", seed=2, count=64, batch_size=16)
    held.counts[:, c].sum() / (held.count * held.pixels)   # concept c's pixel fraction
    held.levels("quantile", c)                              # (U,) per-unit insertion levels

Everything is computed per sample and reduced in sample order (batch-size independent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dissect_report.errors import ConfigError
from dissect_report.models import Models, to_numpy
from dissect_report.modeltools.batches import batches, concept_counts
from dissect_report.modeltools.edit import trace
from dissect_report.modeltools.frozen import frozen
from dissect_report.progress import bar

# Quantiles are estimated from at most this many activations per unit (a fixed stride).
_MAX_QUANTILE_VALUES = 1 << 18


@dataclass(frozen=True)
class HeldOut:
    """Unedited held-out samples: latents, labels, per-concept counts and unit levels."""

    seed: int
    ids: list[int]
    z: torch.Tensor  # (N, z_dim)
    labels: torch.Tensor  # (N, Hi, Wi) int64
    counts: np.ndarray  # (N, C) int64 pixels per concept
    shape: tuple[int, int, int]  # the layer's (U, H, W)
    quantile: np.ndarray  # (U,) the unit's activation quantile (InterventionConfig.quantile)
    concept_mean: np.ndarray  # (C, U) mean activation over pixels labeled c (NaN if none)

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def pixels(self) -> int:
        """Pixels per image."""
        return int(self.labels.shape[1] * self.labels.shape[2])

    def fraction(self, concept: int) -> float:
        return float(self.counts[:, concept].sum()) / (self.count * self.pixels)

    def levels(self, policy: str, concept: int) -> torch.Tensor:
        """(U,) insertion levels: ``quantile`` or ``concept_mean`` (falls back to quantile)."""
        if policy == "quantile":
            return torch.from_numpy(self.quantile.copy())
        if policy == "concept_mean":
            mean = self.concept_mean[concept]
            return torch.from_numpy(np.where(np.isfinite(mean), mean, self.quantile))
        raise ConfigError(f"unknown insert level {policy!r}; choose quantile or concept_mean")


def heldout_pass(
    models: Models,
    layer: str,
    seed: int,
    count: int,
    batch_size: int,
    quantile: float = 0.995,
    desc: str = "held-out samples",
    first: int = 0,
) -> HeldOut:
    """Samples ``first`` .. ``first + count - 1`` of ``seed``, unedited (see the module doc)."""
    if count < 1:
        raise ConfigError(f"held-out sample count must be >= 1; got {count}")
    ids = list(range(first, first + count))
    z = models.latents(ids, seed=seed)
    n_concepts = len(models.concepts)
    labels_list, counts_list, acts, sums, pix = [], [], [], [], []
    with frozen(models.generator):
        for chunk in bar(list(batches(range(count), batch_size)), desc=desc, unit="batch"):
            with trace(models.generator, layer) as t:
                images = models.generate(z[chunk])
            assert t.output is not None
            act = t.output.float()
            h, w = int(act.shape[2]), int(act.shape[3])
            labels = models.segment(images)
            labels_list.append(labels)
            counts_list.append(concept_counts(labels, n_concepts))
            acts.append(act.reshape(act.shape[0], act.shape[1], -1))
            up = F.interpolate(act, size=labels.shape[-2:], mode="bilinear", align_corners=False)
            for k in range(act.shape[0]):  # per sample, so sums do not depend on the batch
                onehot = F.one_hot(labels[k].flatten(), n_concepts).double()  # (P, C)
                sums.append(to_numpy(onehot.T @ up[k].flatten(1).T.double()))  # (C, U)
                pix.append(to_numpy(onehot.sum(0)))
    all_labels = torch.cat(labels_list)
    flat = torch.cat(acts)  # (N, U, HW)
    units = flat.shape[1]
    values = flat.permute(1, 0, 2).reshape(units, -1)
    stride = max(1, values.shape[1] // _MAX_QUANTILE_VALUES)
    q = np.quantile(to_numpy(values[:, ::stride].double()), quantile, axis=1)
    total = np.sum(np.stack(sums), axis=0)  # (C, U)
    npix = np.sum(np.stack(pix), axis=0)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        cmean = np.where(npix > 0, total / np.maximum(npix, 1), np.nan)
    return HeldOut(
        seed=seed,
        ids=ids,
        z=z,
        labels=all_labels,
        counts=np.concatenate(counts_list),
        shape=(units, h, w),
        quantile=q.astype(np.float64),
        concept_mean=cmean,
    )

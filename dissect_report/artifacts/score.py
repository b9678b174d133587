"""Score every unit of a layer by the quality of the images it fires on most.

Usage::

    scan = scan_samples(models, "layer4", seed=3, count=256, batch_size=32)
    scores = score_units(scan, top_k=12)
    scores[0].unit, scores[0].fsd, scores[0].realism      # the worst unit first

A unit's *top images* are the ``top_k`` samples with its highest peak activation (ties: lower
sample id). Its ``fsd`` is the Frechet distance of their features to all samples' features;
its ``realism`` the mean discriminator logit on them. ``score = z(fsd) - z(realism)``
(standardized over the layer's units), or ``z(fsd)`` without a discriminator.

The score is a correlation: a unit that fires on rare but fine images (night scenes, say)
scores badly too. :func:`ablation_gains` is the causal check: ablate one candidate alone and
measure how much its own top images improve; only units whose ablation helps are repaired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dissect_report.interventions.bundle import ModelBundle, batches, frozen
from dissect_report.interventions.edit import Setter, ablate, edit, trace
from dissect_report.metrics import frechet, gaussian
from dissect_report.progress import bar


@dataclass(frozen=True)
class Scan:
    """Per-sample measurements of one pass: peak activation per unit, features, realism."""

    seed: int
    ids: list[int]
    peaks: np.ndarray  # (N, U) float64
    features: np.ndarray  # (N, D) float64
    realism: np.ndarray | None  # (N,) float64


@dataclass(frozen=True)
class UnitScore:
    unit: int
    rank: int
    score: float
    fsd: float
    realism: float
    top_samples: list[int]


def scan_samples(
    models: ModelBundle,
    layer: str,
    seed: int,
    count: int,
    batch_size: int,
    *setters: Setter,
    desc: str = "artifact scan",
) -> Scan:
    """Generate samples ``0..count-1`` of ``seed`` (with ``setters`` applied to ``layer``)."""
    ids = list(range(count))
    z = models.latents(seed, ids)
    peaks, feats, real = [], [], []
    with frozen(models.generator, models.discriminator):
        for chunk in bar(list(batches(ids, batch_size)), desc=desc, unit="batch", leave=False):
            with trace(models.generator, layer, *setters) as t:
                images = models.generate(z[chunk])
            assert t.output is not None
            peaks.append(t.output.flatten(2).amax(2).double().numpy())
            feats.append(models.feature_fn(images).numpy())
            r = models.realism(images)
            if r is not None:
                real.append(r.numpy())
    return Scan(
        seed=seed,
        ids=ids,
        peaks=np.concatenate(peaks),
        features=np.concatenate(feats),
        realism=np.concatenate(real) if real else None,
    )


def _z(x: np.ndarray) -> np.ndarray:
    finite = np.isfinite(x)
    if not finite.any():
        return np.zeros_like(x)
    sd = x[finite].std()
    return np.where(finite, (x - x[finite].mean()) / sd if sd > 0 else 0.0, 0.0)


def top_samples(peaks: np.ndarray, top_k: int) -> np.ndarray:
    """(U, top_k) sample indices by peak activation, best first (ties: lower index)."""
    return np.argsort(-peaks, axis=0, kind="stable")[:top_k].T


def score_units(scan: Scan, top_k: int) -> list[UnitScore]:
    """Every unit's artifact score, worst (highest score) first."""
    mu_all, cov_all = gaussian(scan.features)
    tops = top_samples(scan.peaks, top_k)
    fsd = np.array([frechet(*gaussian(scan.features[t]), mu_all, cov_all) for t in tops])
    if scan.realism is not None:
        realism = np.array([scan.realism[t].mean() for t in tops])
        score = _z(fsd) - _z(realism)
    else:
        realism = np.full(len(tops), math.nan)
        score = _z(fsd)
    order = sorted(range(len(tops)), key=lambda u: (-score[u], u))
    return [
        UnitScore(
            unit=u,
            rank=rank,
            score=float(score[u]),
            fsd=float(fsd[u]),
            realism=float(realism[u]),
            top_samples=[scan.ids[i] for i in tops[u]],
        )
        for rank, u in enumerate(order, start=1)
    ]


@dataclass(frozen=True)
class AblationGain:
    """How much ablating one unit alone improves its own top images (positive = better)."""

    unit: int
    gain: float  # mean over its top images
    stderr: float  # standard error of that mean (paired, image by image)

    def confirmed(self, min_gain: float) -> bool:
        """Better by more than ``min_gain`` and by more than two standard errors (not noise)."""
        return self.gain > min_gain and self.gain > 2 * self.stderr


def ablation_gains(
    models: ModelBundle, layer: str, scan: Scan, candidates: list[UnitScore]
) -> dict[int, AblationGain]:
    """Per candidate unit, how much ablating it alone improves its own top images.

    With a discriminator: realism logit after minus before, image by image. Without: the drop
    of each image's feature distance to the center of all samples' features. Positive means
    the unit's activity made its images worse.
    """
    center = scan.features.mean(0)
    index = {sample: k for k, sample in enumerate(scan.ids)}
    gains: dict[int, AblationGain] = {}
    with frozen(models.generator, models.discriminator):
        for cand in bar(candidates, desc="artifact check", unit="unit", leave=False):
            rows = [index[i] for i in cand.top_samples]
            with edit(models.generator, layer, ablate([cand.unit])):
                images = models.generate(models.latents(scan.seed, cand.top_samples))
            after = models.realism(images)
            if scan.realism is not None and after is not None:
                diff = after.double().numpy() - scan.realism[rows]
            else:
                before_d = np.linalg.norm(scan.features[rows] - center, axis=1)
                after_d = np.linalg.norm(models.feature_fn(images).numpy() - center, axis=1)
                diff = before_d - after_d
            se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.inf
            gains[cand.unit] = AblationGain(cand.unit, float(diff.mean()), se)
    return gains

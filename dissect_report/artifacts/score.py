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
scores badly too. :mod:`dissect_report.artifacts.screen` is the causal check that decides
which units the repair switches off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dissect_report.dissection.caveats import constant_units
from dissect_report.metrics import frechet, gaussian
from dissect_report.models import Models, to_numpy
from dissect_report.modeltools.batches import batches
from dissect_report.modeltools.edit import Setter, trace
from dissect_report.modeltools.frozen import frozen
from dissect_report.progress import bar


@dataclass(frozen=True)
class Scan:
    """Per-sample measurements of one pass: peak activation per unit, features, realism."""

    seed: int
    ids: list[int]
    peaks: np.ndarray  # (N, U) float64
    features: np.ndarray  # (N, D) float64
    realism: np.ndarray | None  # (N,) float64
    labels: np.ndarray | None = None  # (N, h, w) int16 segmenter labels, when asked for

    def rows(self, positions: np.ndarray) -> Scan:
        """The scan of the samples at ``positions`` only."""
        real = self.realism[positions] if self.realism is not None else None
        labels = self.labels[positions] if self.labels is not None else None
        ids = [self.ids[int(i)] for i in positions]
        return Scan(self.seed, ids, self.peaks[positions], self.features[positions], real, labels)


def interleave(even: Scan, odd: Scan) -> Scan:
    """The scan of positions 0, 1, 2, ... from the scans of the even and the odd positions."""
    n = len(even.ids) + len(odd.ids)

    def weave(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.empty((n, *a.shape[1:]), dtype=a.dtype)
        out[0::2], out[1::2] = a, b
        return out

    ids = weave(np.array(even.ids), np.array(odd.ids)).tolist()
    real = (
        weave(even.realism, odd.realism)
        if even.realism is not None and odd.realism is not None
        else None
    )
    return Scan(
        even.seed,
        ids,
        weave(even.peaks, odd.peaks),
        weave(even.features, odd.features),
        real,
    )


@dataclass(frozen=True)
class UnitScore:
    unit: int
    rank: int
    score: float
    fsd: float
    realism: float
    top_samples: list[int]


def scan_samples(
    models: Models,
    layer: str,
    seed: int,
    count: int,
    batch_size: int,
    *setters: Setter,
    desc: str = "artifact scan",
    progress: bool = True,
    ids: Sequence[int] | None = None,
    labels: bool = False,
) -> Scan:
    """Generate samples ``0..count-1`` of ``seed`` (or just ``ids``), ``setters`` on ``layer``.

    ``labels``: also keep the segmenter's label map of every sample (the repair's label check).
    """
    ids = list(range(count)) if ids is None else [int(i) for i in ids]
    z = models.latents(ids, seed=seed)
    peaks, feats, real, maps = [], [], [], []
    with frozen(models.generator, models.discriminator):
        chunks = list(batches(range(len(ids)), batch_size))  # positions into ids / z
        for chunk in bar(chunks, desc=desc, unit="batch", leave=False) if progress else chunks:
            with trace(models.generator, layer, *setters) as t:
                images = models.generate(z[chunk])
            assert t.output is not None
            peaks.append(to_numpy(t.output.flatten(2).amax(2).double()))
            feats.append(to_numpy(models.feature_vectors(images)))
            r = models.realism(images)
            if r is not None:
                real.append(to_numpy(r))
            if labels:
                maps.append(to_numpy(models.segment(images)).astype(np.int16))
    return Scan(
        seed=seed,
        ids=ids,
        peaks=np.concatenate(peaks),
        features=np.concatenate(feats),
        realism=np.concatenate(real) if real else None,
        labels=np.concatenate(maps) if maps else None,
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
    # A unit whose peak is the same on every sample (dead, or non-finite everywhere) has no
    # "images it fires on most": its top samples are just the first ids, so its score would
    # rank the sample set, not the unit. It gets no score and ranks last.
    score = np.where(constant_units(scan.peaks.T), math.nan, score)
    order = sorted(range(len(tops)), key=lambda u: (math.isnan(score[u]), -score[u], u))
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

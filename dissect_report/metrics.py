"""Frechet distances between feature sets (FID/FSD), exactly in float64, no scipy.

Usage::

    from dissect_report.metrics import frechet, frechet_distance, gaussian
    d = frechet_distance(features_a, features_b)      # (Na, D), (Nb, D) arrays
    d = frechet(*gaussian(features_a), *gaussian(features_b))
"""

from __future__ import annotations

import numpy as np


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) (unbiased; zero for a single row)."""
    x = np.asarray(features, dtype=np.float64)
    mu = x.mean(axis=0)
    if x.shape[0] < 2:
        return mu, np.zeros((x.shape[1], x.shape[1]))
    centered = x - mu
    return mu, centered.T @ centered / (x.shape[0] - 1)


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1^1/2 C2 C1^1/2)^1/2), never negative.

    ``tr((C1 C2)^1/2)`` equals the trace of the symmetric ``(C1^1/2 C2 C1^1/2)^1/2``, so only
    symmetric eigendecompositions are needed.
    """
    s1 = _psd_sqrt(cov1)
    middle = s1 @ cov2 @ s1
    eig = np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.sqrt(eig).sum())
    return max(value, 0.0)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets ``a`` and ``b``."""
    return frechet(*gaussian(a), *gaussian(b))

"""Distances between feature distributions.

Usage::

    from dissect_report.metrics import frechet_distance, gaussian_stats
    mu1, s1 = gaussian_stats(feats_a)
    mu2, s2 = gaussian_stats(feats_b)
    d = frechet_distance(mu1, s1, mu2, s2)
"""

from __future__ import annotations

import numpy as np


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of ``features`` ``(N, D)`` (float64)."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(0), np.atleast_2d(np.cov(f, rowvar=False))


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Frechet distance between two Gaussians: |mu1-mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2).

    ``tr((S1 S2)^1/2)`` is computed as the trace of ``(S1^1/2 S2 S1^1/2)^1/2``, which is
    symmetric, so only symmetric eigendecompositions are needed (no scipy).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = (
        np.atleast_2d(np.asarray(sigma1, np.float64)),
        np.atleast_2d(np.asarray(sigma2, np.float64)),
    )
    r1 = _sqrt_psd(s1)
    w = np.linalg.eigvalsh(r1 @ s2 @ r1)
    tr_covmean = float(np.sqrt(np.clip(w, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)

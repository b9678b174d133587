"""Batch-size-independent passes: consecutive id chunks and exact per-sample concept counts.

Usage::

    from dissect_report.modeltools.batches import batches, concept_counts
    for chunk in batches(range(100), 16):          # [0..15], [16..31], ..., [96..99]
        counts = concept_counts(models.segment(models.generate(z[chunk])), len(models.concepts))

Every per-sample quantity is computed per sample and reduced in sample order, so results do
not depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

from dissect_report.errors import ModelError


def batches(ids: Iterable[int], batch_size: int) -> Iterator[list[int]]:
    """Consecutive chunks of ``ids`` of at most ``batch_size``."""
    if batch_size < 1:
        raise ModelError(f"batch size must be >= 1; got {batch_size}")
    ids = [int(i) for i in ids]
    for start in range(0, len(ids), batch_size):
        yield ids[start : start + batch_size]


def concept_counts(labels: torch.Tensor, concepts: int) -> np.ndarray:
    """Per-sample pixel counts per concept: (N, C) int64 (exact, so sums are order-free).

    ``labels`` may live on any device; the counts come back as a CPU array.
    """
    flat = labels.reshape(labels.shape[0], -1)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= concepts):
        bad = int(flat.min()) if int(flat.min()) < 0 else int(flat.max())
        raise ModelError(f"the segmenter returned label {bad}; it has {concepts} concepts")
    offsets = torch.arange(flat.shape[0], device=flat.device).unsqueeze(1) * concepts
    counts = torch.bincount((flat + offsets).flatten(), minlength=flat.shape[0] * concepts)
    return counts.view(flat.shape[0], concepts).cpu().numpy().astype(np.int64)

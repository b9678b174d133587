"""Ties and saturation (issue 21, item 4): a threshold is never above a unit's maximum.

A perfect 0/1 detector, a hardtanh and a ReLU6 unit that saturate on the concept, and a
noisy copy: under the quantile policy the tied units kept an empty mask above their own
maximum (IoU 0.000, the wrong concept), below the noisy copy. Now the tied top bin is kept,
the mask holds more than ``1 - level`` of the pixels, and ``tied`` says so.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dissect_report.dissection.stats import LayerStats, calibrate_edges
from dissect_report.dissection.thresholds import (
    choose_bins,
    interpretable,
    mask_share,
    score_units,
    tied,
)

LEVEL = 0.99


def _state():
    gen = torch.Generator().manual_seed(0)
    n, size = 200, 16
    concept = torch.zeros(n, size, size)
    for i in range(n):  # a 4x4 "tree" square per sample: 6.25% of the pixels
        r, c = torch.randint(0, size - 4, (2,), generator=gen).tolist()
        concept[i, r : r + 4, c : c + 4] = 1.0
    noise = torch.randn(n, size, size, generator=gen)
    units = torch.stack(
        [
            concept,  # 0: a perfect 0/1 detector
            F.hardtanh(3 * concept - 0.5 + 0.3 * noise),  # 1: saturates at 1 on the concept
            F.relu6(12 * concept + noise),  # 2: saturates at 6 on the concept
            concept + 0.3 * noise,  # 3: a noisy copy (no tie)
        ],
        dim=1,
    )
    labels = concept.long()  # 0 = sky, 1 = tree
    edges = calibrate_edges(units, bins=64, resolve_level=1 - 3 * (1 - LEVEL))
    acc = LayerStats(edges, concepts=2, top_k=3)
    acc.add(units, labels, torch.arange(n))
    return acc.state(), units


def test_tied_and_saturated_units_keep_their_top_bin():
    state, units = _state()
    scores = score_units(state, "quantile", LEVEL)
    peak = units.amax(dim=(0, 2, 3)).double().numpy()
    assert (scores.threshold <= peak).all(), (scores.threshold, peak)
    # The 0/1 detector and both saturating units label tree at IoU 1.0 (their tied top bin is
    # exactly the concept); before, an empty mask gave IoU 0.000 and "sky".
    assert list(scores.best) == [1, 1, 1, 1]
    np.testing.assert_allclose(scores.iou[:3, 1], 1.0)
    assert scores.iou[3, 1] < scores.iou[0, 1]  # the noisy copy ranks below the clean unit
    assert interpretable(state, scores, 0.04)[:3].all()
    # The tie is said: their masks hold the concept's 6.25%, more than 1 - level.
    share = mask_share(state.unit_hist, scores.bin)
    np.testing.assert_allclose(share[:3], 0.0625)
    assert tied(state.unit_hist, scores.bin, LEVEL).tolist() == [True, True, True, False]
    assert share[3] <= 1 - LEVEL


def test_other_policies_never_pick_an_empty_mask():
    state, units = _state()
    for policy in ("iqr", "max-iou"):
        bins = choose_bins(state, policy)
        assert (mask_share(state.unit_hist, bins) > 0).all(), policy
        scores = score_units(state, policy)
        np.testing.assert_allclose(scores.iou[:3, 1], 1.0)

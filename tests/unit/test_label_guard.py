"""The label guards: no policy calls a pure-noise unit interpretable (thresholds.interpretable)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dissect_report as dr  # noqa: E402
from dissect_report.dissection.thresholds import MIN_LIFT, chance_iou  # noqa: E402


def test_chance_iou_ends_are_the_constant_masks():
    share = np.array([0.02, 0.5, 0.98])
    assert np.allclose(chance_iou(np.ones(3), share), share)  # all-ones mask: IoU = share
    assert np.allclose(chance_iou(np.zeros(3), share), 0.0)  # all-zeros mask
    assert chance_iou(np.array(0.1), np.array(0.1)) == pytest.approx(0.01 / 0.19)


@pytest.mark.parametrize("policy", ["max-iou", "iqr", "quantile"])
def test_noise_units_are_never_labelled_but_the_planted_one_is(policy):
    config = dr.DissectConfig(
        generator="fault_toys:speck_generator",
        segmenter="dissect_toys:planted_segmenter",
        layers=("features",),
        samples=96,
        calibration_samples=32,
        policy=policy,
    )
    layer = dr.dissect(config).layer("features")
    rows = np.arange(5)
    best = layer.scores.best
    labelled = layer.interpretable_mask
    # Units 0-3 are noise: blind to the 98% sky, whatever threshold the policy picks.
    assert not labelled[:4].any(), (policy, layer.scores.iou[rows, best])
    assert labelled[4] and best[4] == 1  # the speck is the tree, exactly
    if policy == "max-iou":
        # The unguarded label: max-iou reaches (nearly) the sky's share with every noise unit.
        share = layer.state.concept_totals[0] / layer.state.concept_totals.sum()
        assert (layer.scores.iou[:4, 0] >= 0.9 * share).all() and share > 0.95
        assert (layer.scores.iou[:4, 0] < MIN_LIFT * share).all()

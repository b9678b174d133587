"""Where a unit fires (issue 21, item 3): a position-only baseline guards labels.

The border toy (tests/dissect_toys.py) puts a door on the bottom edge of every image. Unit 2
fires on the bottom two rows whatever the scene: its IoU with door passes the floor and the
chance guard, but a fixed mask at its mean position gets the same IoU, so it is not labelled.
Unit 1 sees the door and beats its baseline many times over.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dissect_report.config import DissectConfig  # noqa: E402
from dissect_report.dissection.caveats import flagged_mask  # noqa: E402
from dissect_report.dissection.position import POSITION_LIFT, baseline_iou  # noqa: E402
from dissect_report.dissection.stage import dissect  # noqa: E402
from dissect_report.dissection.thresholds import interpretable  # noqa: E402

CONFIG = DissectConfig(
    generator="dissect_toys:border_generator",
    segmenter="dissect_toys:border_segmenter",
    layers=("features",),
    samples=96,
    batch_size=32,
    calibration_samples=32,
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("border") / "report"
    return dissect(CONFIG, out, images=False), out


def test_a_unit_explained_by_its_position_is_not_labelled(report):
    result, out = report
    layer = result.layer("features")
    door = result.concepts.index("door")
    best = layer.scores.best
    assert best[1] == door and best[2] == door
    # Both pass the floor and the chance guard ...
    others = interpretable(layer.state, layer.scores, layer.iou_floor) & ~flagged_mask(layer.state)
    assert others[1] and others[2]
    # ... but unit 2's fixed mask at its mean position (the bottom rows) gets its IoU exactly.
    base = layer.position.baseline_iou
    assert base[2, door] == pytest.approx(layer.scores.iou[2, door], rel=1e-9)
    assert layer.scores.iou[1, door] > 2 * POSITION_LIFT * base[1, door]  # 0.99 vs 0.45
    assert layer.position_explained.tolist()[1:3] == [False, True]
    assert layer.interpretable_mask[1] and not layer.interpretable_mask[2]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["layers"][0]["flagged_units"]["position"] == [2]
    with np.load(out / "layers" / "features" / "position.npz") as npz:
        assert npz["mean_mask"].shape == (4, 32, 32) and npz["mean_mask"].dtype == np.uint8
        # unit 2's mean mask: on at the bottom rows of every sample, off at the top
        assert npz["mean_mask"][2, -1].min() == 255 and npz["mean_mask"][2, 0].max() == 0
        assert int(npz["samples"]) == 96


def test_baseline_iou_by_hand():
    mean = np.array([[[0.9, 0.1], [0.5, 0.0]]])  # one unit, 2 x 2 pixels
    label_map = np.array([[[3, 0], [1, 4]], [[1, 4], [3, 0]]])  # 2 concepts over 4 samples
    # coverage 0.5 -> the 2 most covered pixels: (0, 0) and (1, 0)
    iou = baseline_iou(mean, np.array([0.5]), label_map, samples=4)
    # concept 0: 3 + 1 = 4 pixels inside; mask 2 x 4 = 8, concept 8: IoU 4 / (8 + 8 - 4)
    # concept 1: 1 + 3 = 4 inside, concept 8: IoU 4 / 12
    np.testing.assert_allclose(iou, [[4 / 12, 4 / 12]])
    assert baseline_iou(mean, np.array([0.0]), label_map, 4).tolist() == [[0.0, 0.0]]

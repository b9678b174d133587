"""Calibration in bounded memory: exact under the budget, strided over it, same in every shard."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dissect_report.dissection.calibration import EdgeCalibrator, calibrate_edges, plan_calibration


def _acts(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _reference_e1(acts: torch.Tensor, level: float, size: tuple[int, int] | None) -> np.ndarray:
    """The unbounded definition: float64 quantile of every 4th upsampled pixel (or all)."""
    seen = acts
    if size is not None and tuple(size) != tuple(acts.shape[2:]):
        seen = F.interpolate(acts, size=size, mode="bilinear", align_corners=False)[..., ::4, ::4]
    rows = seen.transpose(0, 1).reshape(acts.shape[1], -1).double().numpy()
    return np.quantile(rows, level, axis=1, method="lower")


@pytest.mark.parametrize("size", [None, (32, 32), (24, 40)])
def test_streamed_edges_equal_all_at_once_and_the_definition(size):
    acts = _acts(1, (10, 6, 8, 8))
    whole = calibrate_edges(acts, 64, 0.9, size=size)
    cal = EdgeCalibrator(6, (8, 8), size, 10, 64, 0.9)
    for i in range(0, 10, 3):  # batches of 3, 3, 3, 1
        cal.add(acts[i : i + 3])
    np.testing.assert_array_equal(cal.edges(), whole)
    e1 = _reference_e1(acts, 0.9, size)
    # e1 is the quantile rounded up to the power-of-two grid of the unit's bins.
    width = whole[:, 2] - whole[:, 1]
    assert np.all(whole[:, 1] >= e1 - 1e-6) and np.all(whole[:, 1] - e1 < width + 1e-6)


def test_budget_is_kept_and_exact_below_it():
    acts = _acts(2, (16, 8, 16, 16))
    unbounded = calibrate_edges(acts, 32, 0.97, size=(64, 64))
    plan = plan_calibration(8, (16, 16), (64, 64), 16, None)
    assert plan.stride == 4 and plan.grid == (16, 16) and plan.bytes == 4 * 8 * 16 * 256
    # A budget that holds the plan changes nothing.
    np.testing.assert_array_equal(
        calibrate_edges(acts, 32, 0.97, size=(64, 64), budget_bytes=plan.bytes), unbounded
    )
    # Half of it: every 8th pixel, within the budget, edges still per-unit and ordered.
    half = plan_calibration(8, (16, 16), (64, 64), 16, plan.bytes // 2)
    assert half.stride == 8 and half.bytes <= plan.bytes // 2
    strided = calibrate_edges(acts, 32, 0.97, size=(64, 64), budget_bytes=plan.bytes // 2)
    assert strided.shape == unbounded.shape and np.all(np.diff(strided[:, 1:-1], axis=1) > 0)
    # Same-size activations start from every pixel and grow the stride by one.
    same = plan_calibration(8, (16, 16), (16, 16), 16, 4 * 8 * 16 * 64)
    assert same.stride == 2 and not same.upsampled


def test_nonfinite_values_are_ignored_and_dead_units_get_edges():
    acts = _acts(3, (6, 3, 8, 8))
    acts[:, 1, 0, 0] = float("nan")
    acts[:, 1, 1, 1] = float("inf")
    acts[:, 2] = float("nan")  # nothing finite at all
    edges = calibrate_edges(acts, 32, 0.5, size=(16, 16))
    assert np.isfinite(edges[:, 1:-1]).all()
    assert np.all(np.diff(edges[:, 1:-1], axis=1) > 0)


def test_more_samples_than_planned_is_refused():
    cal = EdgeCalibrator(2, (4, 4), None, 2, 16, 0.5)
    cal.add(_acts(4, (2, 2, 4, 4)))
    with pytest.raises(ValueError, match="more calibration samples"):
        cal.add(_acts(5, (1, 2, 4, 4)))

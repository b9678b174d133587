"""The fused CPU kernel (dissect_report.cellcount) counts exactly what the tensor path counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dissect_report.dissection import cellcount
from dissect_report.dissection.stats import LayerStats, calibrate_edges

pytestmark = pytest.mark.skipif(not cellcount.available(), reason="numba is not installed")


def _states(acts, labels, edges, concepts):
    out = []
    for fused in (True, False):
        acc = LayerStats(edges, concepts, top_k=3, fused=fused)
        for i in range(0, len(acts), 5):  # several batches
            acc.add(acts[i : i + 5], labels[i : i + 5], torch.arange(i, min(i + 5, len(acts))))
        out.append(acc.state())
    return out


@pytest.mark.parametrize("factor", [2, 4, 8])
@pytest.mark.parametrize("resolve", [0.0, 0.9])
def test_fused_kernel_counts_equal_the_tensor_path(factor, resolve):
    gen = torch.Generator().manual_seed(factor)
    n, units, h = 12, 6, 8
    acts = torch.relu(torch.randn(n, units, h, h, generator=gen))
    acts[:, 1] = torch.round(acts[:, 1] * 4) / 4  # many values exactly on power-of-two edges
    acts[:, 2] = 0.5  # constant: every cell holds one value
    size = (h * factor, h * factor)
    labels = torch.randint(0, 5, (n, *size), generator=gen)
    edges = calibrate_edges(acts, bins=32, resolve_level=resolve, size=size)
    fused, tensor = _states(acts, labels, edges, 5)
    assert fused.counts.sum() > 0
    np.testing.assert_array_equal(fused.counts, tensor.counts)
    np.testing.assert_array_equal(fused.unit_hist, tensor.unit_hist)
    assert fused.unit_hist.sum() == n * units * size[0] * size[1]


def test_fused_kernel_drops_non_finite_values_as_the_tensor_path():
    gen = torch.Generator().manual_seed(3)
    acts = torch.randn(10, 4, 8, 8, generator=gen)
    acts[2, 1, 3, 3] = float("nan")
    acts[4, 2, 0, 0] = float("inf")
    labels = torch.randint(0, 3, (10, 32, 32), generator=gen)
    edges = calibrate_edges(acts, bins=16, resolve_level=0.0, size=(32, 32))
    fused, tensor = _states(acts, labels, edges, 3)
    np.testing.assert_array_equal(fused.counts, tensor.counts)
    np.testing.assert_array_equal(fused.unit_hist, tensor.unit_hist)
    assert fused.nonfinite == tensor.nonfinite == 2
    # the spoilt pixels (4 cells of 4 x 4 around each bad value, cut at the border) are dropped
    assert fused.unit_hist[1].sum() < 10 * 32 * 32 and fused.unit_hist[0].sum() == 10 * 32 * 32


@pytest.mark.parametrize("factor", [2, 8])
def test_fused_mask_counts_equal_the_dense_upsampling(factor):
    from dissect_report.dissection.stats import bilinear_upsample

    gen = torch.Generator().manual_seed(5)
    acts = torch.relu(torch.randn(6, 3, 8, 8, generator=gen))
    acts[1, 0, 2, 2] = float("nan")
    thr = torch.tensor([0.25, 0.5, 0.0], dtype=torch.float32)  # 0.25, 0.5: exact edges
    acts[:, 1] = torch.round(acts[:, 1] * 4) / 4
    up = bilinear_upsample(acts, (8 * factor, 8 * factor))
    dense = ((up >= thr.view(1, -1, 1, 1)) & torch.isfinite(up)).sum(dim=0).numpy()
    np.testing.assert_array_equal(cellcount.mask_counts_cpu(acts, factor, thr), dense)

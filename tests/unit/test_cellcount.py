"""The fused CPU kernel (dissect_report.cellcount) counts exactly what the tensor path counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dissect_report.dissection import cellcount
from dissect_report.dissection.stats import LayerStats, bilinear_upsample, calibrate_edges

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


def _adversarial(seed: int, factor: int):
    """Random maps (not square) with values on edges, one ulp under e1, NaN and infinities."""
    rng = np.random.default_rng(seed)
    n, units, h, w, concepts = 7, 5, 3 + seed % 3, 2 + seed % 4, 4
    acts = torch.from_numpy(rng.standard_normal((n, units, h, w)).astype(np.float32))
    acts[:, 0] = torch.relu(acts[:, 0])  # ReLU zeros
    size = (h * factor, w * factor)
    edges = calibrate_edges(acts, bins=16, resolve_level=[0.0, 0.6][seed % 2], size=size)
    e32 = torch.from_numpy(edges.astype(np.float32))
    below_e1 = torch.nextafter(e32[:, 1], torch.tensor(-np.inf))
    # unit 1: values exactly on bin edges; unit 2: constant cells one ulp under e1, whose
    # float32 blend rounds up onto e1 (still bin 0: the cell is no candidate); unit 3: mixed
    acts[:, 1] = e32[1, torch.from_numpy(rng.integers(1, 16, (n, h, w)))]
    acts[:, 2] = below_e1[2]
    acts[1::2, 2, 0, 0] = e32[2, 3]
    pick = torch.from_numpy(rng.random((n, h, w)) < 0.4)
    acts[:, 3] = torch.where(pick, below_e1[3], acts[:, 3])
    labels = torch.from_numpy(rng.integers(0, concepts, (n, *size)))
    if seed % 3 == 2:  # non-finite values spoil their cells
        acts[2, 4, 1, 1] = float("nan")
        acts[3, 4, 0, w - 1] = float("inf")
        acts[4, 3, h - 1, 0] = -float("inf")
    return acts, labels, edges, concepts


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("factor", [2, 4, 8])
def test_fused_kernel_is_bit_identical_to_the_tensor_path_on_adversarial_maps(seed, factor):
    acts, labels, edges, concepts = _adversarial(seed, factor)
    fused, tensor = _states(acts, labels, edges, concepts)
    np.testing.assert_array_equal(fused.counts, tensor.counts)
    np.testing.assert_array_equal(fused.unit_hist, tensor.unit_hist)
    np.testing.assert_array_equal(fused.topk_values, tensor.topk_values)
    assert fused.nonfinite == tensor.nonfinite == (3 if seed % 3 == 2 else 0)
    pixels = acts.shape[0] * acts.shape[1] * labels[0].numel()
    if fused.nonfinite:  # the pixels of cells with a non-finite corner are dropped
        assert 0 < pixels - fused.unit_hist.sum() <= 3 * 4 * 8 * 8
    else:
        assert fused.unit_hist.sum() == pixels
    assert fused.counts[:, 0].sum() == 0  # bin 0 is never split by concept
    # the constant unit one ulp under e1 resolves only the samples with a value on an edge
    assert fused.unit_hist[2, 1:].sum() > 0
    resolved = fused.counts[2].sum()
    assert resolved == fused.unit_hist[2, 1:].sum()


@pytest.mark.parametrize("dense", [False, True])
def test_blend_of_corners_under_e1_rounds_onto_it_and_still_counts_below(dense):
    # Four corners of 0.1 (float32) blend at factor 8 to one ulp above 0.1 at 28 of the cell's
    # 64 pixels: with e1 that next float, such a cell is no candidate and all of it is bin 0,
    # in both paths, whether the tensor path evaluates every cell (dense) or the candidates.
    corner = torch.tensor(0.1, dtype=torch.float32)
    up = bilinear_upsample(torch.full((1, 1, 2, 2), float(corner)), (16, 16))
    e1 = torch.nextafter(corner, torch.tensor(1.0))
    assert int((up >= e1).sum()) > 0  # the rounding this test is about
    width = 2.0 ** (np.frexp(float(e1))[1] - 15)  # small enough that e1 is an edge
    edges = np.array([[-np.inf, *(float(e1) + width * np.arange(7)), np.inf]])
    acts = torch.full((2, 1, 2, 2), float(corner))
    high = float(e1) + 4 * width
    if dense:  # the top source row: 6 of each sample's 9 cells are candidates
        acts[:, 0, 0, :] = high
    else:  # one corner: 4 of the 18 cells
        acts[1, 0, 0, 0] = high
    labels = torch.zeros(2, 16, 16, dtype=torch.int64)
    labels[:, 12:] = 1  # the bottom cell row: four corners of 0.1 in every sample
    fused, tensor = _states(acts, labels, edges, 2)
    np.testing.assert_array_equal(fused.counts, tensor.counts)
    np.testing.assert_array_equal(fused.unit_hist, tensor.unit_hist)
    assert fused.counts[0, :, 0].sum() > 0 and fused.counts[0, :, 1].sum() == 0


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

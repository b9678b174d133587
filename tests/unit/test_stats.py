"""The one-pass statistics: hand-worked IoU, brute force at the chosen threshold, merging."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dissect_report.dissection.stats import (
    LayerStats,
    bilinear_upsample,
    calibrate_edges,
    downsample_labels,
    merge_topk,
    sample_hash,
)
from dissect_report.dissection.thresholds import concept_ious, iou_iqr, score_units
from dissect_report.reportdir.read import read_state


def _accumulate(acts, labels, concepts, *, bins=64, level=0.5, batch=None, top_k=3, cal=None):
    edges = calibrate_edges(acts if cal is None else cal, bins, level)
    acc = LayerStats(edges, concepts, top_k)
    step = batch or acts.shape[0]
    for i in range(0, acts.shape[0], step):
        ids = torch.arange(i, min(i + step, acts.shape[0]))
        acc.add(acts[i : i + step], labels[i : i + step], ids)
    return acc.state()


def test_hand_worked_iou():
    # One 4x4 sample: the unit fires (1.0) on the top-right 2x2 block; concept 1 covers that
    # block plus one more pixel. Unit mask 4 px, concept 5 px, intersection 4 -> IoU 4/5.
    act = torch.zeros(1, 1, 4, 4)
    act[0, 0, :2, 2:] = 1.0
    labels = torch.zeros(1, 4, 4, dtype=torch.int64)
    labels[0, :2, 2:] = 1
    labels[0, 3, 0] = 1
    state = _accumulate(act, labels, 2, level=0.0)
    for policy, level in [("max-iou", 0.99), ("iqr", 0.99), ("quantile", 0.75)]:
        scores = score_units(state, policy, level)
        assert scores.iou[0, 1] == pytest.approx(4 / 5), policy
        assert scores.iou[0, 0] == 0.0  # concept 0 (11 px) never overlaps the mask
        assert 0.0 < scores.threshold[0] <= 1.0
        assert scores.best[0] == 1
    # IQR by hand: p11 = 4/16, p01 = 1/16, p00 = 11/16; H(M) etc. from the definition.
    p = np.array([4, 0, 1, 11]) / 16  # (M,L) = 11, 10, 01, 00
    pm, pl = np.array([4, 12]) / 16, np.array([5, 11]) / 16
    joint = [(p[0], pm[0] * pl[0]), (p[2], pm[1] * pl[0]), (p[3], pm[1] * pl[1])]
    mi = sum(a * np.log(a / b) for a, b in joint)
    h = -sum(a * np.log(a) for a in p if a > 0)
    assert score_units(state, "max-iou").iqr[0, 1] == pytest.approx(mi / h)


@pytest.mark.parametrize(("h", "size"), [(32, 32), (16, 32), (4, 32), (6, 32), (5, 15)])
@pytest.mark.parametrize("policy", ["quantile", "iqr", "max-iou"])
def test_iou_iqr_equal_brute_force_at_threshold(h, size, policy):
    gen = torch.Generator().manual_seed(h * 100 + size)
    n, units, concepts = 9, 5, 4
    acts = torch.randn(n, units, h, h, generator=gen)
    acts[:, 3] = torch.relu(acts[:, 3])  # a spike of exact zeros
    acts[0, 1, 0, 0] = float("nan")
    acts[2, 2, 1, 1] = float("inf")
    labels = torch.randint(0, concepts, (n, size, size), generator=gen)
    state = _accumulate(acts, labels, concepts, level=0.3 if policy == "quantile" else 0.0, batch=4)
    scores = score_units(state, policy, 0.8)
    up = bilinear_upsample(acts, (size, size))
    total = float(n * size * size)
    for u in range(units):
        for c in range(concepts):  # iqr: each pair at its own threshold, as GAN Dissection
            mask = (up[:, u] >= scores.at(u, c)) & torch.isfinite(up[:, u])
            concept = labels == c
            iou, iqr = iou_iqr(
                np.array((mask & concept).sum().item()),
                np.array(mask.sum().item()),
                np.array(concept.sum().item()),
                total,
            )
            assert scores.iou[u, c] == pytest.approx(float(iou), abs=1e-12)
            assert scores.iqr[u, c] == pytest.approx(float(iqr), abs=1e-12)
        finite = torch.isfinite(up[:, u]).sum().item()
        assert state.unit_hist[u].sum() == finite
    assert state.nonfinite == 2
    assert state.concept_totals.sum() == total
    np.testing.assert_array_equal(state.counts.sum(axis=2)[:, 1:], state.unit_hist[:, 1:])
    assert state.counts[:, 0].sum() == 0  # bin 0 is never split by concept


def test_concept_ious_pick_each_concepts_best_threshold_by_brute_force():
    gen = torch.Generator().manual_seed(7)
    n, units, concepts, size = 6, 4, 3, 16
    acts = torch.relu(torch.randn(n, units, 8, 8, generator=gen))
    labels = torch.randint(0, concepts, (n, size, size), generator=gen)
    labels[:, :6] = 0  # a large concept (like sky) beside small ones
    state = _accumulate(acts, labels, concepts, bins=32, level=0.0)
    best = concept_ious(state)
    up = bilinear_upsample(acts, (size, size))
    total = float(n * size * size)

    def brute(u: int, c: int, t: float) -> float:
        mask = up[:, u] >= t
        iou, _ = iou_iqr(
            np.array((mask & (labels == c)).sum().item()),
            np.array(mask.sum().item()),
            np.array((labels == c).sum().item()),
            total,
        )
        return float(iou)

    for u in range(units):
        for c in range(concepts):
            assert best.iou[u, c] == pytest.approx(brute(u, c, best.threshold[u, c]), abs=1e-12)
            for t in state.edges[u, 1:-1]:  # no other resolved edge does better
                assert brute(u, c, float(t)) <= best.iou[u, c] + 1e-12
    # A concept's own threshold never does worse than the unit's single max-IoU threshold.
    assert (best.iou >= score_units(state, "max-iou").iou - 1e-12).all()


@pytest.mark.parametrize("size", [(16, 16), (32, 32), (64, 64), (24, 24), (20, 20)])
def test_bilinear_upsample_matches_interpolate(size):
    acts = torch.randn(2, 3, 8, 8)
    ref = F.interpolate(acts, size=size, mode="bilinear", align_corners=False)
    torch.testing.assert_close(bilinear_upsample(acts, size), ref, rtol=0, atol=1e-6)


def test_quantile_threshold_keeps_at_most_one_minus_level():
    gen = torch.Generator().manual_seed(0)
    acts = torch.rand(20, 3, 8, 8, generator=gen)
    labels = torch.zeros(20, 8, 8, dtype=torch.int64)
    state = _accumulate(acts, labels, 1, bins=512, level=0.5)
    scores = score_units(state, "quantile", 0.9)
    for u in range(3):
        frac = (acts[:, u] >= scores.threshold[u]).float().mean().item()
        assert 0.08 <= frac <= 0.1  # at most 10%, as close as the bins allow


def test_merge_equals_single_pass_and_is_order_free():
    gen = torch.Generator().manual_seed(1)
    acts = torch.randn(12, 4, 8, 8, generator=gen)
    acts[5, :, 3, 3] = 9.0  # equal peaks: ties must be broken by sample id
    acts[2, :, 0, 0] = 9.0
    labels = torch.randint(0, 3, (12, 32, 32), generator=gen)
    edges = calibrate_edges(acts[:6], 64, 0.5)
    whole = LayerStats(edges, 3, 4)
    whole.add(acts, labels, torch.arange(12))
    parts = []
    for lo, hi in [(0, 5), (5, 9), (9, 12)]:
        acc = LayerStats(edges, 3, 4)
        acc.add(acts[lo:hi], labels[lo:hi], torch.arange(lo, hi))
        parts.append(acc.state())
    forward = parts[0].merge(parts[1]).merge(parts[2])
    backward = parts[2].merge(parts[1].merge(parts[0]))
    for merged in (forward, backward):
        for key, value in whole.state().arrays().items():
            np.testing.assert_array_equal(merged.arrays()[key], value, err_msg=key)
    assert list(whole.state().topk_ids[0, :2]) == [2, 5]


def test_resume_from_state_continues_exactly():
    gen = torch.Generator().manual_seed(2)
    acts = torch.randn(10, 3, 8, 8, generator=gen)
    labels = torch.randint(0, 2, (10, 16, 16), generator=gen)
    edges = calibrate_edges(acts, 32, 0.5)
    first = LayerStats(edges, 2, 3)
    first.add(acts[:4], labels[:4], torch.arange(4))
    again = LayerStats.from_state(first.state())
    again.add(acts[4:], labels[4:], torch.arange(4, 10))
    whole = LayerStats(edges, 2, 3)
    whole.add(acts, labels, torch.arange(10))
    for key, value in whole.state().arrays().items():
        np.testing.assert_array_equal(again.state().arrays()[key], value, err_msg=key)


def test_merge_refuses_other_edges():
    acts = torch.randn(2, 2, 4, 4)
    labels = torch.zeros(2, 4, 4, dtype=torch.int64)
    a = _accumulate(acts, labels, 1)
    b = _accumulate(acts * 2, labels, 1)
    with pytest.raises(Exception, match="different bin edges"):
        a.merge(b)


def test_edges_exact_in_float32_and_skip_relu_zeros():
    acts = torch.relu(torch.randn(16, 3, 8, 8) - 1.5)  # about 93% zeros
    acts[:, 2] = 0.0  # a dead unit
    edges = calibrate_edges(acts, 128, 0.9)
    assert edges.shape == (3, 129)
    assert np.all(np.diff(edges, axis=1) > 0)
    np.testing.assert_array_equal(edges.astype(np.float32).astype(np.float64), edges)
    assert np.isneginf(edges[:, 0]).all() and np.isposinf(edges[:, -1]).all()
    assert (edges[:, 1] > 0).all()  # exact zeros stay in the unresolved bin 0


def test_merge_topk_orders_by_value_then_id():
    values = np.array([[1.0, 3.0, 3.0, 2.0]])
    ids = np.array([[7, 9, 4, 1]])
    v, i = merge_topk(values, ids, 3)
    assert i.tolist() == [[4, 9, 1]] and v.tolist() == [[3.0, 3.0, 2.0]]


def test_downsample_labels_majority():
    labels = torch.zeros(1, 4, 4, dtype=torch.int64)
    labels[0, :2, :2] = torch.tensor([[1, 1], [1, 2]])
    labels[0, 2:, 2:] = torch.tensor([[2, 3], [3, 2]])  # tie 2 vs 3 -> lower index
    out = downsample_labels(labels, (2, 2), 4)
    assert out.tolist() == [[[1, 0], [0, 2]]]


def test_state_roundtrip(tmp_path):
    acts = torch.randn(3, 2, 4, 4)
    state = _accumulate(acts, torch.zeros(3, 8, 8, dtype=torch.int64), 2)
    np.savez(tmp_path / "s.npz", **state.arrays())
    loaded = read_state(tmp_path / "s.npz")
    for key, value in state.arrays().items():
        np.testing.assert_array_equal(loaded.arrays()[key], value)


@pytest.mark.parametrize("size", [8, 16])
def test_values_exactly_on_edges(size):
    # Multiples of 1/8 (and, upsampled by 2, of 1/32) land exactly on the power-of-two bin
    # edges, so ">= threshold" must hold at equality, in the pass as in the brute force.
    gen = torch.Generator().manual_seed(size)
    acts = torch.randint(0, 40, (6, 3, 8, 8), generator=gen).float() / 8
    labels = torch.randint(0, 3, (6, size, size), generator=gen)
    state = _accumulate(acts, labels, 3, bins=32, level=0.0)
    up = bilinear_upsample(acts, (size, size))
    inter = np.flip(np.cumsum(np.flip(state.counts, 1), axis=1), 1)
    for u in range(3):
        for b in range(1, 32):
            mask = up[:, u] >= state.edges[u, b]
            for c in range(3):
                assert inter[u, b, c] == (mask & (labels == c)).sum().item(), (u, b, c)


def test_chunks_over_units_and_samples_give_the_same_counts(monkeypatch):
    # Tiny chunks force the unit-chunked and the sample-chunked paths; counts must not move.
    import dissect_report.dissection.stats as stats

    gen = torch.Generator().manual_seed(7)
    acts = torch.randn(5, 6, 8, 8, generator=gen)
    labels = torch.randint(0, 4, (5, 32, 32), generator=gen)
    edges = calibrate_edges(acts, 32, 0.3, size=(32, 32))
    whole = LayerStats(edges, 4, 3)
    whole.add(acts, labels, torch.arange(5))
    for chunk in (5 * 32 * 32 * 2, 32 * 32 * 2, 7):
        monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", chunk)
        acc = LayerStats(edges, 4, 3)
        acc.add(acts, labels, torch.arange(5))
        for key, value in whole.state().arrays().items():
            np.testing.assert_array_equal(acc.state().arrays()[key], value, err_msg=key)


def test_int32_counts_spill_to_int64_before_they_could_overflow(monkeypatch):
    import dissect_report.dissection.stats as stats

    gen = torch.Generator().manual_seed(8)
    acts = torch.randn(12, 3, 4, 4, generator=gen)
    labels = torch.randint(0, 2, (12, 8, 8), generator=gen)
    edges = calibrate_edges(acts, 16, 0.0, size=(8, 8))
    whole = LayerStats(edges, 2, 2)
    whole.add(acts, labels, torch.arange(12))
    monkeypatch.setattr(stats, "_INT32_MAX", 3 * 64)  # room for 3 samples of 8x8 per cell
    acc = LayerStats(edges, 2, 2)
    for i in range(0, 12, 2):
        acc.add(acts[i : i + 2], labels[i : i + 2], torch.arange(i, i + 2))
    assert acc._spill is not None  # it spilled, and nothing was lost
    for key, value in whole.state().arrays().items():
        np.testing.assert_array_equal(acc.state().arrays()[key], value, err_msg=key)
    assert acc._counts.dtype == torch.int32 and whole.state().counts.dtype == np.int64


def test_device_path_keeps_state_on_the_device_and_equals_numpy_topk():
    # No GPU in CI: the device code path runs with device="cpu"; every tensor of the state
    # lives on the accumulator's device and the top-k merge equals the numpy one.
    from dissect_report.dissection.stats import merge_topk_tensors

    gen = torch.Generator().manual_seed(9)
    values = torch.randint(0, 4, (5, 9), generator=gen).float()
    values[0, 3] = -float("inf")
    ids = torch.randperm(9, generator=gen).expand(5, 9).contiguous()
    v, i = merge_topk_tensors(values, ids, 4)
    nv, ni = merge_topk(values.double().numpy(), ids.numpy(), 4)
    np.testing.assert_array_equal(i.numpy(), ni)
    np.testing.assert_array_equal(v.double().numpy(), nv)
    acts = torch.randn(4, 2, 4, 4, generator=gen)
    acc = LayerStats(calibrate_edges(acts, 16, 0.5), 2, 2, device=torch.device("cpu"))
    acc.add(acts, torch.zeros(4, 8, 8, dtype=torch.int64), torch.arange(4))
    for t in (acc._counts, acc._low, acc._concept_totals, acc._topk_values, acc._topk_ids):
        assert t.device == acc.device
    peaks = (4 * 2 + 8) * len(acc._peak_ids)
    assert acc.state_bytes == 4 * 2 * 16 * 2 + 8 * 2 + 8 * 2 + (4 + 8) * 2 * 2 + peaks


def test_peak_subset_is_the_smallest_hashes_whatever_the_batching_and_sharding():
    gen = torch.Generator().manual_seed(3)
    acts = torch.randn(23, 3, 4, 4, generator=gen)
    labels = torch.randint(0, 2, (23, 8, 8), generator=gen)
    edges = calibrate_edges(acts, 16, 0.5)
    want = np.sort(np.argsort(sample_hash(np.arange(23)), kind="stable")[:5])
    states = []
    for cuts in ([0, 23], [0, 4, 9, 23], [0, 1, 2, 3, 22, 23]):
        parts = []
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=False):
            acc = LayerStats(edges, 2, 2, peak_samples=5)
            for i in range(lo, hi, 3):  # batches of 3 inside each shard
                j = min(i + 3, hi)
                acc.add(acts[i:j], labels[i:j], torch.arange(i, j))
            parts.append(acc.state())
        merged = parts[0]
        for part in reversed(parts[1:]):
            merged = part.merge(merged)
        states.append(merged)
    for state in states:
        ids, peaks = state.peak_subset()
        assert sorted(ids.tolist()) == want.tolist()
        brute = acts.amax(dim=(2, 3)).numpy().T  # (U, N)
        np.testing.assert_array_equal(peaks, brute[:, ids])
        np.testing.assert_array_equal(state.peaks, states[0].peaks)

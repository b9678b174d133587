"""Sample pages rank the units that say what the image contains before broad ones."""

from __future__ import annotations

import math

from dissect_report.render.samplepage import Candidate, rank_hits

NAN = math.nan


def test_labelled_units_of_the_image_come_before_units_that_fire_most() -> None:
    broad = Candidate("l", 1, 9.0, 170.0, False, False, 3, "typical (40-60%)")
    tree = Candidate("l", 2, 1.0, 3.0, True, True, 1, "99-99.9%")
    tree_top = Candidate("l", 3, 0.9, 2.0, True, True, 0, "top")
    sky_elsewhere = Candidate("l", 4, 2.0, 50.0, True, False, 0, "top")
    unlabelled_top = Candidate("l", 5, 2.0, NAN, False, False, 0, "top")
    ranked = rank_hits([broad, tree, tree_top, sky_elsewhere, unlabelled_top])
    assert [c.unit for c in ranked] == [3, 2, 4, 5, 1]


def test_a_unit_seen_twice_keeps_its_strongest_band_and_the_list_is_capped() -> None:
    ratio_only = Candidate("l", 7, 1.0, 4.0, True, True, 99, "")
    banded = Candidate("l", 7, 1.0, NAN, True, True, 1, "99-99.9%")
    many = [Candidate("l", u, 1.0, float(u), False, False, 99) for u in range(10, 30)]
    ranked = rank_hits([ratio_only, banded, *many], n=8)
    assert len(ranked) == 8 and ranked[0].unit == 7 and ranked[0].band_label == "99-99.9%"
    assert [c.unit for c in ranked[1:]] == [29, 28, 27, 26, 25, 24, 23]


def test_the_rank_among_the_units_own_peaks_orders_each_group(tmp_path) -> None:
    import numpy as np

    from dissect_report.render.samplepage import peak_ranks

    pad = np.iinfo(np.int64).max
    peaks = np.array([[1.0, 2.0, 3.0, 0.0], [5.0, 5.0, 4.0, 0.0]])  # unit 1 fires on all
    np.savez(tmp_path / "stats.npz", peaks=peaks, peak_ids=np.array([7, 8, 9, pad]))
    columns, ranks, got = peak_ranks(tmp_path)
    assert columns == {7: 0, 8: 1, 9: 2}  # the pad column is dropped
    assert ranks[0, columns[9]] == 1.0 and ranks[1, columns[9]] == 0.0
    broad = Candidate("l", 1, 4.0, 90.0, True, True, 99, rank=float(ranks[1, 2]))
    specific = Candidate("l", 0, 3.0, 2.0, True, True, 99, rank=float(ranks[0, 2]))
    assert [c.unit for c in rank_hits([broad, specific])] == [0, 1]


def test_for_the_unit_and_peak_over_threshold_are_spelled_out() -> None:
    from dissect_report.render.samplepage import for_unit, peak_ratio

    assert for_unit(1.0) == "its strongest" and for_unit(0.97, "top") == "top 3%"
    assert for_unit(NAN, "top") == "top band" and for_unit(NAN, "95\u201399%") == "95\u201399% band"
    assert for_unit(NAN) == ""
    assert peak_ratio(2.0, 0.5) == 4.0
    assert peak_ratio(2.0, 0.0) != peak_ratio(2.0, 0.0) and peak_ratio(1.0, NAN) != 1.0

"""The interventions' CLI summary never prints 'nan%' for what was not measured."""

from __future__ import annotations

import math
from types import SimpleNamespace

from dissect_report.commands.intervene import print_summary


def _concept(**over: object) -> SimpleNamespace:
    values = dict(share=0.5, erased=0.6, share_random=0.02, share_optimized=0.4,
                  insert_success=0.75, insert_added=0.31, insert_success_iou=0.5,
                  insert_method="optimized", insert_units=tuple(range(16)),
                  top_units=tuple(range(32)))  # fmt: skip
    values.update(over)
    return SimpleNamespace(concept="tree", n_max=32, **values)


def _summary(capsys, concept: SimpleNamespace) -> str:
    result = SimpleNamespace(layer="layer2", seed=7, seconds=1.0, concepts=[concept])
    print_summary(result)
    return capsys.readouterr().out


def test_measured_values_are_percentages(capsys):
    out = _summary(capsys, _concept())
    assert "remove 50% of it" in out and "optimized 40%" in out
    assert (
        "insertion (measured set of 16) succeeds at 75% of sites, adding 0.31 of a patch per "
        "site (IoU-top units: 50%)" in out
    )


def test_an_iou_top_insertion_names_no_second_set(capsys):
    out = _summary(capsys, _concept(insert_method="iou", insert_units=tuple(range(32))))
    assert "insertion (IoU-top 32) succeeds at 75% of sites" in out and "IoU-top units:" not in out


def test_unmeasured_values_are_named_not_nan(capsys):
    out = _summary(capsys, _concept(share_optimized=math.nan, insert_success=math.nan,
                                    insert_added=math.nan, share_random=math.nan))  # fmt: skip
    assert "nan" not in out.lower()
    assert "optimized not run" in out and "random units n/a" in out
    assert "no insertion site" in out

"""With --label-fallback a unit takes its best concept that passes every label guard.

The fallback toy (tests/dissect_toys.py): unit 0 fires at 1 on the sky rows (less a column
set by z) and at 2 on the door's top rows. Its top concept by IoU is sky, but a fixed mask
on the sky rows does as well (position alone). By default (the fallback is opt-in: on the
built-in world it labelled units with concepts their images do not show) unit 0 stays
unlabelled, sky recorded as refused with the reason and door as the next concept that
passes. With ``label_fallback`` it is labelled door, at the door pair's own IQR threshold
(its mask is the door part), and keeps sky as the refused top concept. Unit 1 is the whole
door: labelled door, nothing refused, either way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dissect_report.config import DissectConfig  # noqa: E402
from dissect_report.dissection.labels import (  # noqa: E402
    POSITION_ONLY,
    choose,
    guards,
    next_passing,
    refusals,
)
from dissect_report.dissection.stage import dissect  # noqa: E402
from dissect_report.render.context import BY_POSITION, card, guard_reason  # noqa: E402
from dissect_report.reportdir.read import read_manifest  # noqa: E402
from dissect_report.reportdir.records import load_layer  # noqa: E402

CONFIG = DissectConfig(
    generator="dissect_toys:fallback_generator",
    segmenter="dissect_toys:fallback_segmenter",
    layers=("features",),
    samples=96,
    batch_size=32,
    calibration_samples=32,
    label_fallback=True,
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("fallback") / "report"
    return dissect(CONFIG, out, images=True), out


@pytest.fixture(scope="module")
def default_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("nofallback") / "report"
    config = CONFIG.model_copy(update={"label_fallback": False})
    return dissect(config, out, images=False), out


def test_by_default_a_refused_top_concept_leaves_the_unit_unlabelled(default_report):
    result, out = default_report
    layer = result.layer("features")
    sky, door = result.concepts.index("sky"), result.concepts.index("door")
    assert layer.scores.best.tolist() == [sky, door]
    assert layer.interpretable_mask.tolist() == [False, True]
    refused, reason = refusals(layer)
    assert refused.tolist() == [sky, -1] and reason.tolist() == [POSITION_ONLY, ""]
    assert next_passing(layer).tolist() == [door, -1]
    # without the fallback only the top pairs' thresholds are measured: unit 0's door pair
    # (its own higher threshold) is not (unit 1's concepts share one threshold bin)
    measured = np.isfinite(layer.position.baseline_iou)
    assert measured[0].sum() == 1 and measured[0, sky] and measured[1, door]
    table = pq.read_table(out / "layers" / "features" / "units.parquet").to_pylist()
    row = table[0]
    assert (row["concept"], row["interpretable"]) == ("sky", False)
    assert (row["refused_concept"], row["refused_reason"]) == ("sky", "position alone")
    assert (row["next_concept"], row["next_iou"]) == ("door", layer.scores.iou[0, door])
    assert table[1]["next_concept"] == "" and table[1]["next_iou"] is None
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["layers"][0]["interpretable"] == 1
    assert manifest["threshold"]["label_fallback"] is False
    assert manifest["config"]["label_fallback"] is False
    data = load_layer(out, read_manifest(out).layers[0])
    hint = card(data, data.units[0], None, floor=0.04).hint
    assert hint == (
        "top concept sky 0.779 refused: position alone explains it; next concept that passes "
        f"coverage and chance: door IoU {layer.scores.iou[0, door]:.3f} (--label-fallback also "
        "checks position)"
    ), hint
    from dissect_report.render.detail import _fallback_row

    (fact,) = _fallback_row(data)  # the layer page's fact
    assert fact.label == "unlabelled, a next concept passes"
    assert str(fact.value).startswith("1 (a label guard refused their top concept and another")


def test_the_fallback_is_a_table_setting_with_a_flag():
    import argparse

    from dissect_report.commands.dissect import add_config_arguments, config_from_args

    assert DissectConfig().label_fallback is False
    assert CONFIG.table_key() != CONFIG.model_copy(update={"label_fallback": False}).table_key()
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    args = parser.parse_args(["--label-fallback"])
    assert config_from_args(args).label_fallback is True
    assert config_from_args(parser.parse_args([])).label_fallback is False


def test_refused_best_concept_falls_back_to_the_next_that_passes(report):
    result, _ = report
    layer = result.layer("features")
    sky, door = result.concepts.index("sky"), result.concepts.index("door")
    scores = layer.scores
    assert scores.top.tolist() == [sky, door]  # by IoU: sky 0.78 > door 0.39 for unit 0
    assert scores.iou[0, sky] > 1.5 * scores.iou[0, door] > 0.5
    assert scores.best.tolist() == [door, door]
    assert layer.interpretable_mask.tolist() == [True, True]
    # sky is refused by position alone (a fixed mask on the sky rows beats the unit) ...
    assert layer.position.baseline_iou[0, sky] >= scores.iou[0, sky]
    # ... door, measured at the door pair's own threshold, beats its position baseline
    assert scores.iou[0, door] > 2 * layer.position.baseline_iou[0, door]
    assert guards(layer)[0].tolist() == [POSITION_ONLY, "below the floor", ""]
    # the unit's threshold (its mask) is the door pair's own, above the sky pair's
    assert scores.threshold[0] == scores.concept_threshold[0, door]
    assert scores.concept_threshold[0, door] > 1.0 > scores.concept_threshold[0, sky]
    refused, reason = refusals(layer)
    assert refused.tolist() == [sky, -1] and reason.tolist() == [POSITION_ONLY, ""]
    assert layer.units_per_concept() == [0, 0, 2]


def test_units_table_and_pages_say_what_was_refused(report):
    result, out = report
    layer = result.layer("features")
    sky, door = result.concepts.index("sky"), result.concepts.index("door")
    table = pq.read_table(out / "layers" / "features" / "units.parquet").to_pylist()
    row = table[0]
    assert (row["concept"], row["interpretable"]) == ("door", True)
    assert row["iou"] == layer.scores.iou[0, door]
    assert row["threshold"] == layer.scores.concept_threshold[0, door]
    assert (row["refused_concept"], row["refused_reason"]) == ("sky", "position alone")
    assert row["refused_iou"] == layer.scores.iou[0, sky]
    assert table[1]["refused_concept"] == "" and table[1]["refused_iou"] is None
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["layers"][0]["flagged_units"]["position"] == [0]
    assert manifest["layers"][0]["interpretable"] == 2
    assert manifest["threshold"]["label_fallback"] is True
    data = load_layer(out, read_manifest(out).layers[0])
    unit = data.units[0]
    assert guard_reason(data, unit) == BY_POSITION
    hint = card(data, unit, None, floor=0.04).hint
    assert "top concept sky 0.779 refused: position alone explains it; labelled door" in hint
    assert hint.endswith(" instead"), hint
    from dissect_report.render.detail import _fallback_row

    (row,) = _fallback_row(data)  # the layer page's fact
    assert row.label == "labelled with a next concept"
    assert (
        str(row.value) == "1 (a label guard refused their best-scoring concept: 1 sky \u2192 door)"
    )


def test_choose_takes_the_highest_iou_that_passes():
    iou = np.array([[0.5, 0.3, 0.2], [0.1, 0.4, 0.3], [0.6, 0.2, 0.1]])
    ok = np.array([[False, True, True], [True, True, True], [False, False, False]])
    # unit 2: nothing passes, so it keeps its top concept (and stays unlabelled)
    assert choose(iou, ok).tolist() == [1, 1, 0]


def test_dissect_summary_counts_fallbacks_and_names_empty_bands(report):
    from dissect_report.commands.dissect import summary_lines

    result, _ = report
    lines = summary_lines(result, images=True)
    assert lines[0] == (
        "features: 2/2 units interpretable (1 with their next concept: a guard refused their "
        "best), 1 concepts covered"
    )
    # 96 samples: the 99-99.9% band needs 550, the 95-99% band 110; the typical band is there
    assert any("no 99\u201399.9% band at 96 samples" in x and "--samples 550" in x for x in lines)
    assert any("no 95\u201399% band at 96 samples" in x and "--samples 110" in x for x in lines)
    assert not any("typical" in x for x in lines)
    assert len(summary_lines(result, images=False)) == 1


def test_unit_page_says_which_bands_too_few_samples_leave_empty(report):
    from types import SimpleNamespace

    from dissect_report.render.examples import load_examples
    from dissect_report.render.unitpage import _missing_bands

    _, out = report
    ex = load_examples(out / "layers" / "features")
    site = SimpleNamespace(report=SimpleNamespace(manifest=read_manifest(out)))
    note = _missing_bands(0, ex, site)  # type: ignore[arg-type]
    assert "No 99\u201399.9% band: at 96 samples" in note and "--samples 550" in note
    assert "No 95\u201399% band: at 96 samples" in note and "--samples 110" in note
    assert "typical" not in note

"""compare_reports on hand-made reports with planted differences."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from dissect_report.compare import Tolerances, compare_reports, write_diffs
from dissect_report.errors import ConfigError, ReportError
from dissect_report.testing import (
    drop_units,
    edit_iou,
    edit_manifest,
    edit_units,
    write_synthetic_report,
)

LAYERS = {"layer1": 4, "layer2": 6}


@pytest.fixture(scope="module")
def golden_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_report(tmp_path_factory.mktemp("src") / "golden", layers=LAYERS)


@pytest.fixture
def golden(golden_src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(golden_src, tmp_path / "golden"))


@pytest.fixture
def new(golden_src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(golden_src, tmp_path / "new"))


def units_table(report: Path, layer: str) -> dict:
    return pq.read_table(report / "layers" / layer / "units.parquet").to_pydict()


def test_identical_reports_pass(golden: Path, new: Path) -> None:
    c = compare_reports(golden, new)
    assert c.passed and c.failures == 0
    assert [layer.status for layer in c.layers] == ["compared", "compared"]
    assert c.settings == () and c.files_missing == () and c.files_added == ()
    assert "PASS" in c.summary().splitlines()[0]


def test_two_independent_writes_compare_equal(golden: Path, tmp_path: Path) -> None:
    other = write_synthetic_report(tmp_path / "other", layers=LAYERS)
    c = compare_reports(golden, other)
    assert c.passed
    # Only the output path differs, and it cannot change the findings.
    assert [(s.key, s.relevant) for s in c.settings] == [("config.out", False)]
    assert c.probable_causes == ()


def test_unit_changes_concept(golden: Path, new: Path) -> None:
    old = units_table(golden, "layer2")["concept"][3]
    edit_units(new, "layer2", 3, concept="door" if old != "door" else "sky")
    c = compare_reports(golden, new)
    assert not c.passed
    (change,) = c.layer("layer2").label_changes
    assert (change.unit, change.golden) == (3, old)
    assert change.new in ("door", "sky") and change.new != old
    assert c.layer("layer1").failures == 0
    assert f"unit 3: {old}" in c.summary()
    assert c.layer("layer2").changed_units == (3,)


@pytest.mark.parametrize(("delta", "passed"), [(0.015, True), (-0.019, True), (0.05, False)])
def test_iou_within_and_outside_default_tolerance(
    golden: Path, new: Path, delta: float, passed: bool
) -> None:
    iou = units_table(golden, "layer1")["iou"][2]
    edit_units(new, "layer1", 2, iou=iou + delta)
    c = compare_reports(golden, new)
    assert c.passed is passed
    if not passed:
        (change,) = c.layer("layer1").value_changes
        assert (change.column, change.unit, change.tolerance) == ("iou", 2, "±0.02")
        assert change.new == pytest.approx(iou + delta)
    # A looser tolerance accepts the same change.
    assert compare_reports(golden, new, Tolerances(iou_atol=0.06)).passed


def test_iou_matrix_entry_outside_tolerance(golden: Path, new: Path) -> None:
    edit_iou(new, "layer2", 4, "grass", iou=0.5)
    c = compare_reports(golden, new)
    m = c.layer("layer2").iou_matrix
    assert m is not None and m.outside == 1 and m.compared == 6 * 5
    assert (m.worst[0].unit, m.worst[0].concept, m.worst[0].new) == (4, "grass", 0.5)
    assert m.max_abs_delta > 0.4
    assert "1 of 30 (unit, concept) entries outside tolerance" in c.summary()


def test_threshold_relative_tolerance(golden: Path, new: Path) -> None:
    threshold = units_table(golden, "layer1")["threshold"][0]
    edit_units(new, "layer1", 0, threshold=threshold * 1.04)
    assert compare_reports(golden, new).passed
    edit_units(new, "layer1", 0, threshold=threshold * 1.10)
    c = compare_reports(golden, new)
    assert [v.column for v in c.layer("layer1").value_changes] == ["threshold"]
    assert compare_reports(golden, new, Tolerances(threshold_rtol=0.2)).passed


def test_interpretable_flip_and_top_samples(golden: Path, new: Path) -> None:
    table = units_table(golden, "layer2")
    edit_units(new, "layer2", 1, interpretable=not table["interpretable"][1])
    top = table["top_samples"][5]
    edit_units(new, "layer2", 5, top_samples=[top[0], top[1], 999])  # 2 of 3 kept: fine
    edit_units(new, "layer2", 0, top_samples=[997, 998, 999])  # none kept
    c = compare_reports(golden, new)
    assert {(v.column, v.unit) for v in c.layer("layer2").value_changes} == {
        ("interpretable", 1),
        ("top_samples", 0),
    }
    layer = c.layer("layer2")
    assert layer.golden_interpretable != layer.new_interpretable


def test_changed_image_within_and_outside_tolerance(golden: Path, new: Path) -> None:
    path = new / "layers" / "layer1" / "units" / "2-strip.png"
    pixels = np.asarray(Image.open(path).convert("RGB")).copy()
    pixels[0, 0] = 255 - pixels[0, 0]  # one pixel: a tiny mean difference
    Image.fromarray(pixels).save(path)
    assert compare_reports(golden, new).passed
    pixels[:] = 0
    Image.fromarray(pixels).save(path)
    c = compare_reports(golden, new)
    (change,) = c.layer("layer1").image_changes
    assert (change.unit, change.kind, change.path) == (
        2,
        "strip",
        "layers/layer1/units/2-strip.png",
    )
    assert change.score is not None and change.score > 4
    assert c.layer("layer1").changed_units == (2,)
    assert compare_reports(golden, new, Tolerances(image_tol=255)).passed


def test_image_size_mismatch_is_a_change(golden: Path, new: Path) -> None:
    Image.new("RGB", (10, 10)).save(new / "layers" / "layer2" / "units" / "3.png")
    c = compare_reports(golden, new, Tolerances(image_tol=255))
    (change,) = c.layer("layer2").image_changes
    assert change.kind == "grid" and change.reason.startswith("size ")


def test_missing_file_fails_and_extra_file_does_not(golden: Path, new: Path) -> None:
    (new / "layers" / "layer1" / "units" / "1.png").unlink()
    (new / "layers" / "layer1" / "extra.txt").write_text("x")
    (new / "site").mkdir()
    (new / "site" / "index.html").write_text("derived, never compared")
    c = compare_reports(golden, new)
    assert c.files_missing == ("layers/layer1/units/1.png",)
    assert c.files_added == ("layers/layer1/extra.txt",)
    assert c.failures == 1
    assert "layers/layer1/units/1.png" in c.summary()


def test_missing_unit_layer_and_concept(golden: Path, new: Path) -> None:
    drop_units(new, "layer2", {5})
    manifest = json.loads((new / "manifest.json").read_text())
    manifest["layers"] = [entry for entry in manifest["layers"] if entry["name"] != "layer1"]
    manifest["layers"].append({"name": "layer9", "slug": "layer9", "shape": [2, 4, 4]})
    manifest["concepts"] = [c for c in manifest["concepts"] if c["name"] != "window"]
    (new / "manifest.json").write_text(json.dumps(manifest))
    c = compare_reports(golden, new)
    assert c.layer("layer1").status == "missing"
    assert c.layer("layer9").status == "added"
    assert c.layer("layer2").units_missing == (5,)
    assert c.concepts_missing == ("window",)
    text = c.summary()
    assert "layer layer1: missing in new" in text and "concepts missing in new: window" in text


def test_changed_seed_is_reported_first_as_probable_cause(golden: Path, new: Path) -> None:
    edit_manifest(new, **{"samples.seed": 2, "tool.version": "0.2.0", "config.batch_size": 64})
    edit_units(new, "layer2", 3, concept="zzz")
    c = compare_reports(golden, new)
    # batch_size should not matter, but the tables differ: a cause too, after the others.
    assert [s.key for s in c.probable_causes] == [
        "samples.seed",
        "tool.version",
        "config.batch_size",
    ]
    assert [s.key for s in c.settings if not s.relevant] == ["config.batch_size"]
    text = c.summary()
    assert text.index("Probable cause") < text.index("samples.seed: 1 -> 2")
    assert text.index("samples.seed: 1 -> 2") < text.index("tool.version: 0.1.0 -> 0.2.0")
    assert text.index("tool.version") < text.index("layer layer1")
    # Settings alone, with the same findings, explain but do not fail.
    edit_units(new, "layer2", 3, concept=units_table(golden, "layer2")["concept"][3])
    assert compare_reports(golden, new).passed


def test_model_hash_is_a_probable_cause(golden: Path, new: Path) -> None:
    edit_manifest(new, **{"model.weights_sha256": "f" * 64, "model.weights": "/elsewhere"})
    c = compare_reports(golden, new)
    assert [s.key for s in c.probable_causes] == ["model.weights_sha256"]
    assert [s.key for s in c.settings if not s.relevant] == ["model.weights"]


def test_bad_reports_raise_report_error(golden: Path, new: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="nowhere"):
        compare_reports(golden, tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReportError, match="no manifest.json"):
        compare_reports(empty, new)
    (new / "manifest.json").write_text('{"schema_version": 1, "layers": [')
    with pytest.raises(ReportError, match="corrupt manifest"):
        compare_reports(golden, new)


def test_incompatible_schema_version(golden: Path, new: Path) -> None:
    edit_manifest(new, schema_version=2)
    with pytest.raises(ReportError, match="schema_version 2"):
        compare_reports(golden, new)


def test_missing_or_broken_table(golden: Path, new: Path) -> None:
    (new / "layers" / "layer2" / "iou.parquet").unlink()
    with pytest.raises(ReportError, match="missing table .*layer2/iou.parquet"):
        compare_reports(golden, new)
    (new / "layers" / "layer2" / "iou.parquet").write_bytes(b"not parquet")
    with pytest.raises(ReportError, match="cannot read table"):
        compare_reports(golden, new)
    pq.write_table(pa.table({"unit": [0]}), new / "layers" / "layer1" / "units.parquet")
    with pytest.raises(ReportError, match="lacks column"):
        compare_reports(new, golden)


def _write_index(report: Path, rows: list[tuple[str, float]]) -> None:
    (report / "concepts").mkdir(exist_ok=True)
    table = pa.table({"concept": [r[0] for r in rows], "ace": [r[1] for r in rows]})
    pq.write_table(table, report / "concepts" / "index.parquet")


def test_other_tables_align_by_key(golden: Path, new: Path) -> None:
    _write_index(golden, [("tree", 0.30), ("door", 0.10)])
    _write_index(new, [("door", 0.1015), ("tree", 0.30)])  # reordered, within ace_atol 0.002
    assert compare_reports(golden, new).passed
    _write_index(new, [("door", 0.20), ("tree", 0.30)])
    c = compare_reports(golden, new)
    (table,) = c.tables
    assert table.path == "concepts/index.parquet" and table.outside == 1
    assert table.value_changes[0].column == "ace"
    _write_index(new, [("door", 0.10)])
    assert "rows differ by concept" in (compare_reports(golden, new).tables[0].problem or "")


def test_json_and_markdown_diffs(golden: Path, new: Path, tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>|*x*"
    edit_units(new, "layer2", 3, concept=evil, iou=math.nan)
    c = compare_reports(golden, new)
    json_path, md_path = write_diffs(c)
    assert json_path == new / "compare" / "diff.json" and md_path == new / "compare" / "diff.md"
    data = json.loads(json_path.read_text())
    assert data["passed"] is False and data["failures"] == c.failures
    layer2 = next(layer for layer in data["layers"] if layer["name"] == "layer2")
    assert layer2["label_changes"][0]["new"] == evil
    assert layer2["label_changes"][0]["new_iou"] is None  # NaN is not JSON
    markdown = md_path.read_text()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "\\|\\*x\\*" in markdown  # no table break, no emphasis
    # The diff directory is not part of the next comparison.
    assert compare_reports(new, new).files_added == ()
    # Deterministic: the same comparison gives the same JSON.
    assert compare_reports(golden, new).to_dict() == c.to_dict()


def test_tolerances_are_validated() -> None:
    with pytest.raises(ConfigError, match="iou_atol"):
        Tolerances(iou_atol=-1)
    with pytest.raises(ConfigError, match="top_overlap"):
        Tolerances(top_overlap=2)


def test_other_json_documents(golden: Path, new: Path) -> None:
    doc = {"concept": "tree", "n": [1, 2, 4], "iou": [0.1, 0.2, 0.3], "optimized": None}
    for report in (golden, new):
        (report / "concepts" / "tree").mkdir(parents=True)
        (report / "concepts" / "tree" / "ace.json").write_text(json.dumps(doc))
    assert compare_reports(golden, new).passed
    doc_new = {**doc, "iou": [0.1, 0.2, 0.5], "concept": "door"}
    (new / "concepts" / "tree" / "ace.json").write_text(json.dumps(doc_new))
    (table,) = compare_reports(golden, new).tables
    assert table.path == "concepts/tree/ace.json" and table.outside == 2
    assert {v.column for v in table.value_changes} == {"concept", "iou"}
    (new / "concepts" / "tree" / "ace.json").write_text("{broken")
    with pytest.raises(ReportError, match="ace.json"):
        compare_reports(golden, new)


def test_a_config_field_added_later_reads_as_its_default() -> None:
    from dissect_report.compare.settings import diff_settings

    old = {"config": {"samples": 10}}  # made before --amp existed
    assert diff_settings(old, {"config": {"samples": 10, "amp": False}}) == ()
    changed = diff_settings(old, {"config": {"samples": 10, "amp": True}})
    assert [(c.key, c.golden, c.new) for c in changed] == [("config.amp", False, True)]

"""docs/report-format.md and the report models of dissect_report.reportdir.schema agree.

Each documented table (a ``| column | type | meaning |`` table under a heading naming its file)
must list exactly the model's columns and types, in order; the manifest example must validate
against the typed Manifest and name no key the model lacks. Change both or neither.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dissect_report.reportdir import schema
from dissect_report.reportdir.read import read_manifest, read_table
from dissect_report.reportdir.write import write_table
from dissect_report.testing import SyntheticSpec, write_synthetic_report

DOC = Path(__file__).resolve().parents[2] / "docs" / "report-format.md"


def _documented_tables() -> dict[str, list[tuple[str, str]]]:
    """``{file path as its heading names it: [(column, type), ...]}``."""
    tables: dict[str, list[tuple[str, str]]] = {}
    heading = ""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("#"):
            heading = lines[i].lstrip("#").strip().replace("&lt;", "<").replace("&gt;", ">")
        if lines[i].startswith("| column | type |"):
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split(" | ")]
                rows.append((cells[0], cells[1]))
                i += 1
            tables[heading.split()[0]] = rows
            continue
        i += 1
    return tables


def test_every_model_table_is_documented_with_its_columns_and_types() -> None:
    documented = _documented_tables()
    for path, columns in schema.TABLES.items():
        assert path in documented, f"docs/report-format.md has no column table for {path}"
        assert documented[path] == [(c.name, c.type) for c in columns], path
    assert set(documented) == set(schema.TABLES), "a documented table has no model"


def test_every_documented_type_is_an_arrow_type() -> None:
    for rows in _documented_tables().values():
        for _, spelled in rows:
            assert isinstance(schema.arrow_type(spelled), pa.DataType)


def test_the_manifest_example_follows_the_model() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"## manifest\.json\s+```json\n(.*?)\n```", text, re.S)
    assert block is not None
    example = json.loads(block.group(1))
    manifest = schema.Manifest.model_validate(schema.migrate(example, "example"))
    assert manifest.schema_version == schema.SCHEMA_VERSION
    extras = set(manifest.model_extra or {})
    # Keys the stages add (model_check, paint, ...) ride as extras; the model's own are typed.
    assert set(schema.Manifest.model_fields) - {"interventions", "artifacts"} <= set(example)
    for key in extras:
        assert f'"{key}"' in block.group(1)


def test_a_table_off_its_model_is_refused_before_it_is_written(tmp_path: Path) -> None:
    bad = pa.table({"unit": pa.array([0], pa.int64()), "concept": ["sky"]})  # int64, missing
    with pytest.raises(ValueError, match="does not follow reportdir.schema"):
        write_table(tmp_path / "iou.parquet", bad, schema.IOU)
    assert not (tmp_path / "iou.parquet").exists()


def test_older_manifest_forms_are_migrated(tmp_path: Path) -> None:
    root = write_synthetic_report(tmp_path / "r", layers={"a": 2}, images=False)
    raw = json.loads((root / "manifest.json").read_text())
    raw["concepts"] = [c["name"] for c in raw["concepts"]]  # bare names, no slugs or colors
    for entry in raw["layers"]:
        del entry["slug"], entry["units"]
    (root / "manifest.json").write_text(json.dumps(raw))
    m = read_manifest(root)
    assert m.concepts[0].slug == "sky" and m.concepts[0].color == schema.DEFAULT_COLOR
    assert m.layers[0].slug == "a" and m.layers[0].units == 2


def test_the_synthetic_report_has_the_features_of_real_ones(tmp_path: Path) -> None:
    root = write_synthetic_report(tmp_path / "r", SyntheticSpec(layers={"a": 10}))
    units = read_table(root / "layers" / "a" / "units.parquet")
    assert units.schema.equals(schema.arrow_schema(schema.UNITS))
    assert not all(units["interpretable"].to_pylist())  # non-interpretable units

    with np.load(root / "layers" / "a" / "stats.npz") as npz:
        edges, totals = npz["edges"], npz["concept_totals"]
    assert np.isneginf(edges[:, 0]).all() and np.isposinf(edges[:, -1]).all()
    assert totals[-1] == 0  # an empty concept


def test_a_table_row_is_one_type_its_columns_derive_from_its_fields():
    import math

    import pyarrow as pa

    from dissect_report.interventions.stage import ConceptResult
    from dissect_report.render.sections import ConceptIntervention
    from dissect_report.reportdir.schema import (
        CONCEPT_INDEX,
        ConceptIndexRow,
        from_table,
        required,
        to_table,
    )

    # the stage's result and the site's view are the row plus what its files hold
    assert issubclass(ConceptResult, ConceptIndexRow)
    assert issubclass(ConceptIntervention, ConceptIndexRow)
    assert required(ConceptIndexRow) == tuple(c.name for c in CONCEPT_INDEX[:8])
    row = ConceptIndexRow("tree", "tree", "layer4", 3, (5, 1), 2, 0.25, 0.1, share=0.4)
    table = to_table([row], ConceptIndexRow)
    assert table.column_names == [c.name for c in CONCEPT_INDEX]
    assert table.schema.field("top_units").type == pa.list_(pa.int32())
    back = from_table(table, ConceptIndexRow)[0]
    assert (back.concept, back.top_units, back.share, back.insert_sites) == ("tree", (5, 1), 0.4, 0)
    # a report written before a column existed reads it as the field's default
    old = from_table(
        table.drop_columns(["share", "insert_sites", "compare_samples"]), ConceptIndexRow
    )
    assert math.isnan(old[0].share) and old[0].insert_sites == 0 and old[0].compare_samples == ()


def _sample_value(spelled: str, k: int) -> object:
    if spelled.startswith("list<"):
        return (_sample_value(spelled[5:-1], k), _sample_value(spelled[5:-1], k + 1))
    return {"int32": k, "int64": k, "float64": k + 0.5, "string": f"v{k}", "bool": k % 2 == 1}[
        spelled
    ]


@pytest.mark.parametrize("rel", sorted(schema.ROW_TYPES))
def test_every_row_type_is_a_documented_table_and_reads_back_what_it_wrote(rel: str) -> None:
    from dataclasses import fields

    row_type = schema.ROW_TYPES[rel]
    assert schema.row_type_at(rel.replace("*", "some-slug")) is row_type
    assert schema.columns(row_type) in schema.TABLES.values(), rel
    rows = [
        row_type(
            **{
                f.name: _sample_value(f.metadata["arrow"], k + i)
                for i, f in enumerate(fields(row_type))
            }
        )
        for k in range(3)
    ]
    table = schema.to_table(rows, row_type)
    assert table.schema.equals(schema.arrow_schema(schema.columns(row_type)))
    assert schema.from_table(table, row_type) == rows


def test_a_nan_as_null_column_writes_null_and_reads_nan() -> None:
    import math

    row = schema.SampleUnitRow(sample=3, layer="layer3", rank=1, unit=7, peak=2.0, ratio=math.nan)
    table = schema.to_table([row], schema.SampleUnitRow)
    assert table["ratio"].to_pylist() == [None] and table["peak"].to_pylist() == [2.0]
    assert math.isnan(schema.from_table(table, schema.SampleUnitRow)[0].ratio)


def test_compare_rules_name_columns_of_their_row_types() -> None:
    from dissect_report.compare.rules import rule_for

    assert rule_for("layers/layer3/examples.parquet", "sample").basis == ("peak",)
    assert rule_for("concepts/tree/optimized.parquet", "alpha").kind == "unstable"
    assert rule_for("concepts/tree/ace.parquet", "units").kind == "ids"
    assert rule_for("concepts/index.parquet", "units").kind == "derived"
    with pytest.raises(AssertionError, match="ExampleRow has no column"):
        schema.column_names(schema.ExampleRow, "sample", "peak_activation")

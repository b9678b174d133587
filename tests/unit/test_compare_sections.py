"""Interventions and artifacts tables: their own tolerances, ranks and flags through the
numbers behind them, id lists by overlap (compare.rules)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dissect_report.compare import compare_reports
from dissect_report.testing import write_synthetic_report


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    golden = write_synthetic_report(tmp_path / "golden", layers={"layer1": 4})
    return golden, Path(shutil.copytree(golden, tmp_path / "new"))


def artifact_units(report: Path, scores: list[float], gains: list[float], repaired: list[bool]):
    """artifacts/units.parquet in the stage's layout: ranked by score, worst first."""
    order = sorted(range(len(scores)), key=lambda u: -scores[u])
    table = pa.table(
        {
            "unit": pa.array(order, pa.int32()),
            "rank": pa.array(range(1, len(order) + 1), pa.int32()),
            "score": [scores[u] for u in order],
            "fsd": [0.5 + scores[u] / 10 for u in order],
            "ablation_gain": [gains[u] for u in order],
            "repaired": [repaired[u] for u in order],
            "top_samples": [[u, u + 1, u + 2, u + 3] for u in order],
        }
    )
    (report / "artifacts").mkdir(exist_ok=True)
    pq.write_table(table, report / "artifacts" / "units.parquet")


def test_rank_swap_of_near_equal_scores_is_a_note(pair: tuple[Path, Path]) -> None:
    golden, new = pair
    artifact_units(golden, [2.0, 1.5001, 1.5, 0.1], [0.02, 0.0, 0.0, 0.0], [True] + [False] * 3)
    artifact_units(new, [2.0, 1.5, 1.5002, 0.1], [0.02, 0.0, 0.0, 0.0], [True] + [False] * 3)
    c = compare_reports(golden, new)
    assert c.passed, c.summary()
    notes = {(n.fact, n.unit) for n in c.notes}
    assert notes == {("rank", 1), ("rank", 2)}
    assert "unit 1 rank 2 -> 3: within tolerance, near a boundary (score 1.5001 -> 1.5" in (
        c.summary()
    )
    # A unit whose score really moved changes rank for a reason: a failure.
    artifact_units(new, [2.0, 1.5001, 2.5, 0.1], [0.02, 0.0, 0.0, 0.0], [True] + [False] * 3)
    c = compare_reports(golden, new)
    assert not c.passed
    (table,) = c.tables
    changed = {(v.column, v.unit) for v in table.value_changes}
    assert ("score", 2) in changed and ("rank", 2) in changed
    assert ("rank", 0) in {(n.fact, n.unit) for n in table.notes}  # pushed down, score the same


def test_repair_membership_through_its_gain(pair: tuple[Path, Path]) -> None:
    golden, new = pair
    scores = [2.0, 1.0, 0.5, 0.1]
    artifact_units(golden, scores, [0.0101, 0.0, 0.0, 0.0], [True, False, False, False])
    artifact_units(new, scores, [0.0099, 0.0, 0.0, 0.0], [False, False, False, False])
    c = compare_reports(golden, new)  # min_gain 0.01 sits between: a boundary flip
    assert c.passed and [(n.fact, n.unit) for n in c.notes] == [("repaired", 0)]
    artifact_units(new, scores, [-0.2, 0.0, 0.0, 0.0], [False, False, False, False])
    c = compare_reports(golden, new)
    assert not c.passed
    assert {v.column for v in c.tables[0].value_changes} == {"ablation_gain", "repaired"}


def ace_table(report: Path, units: list[int], ace: float, share: float) -> None:
    table = pa.table(
        {
            "method": ["iou"],
            "n": pa.array([len(units)], pa.int32()),
            "units": pa.array([units], pa.list_(pa.int32())),
            "ace": [ace],
            "share": [share],
        }
    )
    (report / "concepts" / "tree").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, report / "concepts" / "tree" / "ace.parquet")
    doc = {"concept": "tree", "n": [len(units)], "iou": [ace], "all": ace * 2}
    (report / "concepts" / "tree" / "ace.json").write_text(json.dumps(doc))


def test_ace_tolerances_and_unit_sets(pair: tuple[Path, Path]) -> None:
    golden, new = pair
    ace_table(golden, [3, 1, 2, 0], 0.1000, 0.40)
    ace_table(new, [3, 1, 0, 2], 0.1004, 0.42)  # near-tied units swap, ACE within ±0.002
    c = compare_reports(golden, new)
    assert c.passed, c.summary()
    ace_table(new, [3, 1, 2, 5], 0.1004, 0.42)  # one unit of four replaced: 75% kept, a note
    c = compare_reports(golden, new)
    assert c.passed and [n.fact for n in c.notes] == ["units"]
    ace_table(new, [7, 6, 5, 3], 0.1004, 0.42)  # another unit set: 25% kept
    assert not compare_reports(golden, new).passed
    ace_table(new, [3, 1, 2, 0], 0.1100, 0.40)  # the ACE moved by 0.01: in both files
    c = compare_reports(golden, new)
    assert {t.path: t.outside for t in c.tables} == {
        "concepts/tree/ace.parquet": 1,
        "concepts/tree/ace.json": 2,  # iou [0.1] and all 0.2 -> 0.22
    }


def test_units_swapped_at_the_same_ratio_are_renamed_not_near_a_boundary(
    pair: tuple[Path, Path],
) -> None:
    golden, new = pair

    def sample_units(report: Path, units: list[int]) -> None:
        table = pa.table(
            {
                "sample": pa.array([0] * 2 + [1] * 2, pa.int32()),
                "layer": ["layer1"] * 4,
                "rank": pa.array([1, 2, 1, 2], pa.int32()),
                "unit": pa.array(units, pa.int32()),
                "ratio": [13.4912, 2.0, 13.4912, 3.0],
            }
        )
        (report / "samples").mkdir(exist_ok=True)
        pq.write_table(table, report / "samples" / "units.parquet")

    sample_units(golden, [1, 2, 1, 0])
    sample_units(new, [3, 2, 3, 0])  # unit 1 renamed 3: the same ratio under another id
    c = compare_reports(golden, new)
    (table,) = c.tables
    assert not table.notes  # no "within tolerance, near a boundary (ratio 13.49 -> 13.49)"
    assert [(v.column, v.golden, v.new) for v in table.value_changes] == [("unit", 1, 3)] * 2
    assert "another unit at the same ratio 13.4912: ids renamed" in c.summary()

"""compare_findings on synthetic reports: ACE and artifact rows, concepts lost, units relabelled
(matched by IoU profile, no model), and the JSON and text outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from dissect_report.compare import compare_findings
from dissect_report.testing import SyntheticSpec, edit_units, write_synthetic_report

SPEC = SyntheticSpec(layers=("layer1",), units=6, interventions=True, artifacts=True)


def test_findings_of_two_synthetic_reports(tmp_path: Path) -> None:
    a = write_synthetic_report(tmp_path / "a", SPEC)
    b = Path(shutil.copytree(a, tmp_path / "b"))
    units = pq.read_table(a / "layers" / "layer1" / "units.parquet").to_pylist()
    labels = {r["unit"]: r["concept"] for r in units if r["interpretable"]}
    sky = next(u for u, c in labels.items() if c == "sky")
    other = next(u for u, c in labels.items() if c not in ("sky", "door"))
    # the only sky unit: sky lost, a label guard refused it
    edit_units(
        b, "layer1", sky, interpretable=False, refused_concept="sky", refused_reason="chance level"
    )
    edit_units(b, "layer1", other, concept="door")  # relabelled
    found = compare_findings(a, b, match="iou")
    assert found.gained_lost[["concept", "change"]].values.tolist() == [["sky", "lost"]]
    changes = {(r["unit_before"], r["change"]) for r in found.changed.to_dict("records")}
    assert changes == {(sky, "lost"), (other, "relabelled")}
    assert set(found.matches["method"]) == {"iou"}
    assert (found.matches["unit_before"] == found.matches["unit_after"]).all()
    assert set(found.ace["report"]) == {"a", "b"} and len(found.ace) % 2 == 0
    repaired = found.artifacts.set_index("report")["repaired"].to_dict()
    assert repaired["a"] == repaired["b"] and repaired["a"]
    counts = found.units_per_concept()
    assert counts.loc["door", ("b", "layer1")] == counts.loc["door", ("a", "layer1")] + 1
    text = found.summary()
    assert "lost sky (1 -> 0 units)" in text
    iou = units[sky]["iou"]
    assert (
        f"unit {sky} -> {sky}: lost: sky ({iou:.3f}) -> sky ({iou:.3f}) refused (chance level)"
        in (text)
    ), text
    assert "no recorded setting differs" in text
    data = json.loads(json.dumps(found.to_dict(), allow_nan=False))
    assert data["format"] == "dissect-report-findings"
    assert len(data["matches"]) == 6

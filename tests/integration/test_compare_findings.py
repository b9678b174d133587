"""`compare --findings`: two checkpoints of one generator, and two architectures with other
layer names (the built-in world against a small DCGAN), each with the counts asserted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from safetensors.torch import save_file

from dissect_report.cli import main
from dissect_report.compare import compare_findings
from dissect_report.config import DissectConfig
from dissect_report.dissection.stage import dissect
from dissect_report.reportdir.report import open_report
from dissect_report.world.weights import WEIGHTS_DIR, load_generator

pytestmark = pytest.mark.skipif(
    not (WEIGHTS_DIR / "generator.safetensors").is_file(), reason="built-in weights missing"
)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))  # small_dcgan

SMALL = {"samples": 48, "calibration_samples": 16, "top_k": 2, "batch_size": 48}
SWAP = (1, 3)  # layer3 units that trade places in the later checkpoint


def _counts(report: Path, layer: str) -> dict[str, int]:
    units = open_report(report).units(layer)
    return units[units["interpretable"]]["concept"].value_counts().to_dict()


def _later_checkpoint(path: Path, dead: int) -> Path:
    """The built-in weights with layer3 units 1 and 3 swapped (layer4 reads them swapped back:
    the same images) and unit ``dead`` silenced (its BatchNorm scale and shift zeroed)."""
    state = {k: v.clone() for k, v in load_generator().state_dict().items()}
    order = list(range(state["layer3.0.weight"].shape[1]))
    order[SWAP[0]], order[SWAP[1]] = SWAP[1], SWAP[0]
    state["layer3.0.weight"] = state["layer3.0.weight"][:, order]  # ConvTranspose: (in, out)
    for key in ("weight", "bias", "running_mean", "running_var"):
        state[f"layer3.1.{key}"] = state[f"layer3.1.{key}"][order]
    state["layer4.0.weight"] = state["layer4.0.weight"][order]
    state["layer3.1.weight"][dead] = 0.0
    state["layer3.1.bias"][dead] = 0.0
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("findings") / "early"
    config = DissectConfig(layers=("layer3", "layer4"), **SMALL)
    return dissect(config, out, images=False).report_dir


def test_two_checkpoints_match_their_units_and_name_what_changed(
    world: Path, tmp_path: Path
) -> None:
    early = _counts(world, "layer3")
    units = open_report(world).units("layer3")
    good = units[units["interpretable"] & ~units["unit"].isin(SWAP)]
    dead, dead_concept = int(good["unit"].iloc[0]), str(good["concept"].iloc[0])
    weights = _later_checkpoint(tmp_path / "late.safetensors", dead)
    config = DissectConfig(layers=("layer3", "layer4"), weights=str(weights), **SMALL)
    late = dissect(config, tmp_path / "late", images=False).report_dir

    for match in ("activation", "iou"):
        found = compare_findings(world, late, match=match)
        assert found.names == ("early", "late")
        counts = found.units_per_concept()
        expected = dict(early)
        expected[dead_concept] -= 1  # the silenced unit is no longer interpretable
        assert {k: v for k, v in counts[("early", "layer3")].items() if v} == early
        assert {k: v for k, v in counts[("late", "layer3")].items() if v} == {
            k: v for k, v in expected.items() if v
        }
        m = found.matches[found.matches["layer"] == "layer3"]
        assert set(m["method"]) == {match}
        moved = m[m["unit_before"] != m["unit_after"]]
        assert sorted(zip(moved["unit_before"], moved["unit_after"], strict=True)) == [
            (1, 3),
            (3, 1),
        ]  # the swapped units are found under their new index, not called relabelled
        changed = found.changed[found.changed["layer"] == "layer3"]  # layer4 sees the change
        rows = changed[["unit_before", "unit_after", "change"]].to_records(index=False)
        assert [tuple(r) for r in rows] == [(dead, dead, "lost")]
        assert changed["concept_before"].tolist() == [dead_concept]
    keys = [s.key for s in found.settings[0][2]]
    assert "model.state_sha256" in keys and "model.weights_sha256" in keys
    assert f"unit {dead} -> {dead}: lost: {dead_concept}" in found.summary()


def test_two_architectures_with_other_layer_names(world: Path, tmp_path: Path) -> None:
    config = DissectConfig(
        generator="small_dcgan:make_generator", layers=("main.8", "main.11"), **SMALL
    )
    dcgan = dissect(config, tmp_path / "dcgan", images=False).report_dir
    found = compare_findings(world, dcgan, names=["world", "dcgan"])
    counts = found.units_per_concept()
    # main.8 computes what layer3 computes: the same units per concept, under other names
    assert counts[("dcgan", "main.8")].to_dict() == counts[("world", "layer3")].to_dict()
    assert counts[("dcgan", "main.11")].to_dict() == counts[("world", "layer4")].to_dict()
    assert {k: v for k, v in counts[("world", "layer4")].items() if v} == _counts(world, "layer4")
    assert found.matches.empty  # no layer of the same name: units are not matched
    assert found.gained_lost.empty
    layers = found.layers.set_index(["report", "layer"])
    assert layers.loc[("dcgan", "main.8"), "units"] == 128
    # the CLI prints the same table and writes the JSON
    out = tmp_path / "findings.json"
    assert main(["compare", "--findings", str(world), str(dcgan), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {(r["report"], r["layer"]) for r in data["layers"]} == {
        ("early", "layer3"),
        ("early", "layer4"),
        ("dcgan", "main.8"),
        ("dcgan", "main.11"),
    }


def test_findings_need_two_reports(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(world), str(world), str(world)]) == 2
    assert "more need --findings" in capsys.readouterr().err

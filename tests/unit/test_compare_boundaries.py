"""Derived facts on a boundary: a report of the real pipeline, a few pixels relabelled.

The built-in world is dissected once at a small size; the "new" report is the same report
with ``k`` segmentation pixels of one unit relabelled in its ``stats.npz`` and its tables
recomputed and rewritten by the pipeline's own scoring and writer. A few pixels that flip
a flag or a near-tie concept are float noise and must not fail; many pixels must.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dissect_report.cli import main
from dissect_report.config import DissectConfig
from dissect_report.dissection.results import LayerResult
from dissect_report.dissection.stage import dissect
from dissect_report.dissection.stats import LayerState
from dissect_report.dissection.thresholds import score_units
from dissect_report.reportdir.read import read_state
from dissect_report.reportdir.write import write_layer
from dissect_report.world.weights import WEIGHTS_DIR

pytestmark = pytest.mark.skipif(
    not (WEIGHTS_DIR / "generator.safetensors").is_file(), reason="built-in weights missing"
)

LAYER = "layer3"
# quantile: one threshold per unit, so moving k pixels of its mask moves its IoU by k / union
CONFIG = DissectConfig(
    layers=(LAYER,), samples=64, calibration_samples=32, top_k=3, policy="quantile"
)


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("boundary") / "golden"
    return dissect(CONFIG, out, images=False).report_dir


def _state(report: Path) -> LayerState:
    return read_state(report / "layers" / LAYER / "stats.npz")


def _scores(state: LayerState):  # noqa: ANN202 - thresholds.UnitScores
    return score_units(state, CONFIG.policy, CONFIG.level)


def relabel(golden: Path, out: Path, unit: int, src: int, dst: int, k: int) -> Path:
    """Copy ``golden`` to ``out`` with ``k`` pixels of ``unit``'s mask relabelled src -> dst.

    The pixels are taken from the bins at or above the unit's threshold (inside its mask),
    so the mask and threshold stay and only the IoUs with ``src`` and ``dst`` move. The
    tables are recomputed and written by the pipeline (``score_units``, ``write_layer``).
    """
    shutil.copytree(golden, out)
    state = _state(golden)
    counts, totals = state.counts.copy(), state.concept_totals.copy()
    left = k
    for b in range(int(_scores(state).bin[unit]), counts.shape[1]):
        take = min(left, int(counts[unit, b, src]))
        counts[unit, b, src] -= take
        counts[unit, b, dst] += take
        left -= take
    assert left == 0, f"unit {unit} has fewer than {k} pixels of concept {src} in its mask"
    totals[src] -= k
    totals[dst] += k
    arrays = {**state.arrays(), "counts": counts, "concept_totals": totals}
    new_state = LayerState.from_arrays(arrays)
    manifest = json.loads((golden / "manifest.json").read_text())
    entry = next(e for e in manifest["layers"] if e["name"] == LAYER)
    concepts = [c["name"] for c in manifest["concepts"]]
    colors = [c["color"] for c in manifest["concepts"]]
    layer = LayerResult(
        LAYER,
        entry["slug"],
        tuple(entry["shape"]),  # type: ignore[arg-type]
        new_state,
        _scores(new_state),
        CONFIG.iou_floor,
    )
    write_layer(out / "layers" / entry["slug"], layer, concepts, colors)
    return out


def _union(state: LayerState, unit: int, concept: int, iou: float) -> float:
    """|mask| + |concept| - |mask & concept| of a unit at its threshold."""
    bin_ = int(_scores(state).bin[unit])
    inter = float(state.counts[unit, bin_:, concept].sum())
    mask = float(state.unit_hist[unit, bin_:].sum())
    return mask + float(state.concept_totals[concept]) - inter if iou >= 0 else mask


def compare(golden: Path, new: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["compare", str(golden), str(new), "--no-diff-files"])
    return code, capsys.readouterr().out


def test_interpretable_flag_flip_by_a_few_pixels_is_a_boundary_note(
    golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _state(golden)
    scores = _scores(state)
    best = scores.iou.argmax(axis=1)
    ious = scores.iou[np.arange(state.units), best]
    above = np.where(ious >= CONFIG.iou_floor, ious - CONFIG.iou_floor, np.inf)
    unit = int(np.argmin(above))  # the interpretable unit nearest the floor
    src = int(best[unit])
    # The concept with the largest union (sky, grass): its IoU rises least, so the pixels
    # take the unit below the floor without making another concept its best.
    others = [c for c in range(len(state.concept_totals)) if c != src]
    dst = max(others, key=lambda c: _union(state, unit, c, float(scores.iou[unit, c])))
    # Moving pixels out of src keeps the union: the IoU drops by exactly k / union.
    k = int(above[unit] * _union(state, unit, src, float(ious[unit]))) + 1
    new = relabel(golden, tmp_path / "new", unit, src, dst, k)
    new_iou = _scores(_state(new)).iou[unit, src]
    assert new_iou < CONFIG.iou_floor <= ious[unit]  # the flag flips ...
    assert ious[unit] - new_iou < 0.01  # ... on a move far inside the 0.02 tolerance
    pixels = int(state.concept_totals.sum())
    assert k < pixels * 1e-3, (k, pixels)

    code, out = compare(golden, new, capsys)
    assert code == 0, out
    assert f"unit {unit} interpretable true -> false: within tolerance, near a boundary" in out
    assert "PASS" in out.splitlines()[0]

    # The same unit's IoU pushed down by 0.03: a real change, and it fails.
    big = int(0.03 * _union(state, unit, src, float(ious[unit])))
    far = relabel(golden, tmp_path / "far", unit, src, dst, big)
    code, out = compare(golden, far, capsys)
    assert code == 1, out
    name = json.loads((golden / "manifest.json").read_text())["concepts"][src]["name"]
    assert f"unit {unit} / {name} iou" in out, out


def test_near_tie_concept_change_by_a_few_pixels_is_a_boundary_note(
    golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _state(golden)
    scores = _scores(state)
    order = np.argsort(-scores.iou, axis=1, kind="stable")
    rows = np.arange(state.units)
    margins = scores.iou[rows, order[:, 0]] - scores.iou[rows, order[:, 1]]
    margins[scores.iou[rows, order[:, 1]] <= 0] = np.inf  # a second concept it overlaps
    unit = int(np.argmin(margins))
    first, second = int(order[unit, 0]), int(order[unit, 1])
    # Moving k pixels first -> second keeps both unions: first loses k / u1, second gains
    # k / u2; the smallest k that makes second the best concept.
    u1 = _union(state, unit, first, float(scores.iou[unit, first]))
    u2 = _union(state, unit, second, float(scores.iou[unit, second]))
    k = int(margins[unit] / (1 / u1 + 1 / u2)) + 1
    new = relabel(golden, tmp_path / "new", unit, first, second, k)
    new_scores = _scores(_state(new))
    assert int(new_scores.iou[unit].argmax()) == second  # the best concept changed
    concepts = [c["name"] for c in json.loads((golden / "manifest.json").read_text())["concepts"]]
    assert k < int(state.concept_totals.sum()) * 1e-3

    code, out = compare(golden, new, capsys)
    assert code == 0, out
    assert (
        f"unit {unit} concept {concepts[first]} -> {concepts[second]}: within tolerance, "
        "near a boundary (margin between" in out
    )

    # Many pixels relabelled: the unit really draws the other concept now.
    far = relabel(golden, tmp_path / "far", unit, first, second, int(0.025 / (1 / u1 + 1 / u2)) + k)
    code, out = compare(golden, far, capsys)
    assert code == 1, out
    assert f"unit {unit}: {concepts[first]} (iou" in out and "concept changed (1)" in out

"""The project's own golden reports: an unintended change to the numbers fails CI with a diff.

Goldens live in ``tests/golden/golden/<name>/`` (tables, manifest and unit strips only).
Regenerate after an intended change with::

    pytest tests/golden --update-golden    # then review `git diff --stat tests/golden` and commit
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dissect_report.config import DissectConfig
from dissect_report.dissection import dissect

GOLDEN_ROOT = Path(__file__).parent / "golden"
MAX_GOLDEN_BYTES = 5 * 1024 * 1024

# The built-in world: few layers, few samples, small strips (top_k tiles per strip).
BUILTIN = DissectConfig(
    layers=("layer3", "layer4"), samples=128, calibration_samples=64, top_k=3, batch_size=64
)

# The planted toy of tests/dissect_toys.py: tiny, and needs no trained weights.
PLANTED = DissectConfig(
    generator="dissect_toys:planted_generator",
    segmenter="dissect_toys:planted_segmenter",
    layers=("features",),
    samples=120,
    calibration_samples=40,
    top_k=4,
    batch_size=32,
)


def _builtin_weights_missing() -> bool:
    from dissect_report.world.weights import WEIGHTS_DIR

    return not all(
        (WEIGHTS_DIR / f"{name}.safetensors").is_file() for name in ("generator", "segmenter")
    )


def test_planted_toy_matches_golden(dissect_golden, tmp_path: Path) -> None:
    dissect_golden.check(lambda out: dissect(PLANTED, out).report_dir, name="planted")


@pytest.mark.slow
@pytest.mark.skipif(_builtin_weights_missing(), reason="built-in world weights not trained yet")
def test_builtin_world_matches_golden(dissect_golden) -> None:
    dissect_golden.check(lambda out: dissect(BUILTIN, out).report_dir, name="builtin")


def test_goldens_stay_small() -> None:
    for golden in sorted(p for p in GOLDEN_ROOT.glob("*") if not p.name.endswith(".obtained")):
        size = sum(f.stat().st_size for f in golden.rglob("*") if f.is_file())
        assert size < MAX_GOLDEN_BYTES, f"{golden} is {size / 2**20:.1f} MiB; shrink its config"

"""bench/bench_gpu.py runs end to end on a CPU at tiny size (its --dry-run), as CI checks it.

On a GPU machine the same script measures ``run --device cuda``; here it proves the script
works: both models run on the CPU twice, compare exits 0, every figure is filled in.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_gpu  # noqa: E402


def test_the_gpu_benchmark_dry_run(tmp_path: Path) -> None:
    assert bench_gpu.main(["--dry-run", "--out", str(tmp_path)]) == 0
    info = json.loads((tmp_path / "bench_gpu.json").read_text())
    assert info["device"] == "cpu" and info["dry_run"] is True
    rows = {r["name"]: r for r in info["rows"]}
    assert set(rows) == {"built-in world", "32 px stand-in"}
    for row in rows.values():
        assert row["compare_exit"] == 0
        assert row["forward_samples_per_s"] > 0 and row["pass_samples_per_s"] > 0
        assert row["gpu_peak_mib"] is None  # no GPU in a dry run
    world = rows["built-in world"]["stages_s"]
    assert {"dissect_s", "visualize_s", "intervene_s", "artifacts_s", "paint_s"} <= set(world)

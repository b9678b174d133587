"""A small report of the built-in world made by ``dissect-report run`` itself (shared by tests).

Usage (a pytest fixture in tests/conftest.py)::

    def test_x(real_report: Path) -> None:
        (real_report / "site" / "index.html").is_file()

Real pipeline, small sizes: one layer (64 units, so a browser can walk every unit page), 120 samples, no interventions or
artifacts (those stages have their own tests); about 30 s on two cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RUN_ARGS = (
    "--samples",
    "120",
    "--batch-size",
    "40",
    "--top-k",
    "5",
    "--calibration-samples",
    "32",
    "--layers",
    "layer4",
    "--no-interventions",
    "--no-artifacts",
    "-q",
)


def make_real_report(out: Path) -> Path:
    """Run ``dissect-report run`` into ``out``; returns ``out`` (with ``out/site``)."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    cmd = [sys.executable, "-m", "dissect_report", "run", "--out", str(out), *RUN_ARGS]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dissect-report run failed ({done.returncode}): {done.stderr[-2000:]}")
    return out

"""The Ray engine on a real multi-node cluster (``ray start``: a head without CPUs and two
one-CPU worker nodes), run as a user would: the CLI in its own process, joining by address.

What a lab's cluster does to a long run, and what must come of it:

- a node killed mid-pass: the run finishes, tables identical to a local run;
- a shard raising once: Ray retries it, tables identical;
- a shard raising every time: one line, exit 2, the finished shards kept; ``--resume`` runs
  only the rest and the tables are identical;
- a factory module only the driver can import: shipped to the nodes (every test here relies
  on it: the toys are on the driver's ``PYTHONPATH`` only); a module it imports that is not
  shipped: one line naming the node, the module and the fix;
- ``--workers`` above the cluster's CPUs: the extra tasks wait for a CPU, the run finishes;
- work that can never start (``--device cuda`` without GPUs): one line after the stall bound.

One cluster serves the module (``xdist_group``: tests/conftest.py makes ``-n`` keep a group on
one worker), and every run has a bounded ``--stall-timeout`` and a subprocess timeout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="the Ray engine tests need Ray: pip install -e '.[test]'")

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))
from dissect_toys import assert_same_tables  # noqa: E402
from ray_cluster import LocalCluster  # noqa: E402

from dissect_report.config import DissectConfig  # noqa: E402
from dissect_report.dissection.stage import dissect  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray_cluster")]

TOY = {
    "generator": "ray_toys:flaky_generator",
    "segmenter": "dissect_toys:planted_segmenter",
    "layers": ("features",),
    "samples": 120,
    "batch_size": 10,
    "calibration_samples": 20,
}
RUN_TIMEOUT_S = 240  # a run on a slow machine; the stall bound below is far shorter
STALL_S = "150"  # a loaded 2-core CI machine once took over 60 s to start a shard


def _flags(**changes: str) -> list[str]:
    values = {**TOY, "layers": "features", **changes}
    out = []
    for key, value in values.items():
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Head + 2 one-CPU nodes; the nodes see the package but not the tests' modules."""
    markers = tmp_path_factory.mktemp("markers")
    env = {
        "PYTHONPATH": str(ROOT),
        "RAY_AUTH_MODE": "disabled",  # a local test cluster; no ~/.ray/auth_token to race for
        "DR_TEST_MARKERS": str(markers),
        "OMP_NUM_THREADS": "1",
    }
    with LocalCluster(nodes=2, env=env) as running:
        running.markers = markers  # type: ignore[attr-defined]
        running.driver_env = {  # type: ignore[attr-defined]
            **os.environ,
            **env,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]),
        }
        yield running


@pytest.fixture(scope="module")
def local_tables(tmp_path_factory):
    """The single-process report every cluster run must equal."""
    out = tmp_path_factory.mktemp("local") / "report"
    dissect(DissectConfig(**TOY), out, images=False)
    return out


def _dissect(
    cluster, out: Path, *extra: str, env: dict[str, str] | None = None, **changes: str
) -> subprocess.Popen:
    args = [
        sys.executable, "-m", "dissect_report.cli", "-q", "dissect", *_flags(**changes),
        "--no-images", "--engine", "ray", "--address", cluster.address,
        "--stall-timeout", STALL_S, "--out", str(out), *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        args,
        env=env or cluster.driver_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the run did not end within {RUN_TIMEOUT_S} s: {err[-2000:]}")
    return proc.returncode, err


def _run(cluster, out: Path, *extra: str, **changes: str) -> tuple[int, str]:
    return _finish(_dissect(cluster, out, *extra, **changes))


def _flag(cluster, name: str):
    return cluster.markers / name


def test_workers_above_the_cluster_finish(cluster, local_tables, tmp_path):
    out = tmp_path / "ray"
    started = time.monotonic()
    code, err = _run(cluster, out, "--workers", "6", "--shards", "6")
    assert code == 0, err
    assert time.monotonic() - started < RUN_TIMEOUT_S
    assert_same_tables(local_tables, out)


def test_a_shard_raising_once_is_retried(cluster, local_tables, tmp_path):
    _flag(cluster, "raise_once").touch()
    try:
        code, err = _run(cluster, tmp_path / "ray", "--shards", "4")
    finally:
        _flag(cluster, "raise_once").unlink()
    assert code == 0, err
    assert _flag(cluster, "raised_once").exists()  # it really raised
    assert_same_tables(local_tables, tmp_path / "ray")


def test_a_shard_raising_always_keeps_the_others_for_resume(cluster, local_tables, tmp_path):
    out = tmp_path / "ray"  # made by the run: a failed shard must not remove it
    _flag(cluster, "raise_always").touch()
    try:
        code, err = _run(cluster, out, "--shards", "4")
    finally:
        _flag(cluster, "raise_always").unlink()
    assert code == 2, err
    assert err.count("\n") == 1 and len(err) < 400, err
    # sample 100 is in shard 4/4 (samples 90..119)
    assert err.startswith("error: shard 4/4 (samples 90..119) failed on Ray after"), err
    assert "flaky storage (test): always" in err and "--resume" in err, err
    assert (out / ".partial" / "ray.npz").exists() and not (out / "manifest.json").exists()
    with np.load(out / ".partial" / "ray.npz") as saved:
        assert json.loads(bytes(saved["meta"]))["done"] == [0, 1, 2]
    code, err = _run(cluster, out, "--shards", "4", "--resume")
    assert code == 0, err
    assert_same_tables(local_tables, out)


def test_a_module_only_the_driver_has_is_one_line(cluster, tmp_path):
    driver_only = tmp_path / "driver_only"
    driver_only.mkdir()
    (driver_only / "lab_models.py").write_text(
        "import lab_helpers\nfrom dissect_toys import planted_generator as make\n"
    )
    (driver_only / "lab_helpers.py").write_text("")
    env = dict(cluster.driver_env)
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(driver_only)])
    out = tmp_path / "ray"
    code, err = _finish(_dissect(cluster, out, env=env, generator="lab_models:make"))
    assert code == 2, err
    assert err.count("\n") == 1, err
    line = err.strip()
    # lab_models.py is shipped (a factory's module); lab_helpers, which it imports, is not
    assert re.match(r"error: Ray node [\d.]+ cannot import 'lab_models' ", line), line
    assert "no module named 'lab_helpers'" in line, line
    assert f'--runtime-env \'{{"py_modules": ["{driver_only / "lab_helpers.py"}"]}}\'' in line
    assert not out.exists()  # nothing was finished: nothing kept


def test_a_cluster_without_the_device_stops_at_the_stall_bound(cluster, tmp_path):
    # --device cuda on a cluster without GPUs (a CPU-only driver is allowed: the workers
    # calibrate): nothing can ever start, so the run stops after --stall-timeout, in one line.
    out = tmp_path / "ray"
    started = time.monotonic()
    code, err = _run(cluster, out, "--device", "cuda", "--stall-timeout", "8")
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert re.match(
        r"error: no progress on Ray for \d+ s \(stall_timeout; 1 task\(s\) waiting, "
        r"0 of 0 GPUs free\); no shard had finished$",
        err.strip(),
    ), err
    assert time.monotonic() - started < 8 + RUN_TIMEOUT_S / 2
    assert not out.exists()  # nothing finished: nothing kept


def test_a_node_killed_mid_pass_loses_nothing(cluster, local_tables, tmp_path):
    # Last in this module: the cluster has one node left afterwards.
    out = tmp_path / "ray"
    proc = _dissect(cluster, out, "--shards", "6", generator="ray_toys:slow_generator")
    victim = _flag(cluster, "batch.2")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not victim.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert victim.exists(), "node 2 never ran a batch"
    cluster.kill_node(2)
    code, err = _finish(proc)
    assert code == 0, err
    # -q: the report's own caveats only; no raylet dumps, no forwarded worker tracebacks
    assert not re.search(r"(?i)\b(ray|raylet|traceback|worker|node)\b", err), err
    assert_same_tables(local_tables, out)

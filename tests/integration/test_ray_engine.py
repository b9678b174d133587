"""The Ray engine on a real local Ray cluster (2 CPUs): same tables, retried tasks, resume.

The generators and segmenters below misbehave only in Ray worker processes (never in the
test's own process, which calibrates and draws the images), so a crash hits a shard.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the Ray engine tests need Ray: pip install -e '.[test]'")

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))
from dissect_toys import Planted, PlantedSegmenter, assert_same_tables  # noqa: E402

from dissect_report.cli import main  # noqa: E402
from dissect_report.config import DissectConfig  # noqa: E402
from dissect_report.dissection.stage import dissect  # noqa: E402
from dissect_report.sampler import latents  # noqa: E402

PLANTED = {
    "generator": "dissect_toys:planted_generator",
    "segmenter": "dissect_toys:planted_segmenter",
    "layers": ("features",),
    "samples": 120,
    "batch_size": 16,
    "calibration_samples": 32,
}
TOY_FLAGS = [
    "--generator", "dissect_toys:planted_generator",
    "--segmenter", "dissect_toys:planted_segmenter",
    "--layers", "features",
    "--samples", "120",
    "--batch-size", "16",
    "--calibration-samples", "32",
    "--no-images",
]  # fmt: skip
DRIVER_PID = "DR_TEST_DRIVER_PID"
MARKERS = "DR_TEST_MARKERS"  # directory of crash markers, shared by the test and its workers


# --- models that fail inside Ray workers only ------------------------------------------------


def _in_worker() -> bool:
    return str(os.getpid()) != os.environ.get(DRIVER_PID, str(os.getpid()))


def _claim(name: str) -> bool:
    """True exactly once per marker name, across all processes (O_EXCL)."""
    try:
        os.close(os.open(Path(os.environ[MARKERS]) / name, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


class CrashingPlanted(Planted):
    """The planted generator, whose worker process dies (``os._exit``) ``crashes`` times."""

    crashes = 1
    tag = "once"

    def forward(self, z):
        if _in_worker():
            for i in range(self.crashes):
                if _claim(f"{self.tag}.{i}"):
                    os._exit(1)
        return super().forward(z)


class CrashingTwice(CrashingPlanted):
    crashes = 2
    tag = "twice"


def crash_once_generator() -> CrashingPlanted:
    return CrashingPlanted()


def crash_twice_generator() -> CrashingTwice:
    return CrashingTwice()


class LateCrash(Planted):
    """The planted generator, whose worker dies on sample 100's batch while ``crash`` exists."""

    def forward(self, z):
        if _in_worker() and (Path(os.environ[MARKERS]) / "crash").exists():
            target = latents(1, [100], z.shape[1])[0]
            if bool((z == target).all(dim=1).any()):
                os._exit(1)
        return super().forward(z)


def late_crash_generator() -> LateCrash:
    return LateCrash()


class LateBadSegmenter(PlantedSegmenter):
    """Returns an out-of-range label from its 7th call in a worker while ``fail`` exists."""

    calls = 0

    def segment(self, images):
        labels = super().segment(images)
        if _in_worker():
            type(self).calls += 1
            if type(self).calls >= 7 and (Path(os.environ[MARKERS]) / "fail").exists():
                return labels + 5
        return labels


def late_bad_segmenter() -> LateBadSegmenter:
    return LateBadSegmenter()


# --- the cluster -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One local Ray cluster for the module; workers inherit the environment set here."""
    markers = tmp_path_factory.mktemp("markers")
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", DRIVER_PID, MARKERS, "RAY_AUTH_TOKEN")}
    # This cluster's own token (not ~/.ray/auth_token, which parallel test processes would
    # race to create), passed to its workers and to the CLI subprocess through the environment.
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    paths = [str(ROOT), str(TESTS), str(HERE), os.environ.get("PYTHONPATH", "")]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    os.environ[DRIVER_PID] = str(os.getpid())
    os.environ[MARKERS] = str(markers)
    # No log forwarding, as `-q` sets for a cluster the CLI starts itself: the CLI keeps this
    # session, and a raylet line forwarded from a killed worker would land in the error
    # output that the tests hold to one line.
    ray.init(
        num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False
    )
    try:
        yield {"markers": markers, "address": ray.get_runtime_context().gcs_address}
    finally:
        ray.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _cli(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["-q", *args])
    return code, err.getvalue()


@pytest.fixture(scope="module")
def local_planted(tmp_path_factory):
    """The single-process report every Ray run of the planted toy must equal."""
    out = tmp_path_factory.mktemp("local") / "report"
    dissect(DissectConfig(**PLANTED), out, images=False)
    return out


# --- tests ------------------------------------------------------------------------------------


def test_ray_tables_equal_single_process(cluster, local_planted, tmp_path):
    out = tmp_path / "ray"
    result = dissect(DissectConfig(**PLANTED, engine="ray", shards=5, workers=2), out, images=False)
    assert result.samples == 120
    assert_same_tables(local_planted, out)
    assert not (out / ".partial").exists()  # the checkpoint goes once the report is complete


def test_ray_on_the_builtin_world_equals_single_process(cluster, tmp_path):
    base = {
        "layers": ("layer2", "layer3"),
        "samples": 30,
        "batch_size": 8,
        "calibration_samples": 8,
    }
    dissect(DissectConfig(**base), tmp_path / "local", images=False)
    dissect(
        DissectConfig(**base, engine="ray", shards=3, workers=2),
        tmp_path / "ray",
        images=False,
    )
    assert_same_tables(tmp_path / "local", tmp_path / "ray")


def test_killed_worker_is_restarted_and_its_shard_retried(cluster, local_planted, tmp_path):
    config = DissectConfig(
        **{**PLANTED, "generator": "test_ray_engine:crash_once_generator"},
        engine="ray",
        shards=4,
        workers=2,
    )
    dissect(config, tmp_path / "ray", images=False)
    assert (cluster["markers"] / "once.0").exists()  # a worker really died mid-shard
    assert_same_tables(local_planted, tmp_path / "ray")


def test_worker_dying_twice_is_retried_twice(cluster, local_planted, tmp_path):
    from dissect_report.dissection.engines.ray_engine import run_ray
    from dissect_report.models import load_models

    # Two deaths (calibration or shards, wherever they hit), two retries: Ray's own task
    # retries put the work on a fresh worker process each time.
    config = DissectConfig(
        **{**PLANTED, "generator": "test_ray_engine:crash_twice_generator"},
        engine="ray",
        shards=3,
        workers=1,
    )
    models = load_models(config)
    states, _ = run_ray(models, config, 0, 120, partial=None, resume=False, retries=2)
    assert (cluster["markers"] / "twice.1").exists()
    import numpy as np

    with np.load(local_planted / "layers" / "features" / "stats.npz") as npz:
        for key, value in states["features"].arrays().items():
            np.testing.assert_array_equal(value, npz[key], err_msg=key)


def test_failed_run_resumes_from_finished_shards(cluster, local_planted, tmp_path, caplog):
    flag = cluster["markers"] / "fail"
    flag.touch()
    out = tmp_path / "ray"
    out.mkdir()  # an existing directory stays after a failure, with its checkpoint
    args = [
        "dissect",
        *TOY_FLAGS,
        "--segmenter",
        "test_ray_engine:late_bad_segmenter",
        "--engine",
        "ray",
        "--shards",
        "4",
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    code, err = _cli(*args)
    assert code == 2 and err.count("\n") == 1, err
    assert "segmenter returned label" in err  # the worker's ModelError, as one line
    assert (out / ".partial" / "ray.npz").exists() and not (out / "manifest.json").exists()
    flag.unlink()
    with caplog.at_level(logging.INFO, logger="dissect_report.dissection.engines.ray_engine"):
        code, err = _cli(*args, "--resume")
    assert code == 0, err
    done = re.search(r"resuming: (\d) of 4 shards already done", caplog.text)
    assert done and 1 <= int(done.group(1)) <= 3, caplog.text
    assert_same_tables(local_planted, out)


def test_cli_joins_a_running_cluster_by_address(cluster, local_planted, tmp_path):
    env = dict(os.environ)
    out = tmp_path / "ray"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dissect_report.cli",
            "-q",
            "dissect",
            *TOY_FLAGS,
            "--engine",
            "ray",
            "--address",
            cluster["address"],
            "--shards",
            "3",
            "--out",
            str(out),
        ],  # fmt: skip
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "report written to" in proc.stdout
    manifest = (out / "manifest.json").read_text()
    assert '"engine": "ray"' in manifest and '"shards": 3' in manifest
    assert_same_tables(local_planted, out)


def test_bad_address_is_one_line(tmp_path):
    # Runs in its own process: this module's cluster must not be the one it finds.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dissect_report.cli",
            "-q",
            "dissect",
            *TOY_FLAGS,
            "--engine",
            "ray",
            "--address",
            "127.0.0.1:1",
            "--out",
            str(tmp_path / "r"),
        ],  # fmt: skip
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot start or join Ray at '127.0.0.1:1'"), proc.stderr
    assert not (tmp_path / "r").exists()


def test_shard_lost_past_retries_keeps_finished_shards(cluster, local_planted, tmp_path, caplog):
    from dissect_report.dissection.engines import ray_engine

    flag = cluster["markers"] / "crash"
    flag.touch()
    out = tmp_path / "ray"  # created by the run: a lost shard must not remove it
    args = [
        "dissect",
        *TOY_FLAGS,
        "--generator", "test_ray_engine:late_crash_generator",
        "--engine", "ray",
        "--shards", "3",
        "--workers", "1",
        "--out", str(out),
    ]  # fmt: skip
    saved = ray_engine.RETRIES
    ray_engine.RETRIES = 0  # no retry: the crash loses shard 3 for good
    try:
        code, err = _cli(*args)
    finally:
        ray_engine.RETRIES = saved
    assert code == 2 and err.count("\n") == 1, err
    # shard 3 (samples 80..119, with sample 100) is reported, in one short line
    assert err.startswith("error: shard 3/3 (samples 80..119) failed on Ray after 0 retries"), err
    assert "run the same command with --resume" in err and len(err) < 400, err
    assert (out / ".partial" / "ray.npz").exists() and not (out / "manifest.json").exists()
    flag.unlink()
    with caplog.at_level(logging.INFO, logger="dissect_report.dissection.engines.ray_engine"):
        code, err = _cli(*args, "--resume")
    assert code == 0, err
    assert "resuming: 2 of 3 shards already done" in caplog.text
    assert_same_tables(local_planted, out)


def _fetch_weights(config_json: str, job) -> str:
    from dissect_report.dissection.engines.ray_tasks import _local_weights

    return _local_weights(config_json, job)


def test_a_node_without_the_weights_file_gets_the_drivers_bytes(cluster, tmp_path):
    from safetensors.torch import save_file

    from dissect_report.dissection.engines.ray_tasks import Job
    from dissect_report.weights_io import file_sha256

    weights = tmp_path / "planted.safetensors"
    save_file(Planted().state_dict(), str(weights))
    sha = file_sha256(weights)
    # What a node on another machine sees: no file at the driver's path.
    config = DissectConfig(**PLANTED, weights=str(tmp_path / "elsewhere" / "planted.safetensors"))
    job = Job(
        config.model_dump_json(),
        {"generator weights sha256": sha},
        [ray.put(weights.read_bytes())],
        None,
    )
    fetched = ray.get(ray.remote(_fetch_weights).remote(config.model_dump_json(), job))
    local = Path(DissectConfig.model_validate_json(fetched).weights)
    assert local.name == f"{sha}.safetensors" and file_sha256(local) == sha
    # a node that has the file with the driver's hash uses it where it is
    same = DissectConfig(**PLANTED, weights=str(weights)).model_dump_json()
    assert ray.get(ray.remote(_fetch_weights).remote(same, job)) == same


def test_states_are_summed_on_their_node_before_the_driver(cluster, local_planted):
    import time

    import numpy as np

    from dissect_report.dissection.engines.ray_engine import CHECKPOINT_INTERVAL_S, RayRun, run_ray
    from dissect_report.models import load_models

    config = DissectConfig(**PLANTED, engine="ray", shards=6, workers=2)
    record = RayRun()
    started = time.monotonic()
    states, _ = run_ray(
        load_models(config), config, 0, 120, partial=None, resume=False, record=record
    )
    elapsed = time.monotonic() - started
    assert len(record.shard_bytes) == 6 and len(record.nodes) == 1  # this cluster: one node
    # one summed state at the end, plus one per checkpoint the run lasted long enough for
    assert 1 <= record.driver_states <= 1 + int(elapsed // CHECKPOINT_INTERVAL_S)
    assert record.driver_bytes == record.driver_states * record.shard_bytes[0]
    with np.load(local_planted / "layers" / "features" / "stats.npz") as npz:
        for key, value in states["features"].arrays().items():
            np.testing.assert_array_equal(value, npz[key], err_msg=key)

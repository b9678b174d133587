"""The Ray engine's parts that need no cluster: shard plans, the driver checkpoint, and the
errors a user sees without Ray or with Ray-only flags on the local engine."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from dissect_report.cli import main  # noqa: E402
from dissect_report.config import DissectConfig  # noqa: E402
from dissect_report.dissection.engines.shards import (  # noqa: E402
    ShardCheckpoint,
    default_shards,
    merge_states,
    plan_shards,
)
from dissect_report.dissection.stats import LayerStats  # noqa: E402
from dissect_report.errors import ConfigError, ReportError  # noqa: E402

TOY = [
    "--generator", "dissect_toys:planted_generator",
    "--segmenter", "dissect_toys:planted_segmenter",
    "--layers", "features",
    "--samples", "40",
    "--calibration-samples", "16",
]  # fmt: skip


def _cli(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["-q", *args])
    return code, err.getvalue()


def test_without_ray_the_engine_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets when not installed
    out = tmp_path / "report"
    code, err = _cli("dissect", *TOY, "--engine", "ray", "--out", str(out))
    assert code == 2
    assert err.count("\n") == 1 and 'pip install "dissect-report[ray]"' in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    "flag",
    [
        ["--shards", "4"],
        ["--workers", "2"],
        ["--address", "auto"],
        ["--runtime-env", '{"env_vars": {"A": "1"}}'],
        ["--stall-timeout", "60"],
    ],
)
def test_ray_flags_need_the_ray_engine(tmp_path, flag):
    code, err = _cli("dissect", *TOY, *flag, "--out", str(tmp_path / "r"))
    assert code == 2 and err.count("\n") == 1
    assert f"{flag[0]} need --engine ray (engine is 'local')" in err, err
    assert not (tmp_path / "r").exists()


def test_engine_fields_do_not_change_the_table_key():
    local = DissectConfig(samples=100)
    ray = DissectConfig(samples=100, engine="ray", shards=7, workers=3, address="auto")
    assert local.table_key() == ray.table_key()  # shards from either engine merge
    assert local.table_key() != DissectConfig(samples=101).table_key()
    # batch_size is a run setting too: shards made with other batch sizes merge
    assert local.table_key() == DissectConfig(samples=100, batch_size=7).table_key()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[1]", "argument --runtime-env: not a JSON object"),
        ("{nope", "argument --runtime-env: not valid JSON"),
        ("missing.json", "'missing.json' is not a JSON object nor a readable file"),
    ],
)
def test_a_bad_runtime_env_is_one_line(tmp_path, value, message):
    code, err = _cli("dissect", *TOY, "--engine", "ray", "--runtime-env", value, "--out", "r")
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_factory_modules_outside_site_packages_are_shipped():
    from dissect_report.dissection.engines.ray_cluster import runtime_env

    config = DissectConfig(
        generator="dissect_toys:planted_generator",
        segmenter="torch.nn:Identity",  # installed: every node has it already
        runtime_env={"py_modules": ["extra"], "env_vars": {"A": "1"}},
    )
    env = runtime_env(config)
    assert env["py_modules"] == ["extra", str(TESTS / "dissect_toys.py")]
    assert env["env_vars"] == {"A": "1"}
    assert runtime_env(DissectConfig()) == {}  # the built-in world ships nothing


def test_plans_cover_the_range_once_in_order():
    spans = plan_shards(100, 1100, shards=7, workers=2, batch_size=64)
    assert len(spans) == 7 and spans[0][0] == 100 and spans[-1][1] == 1100
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert max(b - a for a, b in spans) - min(b - a for a, b in spans) <= 1


def test_default_plan_is_a_few_shards_per_worker_but_never_below_a_batch():
    assert default_shards(2000, workers=2, batch_size=64) == 8
    assert default_shards(100, workers=8, batch_size=64) == 2  # 2 batches
    assert default_shards(3, workers=8, batch_size=1) == 3
    assert len(plan_shards(0, 2000, shards=None, workers=2, batch_size=64)) == 8


def test_more_shards_than_samples_is_a_config_error():
    with pytest.raises(ConfigError, match="shards = 50 is more than the 40 samples"):
        plan_shards(0, 40, shards=50, workers=2, batch_size=8)


def _state(seed: int, ids: range):
    import torch

    gen = torch.Generator().manual_seed(seed)
    edges = np.tile(np.concatenate([[-np.inf], np.arange(7) / 4.0, [np.inf]]), (3, 1))
    acc = LayerStats(edges, concepts=2, top_k=4)
    acts = torch.rand(len(ids), 3, 4, 4, generator=gen) * 2
    labels = torch.randint(0, 2, (len(ids), 4, 4), generator=gen)
    acc.add(acts, labels, torch.tensor(list(ids)))
    return acc.state()


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    merged = merge_states(None, {"l": _state(0, range(0, 5))})
    merged = merge_states(merged, {"l": _state(1, range(5, 9))})
    path = tmp_path / ".partial" / "ray.npz"
    ShardCheckpoint(path, "key", 0, 20).save([(0, 5), (5, 9), (9, 20)], {0, 1}, merged)
    spans, done, states = ShardCheckpoint(path, "key", 0, 20).load()
    assert spans == [(0, 5), (5, 9), (9, 20)] and done == {0, 1}
    for key, value in merged["l"].arrays().items():
        np.testing.assert_array_equal(states["l"].arrays()[key], value, err_msg=key)
    assert states["l"].samples == 9
    with pytest.raises(ReportError, match="different config or sample range"):
        ShardCheckpoint(path, "other", 0, 20).load()
    assert ShardCheckpoint(tmp_path / "none.npz", "key", 0, 20).load() is None


def test_merge_states_refuses_other_layers():
    with pytest.raises(ReportError, match="expected"):
        merge_states({"a": _state(0, range(3))}, {"b": _state(0, range(3))})

"""The dissect / merge / layers commands as a user runs them: subprocesses, exit codes, files."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))
from dissect_toys import assert_same_tables  # noqa: E402

from dissect_report.cli import main  # noqa: E402

TOY = [
    "--generator", "dissect_toys:planted_generator",
    "--segmenter", "dissect_toys:planted_segmenter",
    "--layers", "features",
    "--calibration-samples", "32",
]  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TESTS), env.get("PYTHONPATH", "")])
    return env


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, check: bool = False) -> Result:
    """The CLI's entry point, in-process (the subprocess test below covers the real binary)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["-q", *args])
        except SystemExit as exc:  # --help
            code = int(exc.code or 0)
    result = Result(code, out.getvalue(), err.getvalue())
    if check:
        assert result.returncode == 0, result.stderr
    return result


def assert_user_error(proc: Result, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_help_of_every_command():
    for command in ["dissect", "merge", "layers", "run"]:
        proc = cli(command, "--help", check=True)
        assert "usage: dissect-report" in proc.stdout and "--" in proc.stdout
    # each command's --help gives the default that command really uses
    from dissect_report.commands.run import RUN_DEFAULTS
    from dissect_report.config import DissectConfig

    flat = {c: " ".join(cli(c, "--help", check=True).stdout.split()) for c in ["run", "dissect"]}
    assert f"--samples N samples (default: {RUN_DEFAULTS['samples']})" in flat["run"]
    assert f"--samples N samples (default: {DissectConfig().samples})" in flat["dissect"]


def test_layers_lists_shapes():
    proc = cli("layers", "--generator", "dissect_toys:planted_generator", check=True)
    assert "features" in proc.stdout and "4 x 8 x 8" in proc.stdout


def _bad_weights(tmp_path: Path) -> dict[str, str]:
    import torch
    from safetensors.torch import save_file

    save_file(
        {"scale": torch.ones(3), "head.weight": torch.ones(1)}, str(tmp_path / "w.safetensors")
    )
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x07not safetensors at all")
    return {
        "mismatch": str(tmp_path / "w.safetensors"),
        "corrupt": str(tmp_path / "corrupt.safetensors"),
    }


@pytest.mark.parametrize(
    ("case", "args", "needles"),
    [
        ("layer", ["--layers", "featurs"], ["unknown layer 'featurs'", "features, render"]),
        ("4d", ["--generator", "dissect_toys:flat_generator", "--layers", "fc"], ["'fc'", "2-D"]),
        ("mismatch", ["--weights", "{mismatch}"], ["head.weight", "scale (3,) vs (1,)"]),
        ("corrupt", ["--weights", "{corrupt}"], ["cannot read weights file"]),
        ("shape", ["--segmenter", "dissect_toys:wrong_shape_segmenter"], ["segmenter returned"]),
        ("labels", ["--segmenter", "dissect_toys:wrong_label_segmenter"], ["label 7 outside"]),
        ("zero", ["--samples", "0"], ["samples = 0"]),
        ("factory", ["--generator", "nowhere_xyz:gen"], ["cannot import 'nowhere_xyz'"]),
        ("shard", ["--shard", "5/4"], ["invalid shard '5/4'"]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, case, args, needles):
    weights = _bad_weights(tmp_path)
    args = [a.format(**weights) for a in args]
    out = tmp_path / "report"
    proc = cli("dissect", *TOY, "--samples", "20", *args, "--out", str(out))
    assert_user_error(proc, *needles)
    assert not (out / "manifest.json").exists()
    assert not out.exists() or not any(out.iterdir())


def test_existing_and_unwritable_output(tmp_path):
    out = tmp_path / "report"
    cli("dissect", *TOY, "--samples", "20", "--no-images", "--out", str(out), check=True)
    assert_user_error(cli("dissect", *TOY, "--samples", "20", "--out", str(out)), "exists")
    cli("dissect", *TOY, "--samples", "20", "--out", str(out), "--overwrite", check=True)
    assert (out / "layers" / "features" / "units" / "0.png").exists()
    (tmp_path / "file").write_text("x")
    assert_user_error(
        cli("dissect", *TOY, "--samples", "20", "--out", str(tmp_path / "file" / "r")),
        "not a directory",
    )
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    assert_user_error(cli("dissect", *TOY, "--out", str(other), "--overwrite"), "refusing")
    assert (other / "keep.txt").read_text() == "mine"


def test_cli_shards_and_merge_equal_unsplit(tmp_path):
    base = [*TOY, "--samples", "90", "--no-images"]
    cli("dissect", *base, "--out", str(tmp_path / "whole"), check=True)
    for i in (1, 2):
        cli(
            "dissect",
            *base,
            "--batch-size",
            "13",
            "--shard",
            f"{i}/2",
            "--out",
            str(tmp_path / f"p{i}"),
            check=True,
        )
    proc = cli(
        "merge",
        str(tmp_path / "p1"),
        str(tmp_path / "p2"),
        "--no-images",
        "--out",
        str(tmp_path / "m"),
    )
    assert proc.returncode == 0, proc.stderr
    assert_same_tables(tmp_path / "whole", tmp_path / "m")
    assert_user_error(
        cli("merge", str(tmp_path / "p1"), "--out", str(tmp_path / "m2")), "do not cover"
    )


def test_resume_after_sigkill_gives_identical_tables(tmp_path):
    base = [
        *TOY,
        "--segmenter",
        "dissect_toys:slow_segmenter",
        "--samples",
        "240",
        "--batch-size",
        "8",
    ]
    base += ["--checkpoint-every", "2", "--no-images"]
    cli("dissect", *base, "--checkpoint-every", "0", "--out", str(tmp_path / "ref"), check=True)
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dissect_report", "-q", "dissect", *base, "--out", str(out)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = out / ".partial" / "checkpoint.npz"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # let it get past the first checkpoint, mid-batch
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists() and not (out / "manifest.json").exists()
    assert_user_error(cli("dissect", *base, "--out", str(out)), "--resume")
    cli("dissect", *base, "--out", str(out), "--resume", check=True)
    assert_same_tables(tmp_path / "ref", out)
    assert not (out / ".partial").exists()
    assert_user_error(cli("dissect", *base, "--out", str(out), "--resume"), "already complete")


def test_real_binary_reports_bad_input_in_one_line(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dissect_report",
            "dissect",
            *TOY,
            "--layers",
            "nope",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert_user_error(Result(proc.returncode, proc.stdout, proc.stderr), "unknown layer 'nope'")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", ["run", "dissect"])
def test_existing_out_is_one_line_before_the_model_check(command: str, tmp_path: Path) -> None:
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "keep.txt").write_text("mine")
    proc = cli(
        command, "--generator", "dissect_toys:planted_generator", "--out", str(tmp_path / "report")
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: output directory {str(tmp_path / 'report')!r} exists; use --overwrite or --resume"
    ]
    assert [p.name for p in (tmp_path / "report").iterdir()] == ["keep.txt"]

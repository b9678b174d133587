"""Bad inputs, full disks, kills and races: one line on stderr, exit 2, and nothing lost.

Every case runs a real command on real toy models and asserts three things: exit code 2,
exactly one line on stderr (``error: ...``, no traceback, no usage dump, no warning), and
what is on disk afterwards: nothing at all for a new report, or the previous report byte
for byte for a command on an existing one. Most cases call the CLI's ``main`` in-process
(fast); the ones about the real binary, signals and races run it as a subprocess.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))

from dissect_report.cli import main  # noqa: E402

TOY = [
    "--generator", "dissect_toys:planted_generator",
    "--segmenter", "dissect_toys:planted_segmenter",
    "--layers", "features",
    "--samples", "16",
    "--calibration-samples", "16",
]  # fmt: skip
# Small [intervene]/[artifacts] tables so that run stays a few seconds on the toy.
SMALL_STAGES = """\
[intervene]
samples = 8
max_units = 2
random_trials = 1
insert_samples = 2
grid = 2
compare_samples = 1
optimize_steps = 0

[artifacts]
samples = 16
repair_samples = 16
reference_samples = 16
candidates = 2
show_units = 1
worst_samples = 1
"""


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TESTS), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def cli(*args: str) -> Result:
    """``dissect-report -q ARGS`` in-process; stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["-q", *args])
        except SystemExit as exc:  # pragma: no cover - only --help/--version exit
            code = int(exc.code or 0)
    return Result(code, out.getvalue(), err.getvalue())


def binary(*args: str, cwd: Path | None = None, timeout: float = 120) -> Result:
    """The real console script in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "dissect_report", "-q", *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line(result: Result, *needles: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in line and "usage:" not in line and "internal error" not in line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones too) -> SHA-256 of its bytes."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------------------------------
# One report made by the real pipeline, copied for every case that needs an existing report.


@pytest.fixture(scope="module")
def base_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("base")
    config = root / "small.toml"
    config.write_text(SMALL_STAGES)
    out = root / "report"
    result = cli("run", *TOY, "--config", str(config), "--no-site", "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sections"]["interventions"] and manifest["sections"]["artifacts"]
    return out


@pytest.fixture
def report(base_report: Path, tmp_path: Path) -> Path:
    out = tmp_path / "report"
    shutil.copytree(base_report, out)
    return out


# ---------------------------------------------------------------------------------------------
# Kind 1: bad input for a new report -> nothing on disk.


def _files(tmp_path: Path) -> dict[str, Path]:
    import dissect_toys
    import torch
    from safetensors.torch import save_file

    files = {}
    state = dissect_toys.planted_generator().state_dict()
    save_file(state, str(tmp_path / "good.safetensors"))
    raw = (tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[: len(raw) // 2])
    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):  # runs only if someone unpickles it unsafely
            return (os.system, (f"touch {marker}",))

    torch.save({"scale": torch.ones(1), "x": Payload()}, tmp_path / "evil.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    for name, text in {
        "bool.toml": "seed = true\n",
        "string.toml": 'top_k = "4"\n',
        "float.toml": "bins = 64.0\n",
        "mixed.toml": "samples = 40\n[dissect]\nseed = 2\n",
        "table.toml": "[intervention]\nsamples = 3\n",
        "key.toml": "sampels = 40\n",
        "broken.toml": "samples = [\n",
        "layers.toml": "policy = 1\n",
        "intervene_bool.toml": "[intervene]\nsamples = true\n",
        "artifacts_key.toml": "[artifacts]\nrepair = 3\n",
    }.items():
        (tmp_path / name).write_text(text)
    files.update({p.name: p for p in tmp_path.iterdir() if p.is_file()})
    return files


NEW_REPORT_CASES: dict[str, tuple[list[str], str]] = {
    # flags
    "samples zero": (["--samples", "0"], "samples"),
    "samples not int": (["--samples", "x"], "--samples"),
    "unknown flag": (["--wat"], "--wat"),
    "policy choice": (["--policy", "best"], "--policy"),
    "level above 1": (["--level", "1.5"], "level"),
    "z-dim negative": (["--z-dim", "-3"], "z_dim"),
    "z-dim too small": (["--z-dim", "1"], "generator"),
    "empty layer": (["--layers", "features,"], "layer"),
    "unknown layer": (["--layers", "featurs"], "featurs"),
    "batch zero": (["--batch-size", "0"], "batch_size"),
    "device cuda": (["--device", "cuda"], "CUDA"),
    "device nonsense": (["--device", "gpu9"], "device"),
    # user models
    "no such module": (["--generator", "no_such_module:make"], "no_such_module"),
    "no such factory": (["--generator", "dissect_toys:nope"], "nope"),
    "generator raises": (["--generator", "fault_toys:raising_generator"], "generator"),
    "segmenter raises": (["--segmenter", "fault_toys:raising_segmenter"], "segmenter"),
    "gray images": (["--generator", "fault_toys:gray_generator"], "generator"),
    "flat images": (["--generator", "fault_toys:flat_images_generator"], "generator"),
    "segmenter labels": (["--segmenter", "dissect_toys:wrong_label_segmenter"], "label"),
    "segmenter shape": (["--segmenter", "dissect_toys:wrong_shape_segmenter"], "segmenter"),
    # weights
    "weights missing": (["--weights", "{tmp}/missing.pt"], "does not exist"),
    "weights truncated": (["--weights", "{tmp}/cut.safetensors"], "weights"),
    "weights pickle": (["--weights", "{tmp}/evil.pt"], "pickled"),
    "weights not a dict": (["--weights", "{tmp}/list.pt"], "state dict"),
    # config files
    "config missing": (["--config", "{tmp}/none.toml"], "does not exist"),
    "config bool": (["--config", "{tmp}/bool.toml"], "seed = True"),
    "config string": (["--config", "{tmp}/string.toml"], "top_k"),
    "config float": (["--config", "{tmp}/float.toml"], "bins"),
    "config mixed": (["--config", "{tmp}/mixed.toml"], "[dissect]"),
    "config table": (["--config", "{tmp}/table.toml"], "[intervention]"),
    "config key": (["--config", "{tmp}/key.toml"], "sampels"),
    "config toml": (["--config", "{tmp}/broken.toml"], "TOML"),
    "config policy": (["--config", "{tmp}/layers.toml"], "policy"),
    "config intervene": (["--config", "{tmp}/intervene_bool.toml"], "[intervene]"),
    "config artifacts": (["--config", "{tmp}/artifacts_key.toml"], "repair"),
}


@pytest.mark.parametrize("case", sorted(NEW_REPORT_CASES))
def test_bad_input_leaves_nothing(case: str, tmp_path: Path) -> None:
    args, needle = NEW_REPORT_CASES[case]
    files = tmp_path / "files"
    files.mkdir()
    _files(files)
    args = [a.replace("{tmp}", str(files)) for a in args]
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(p.name for p in work.iterdir())
    # run: every flag of dissect, and the [intervene] / [artifacts] tables of --config
    command = "dissect" if case.startswith(("weights", "segmenter")) else "run"
    line = assert_one_line(cli(command, *TOY, *args, "--out", str(work / "report")), needle)
    assert sorted(p.name for p in work.iterdir()) == before, line  # no report, no lock file
    assert not (files / "PWNED").exists()  # the pickle payload never ran


# ---------------------------------------------------------------------------------------------
# Kind 2: bad input for a command on an existing report -> the report untouched, byte for byte.


def _newer_schema(report: Path) -> None:
    manifest = json.loads((report / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (report / "manifest.json").write_text(json.dumps(manifest))


def _segmenter_raises(report: Path) -> None:
    manifest = json.loads((report / "manifest.json").read_text())
    manifest["config"]["segmenter"] = "fault_toys:raising_segmenter"
    (report / "manifest.json").write_text(json.dumps(manifest))


def _truncate_stats(report: Path) -> None:
    (stats,) = report.glob("layers/*/stats.npz")
    stats.write_bytes(stats.read_bytes()[:100])


EXISTING_CASES: dict[str, tuple[list[str], str, Callable[[Path], None] | None]] = {
    "intervene concept": (["intervene", "{r}", "--concepts", "nope"], "nope", None),
    "intervene layer": (["intervene", "{r}", "--layer", "nope"], "nope", None),
    "intervene samples": (["intervene", "{r}", "--samples", "0"], "samples", None),
    "intervene seed": (["intervene", "{r}", "--seed", "1"], "seed", None),
    "intervene flag": (["intervene", "{r}", "--samples", "many"], "--samples", None),
    "intervene segmenter": (["intervene", "{r}"], "the segmenter raised", _segmenter_raises),
    "intervene schema": (["intervene", "{r}"], "schema_version", _newer_schema),
    "artifacts layer": (["artifacts", "{r}", "--layer", "nope"], "nope", None),
    "artifacts metric": (["artifacts", "{r}", "--metric", "beauty"], "beauty", None),
    "artifacts seeds": (
        ["artifacts", "{r}", "--score-seed", "5", "--repair-seed", "5"],
        "seed",
        None,
    ),
    "artifacts discriminator": (
        ["artifacts", "{r}", "--discriminator", "fault_toys:raising_discriminator"],
        "the discriminator raised KeyError",
        None,
    ),
    "artifacts schema": (["artifacts", "{r}"], "schema_version", _newer_schema),
    "run resume schema": (
        ["run", *TOY, "--out", "{r}", "--resume"],
        "schema_version",
        _newer_schema,
    ),
    "run resume settings": (
        ["run", *TOY[:-4], "--samples", "17", "--out", "{r}", "--resume"],
        "samples",
        None,
    ),
    "dissect exists": (["dissect", *TOY, "--out", "{r}"], "exists", None),
    "dissect overwrite bad layer": (
        ["dissect", *TOY, "--layers", "nope", "--out", "{r}", "--overwrite"],
        "nope",
        None,
    ),
    "dissect overwrite bad weights": (
        ["dissect", *TOY, "--weights", "{r}/missing.pt", "--out", "{r}", "--overwrite"],
        "does not exist",
        None,
    ),
    "render truncated stats": (["render", "{r}"], "stats.npz", _truncate_stats),
    "merge not a shard": (["merge", "{r}", "--out", "{r}/../merged"], "shard.json", None),
}


@pytest.mark.parametrize("case", sorted(EXISTING_CASES))
def test_bad_input_leaves_report_untouched(case: str, report: Path) -> None:
    args, needle, prepare = EXISTING_CASES[case]
    if prepare is not None:
        prepare(report)
    before = snapshot(report)
    siblings = sorted(p.name for p in report.parent.iterdir())
    args = [a.replace("{r}", str(report)) for a in args]
    assert_one_line(cli(*args), needle)
    assert snapshot(report) == before
    assert sorted(p.name for p in report.parent.iterdir()) == siblings  # no lock, no merged/


def test_merge_truncated_shard_writes_nothing(tmp_path: Path) -> None:
    for i in (1, 2):
        args = [
            "dissect",
            *TOY,
            "--no-images",
            "--shard",
            f"{i}/2",
            "--out",
            str(tmp_path / f"p{i}"),
        ]
        assert cli(*args).returncode == 0
    (stats,) = (tmp_path / "p2").glob("layers/*/stats.npz")
    stats.write_bytes(stats.read_bytes()[:200])
    shards = snapshot(tmp_path)
    out = tmp_path / "merged"
    assert_one_line(cli("merge", str(tmp_path / "p1"), str(tmp_path / "p2"), "--out", str(out)),
                    "truncated or corrupt")  # fmt: skip
    assert snapshot(tmp_path) == shards and not out.exists()


# ---------------------------------------------------------------------------------------------
# Kind 3: the environment (full disk, read-only file system) and the real binary.


def _mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    return proc.returncode == 0


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Path:
    """A real tmpfs of ``size`` where we may mount one (root); otherwise skip."""
    if not _mount_tmpfs(where, f"size={size}"):
        pytest.skip("cannot mount a tmpfs here (not root?); the injected ENOSPC case covers it")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.mark.parametrize("command", ["dissect", "render"])
def test_full_disk_for_real(command: str, tmp_path: Path, base_report: Path) -> None:
    with small_disk(tmp_path / "disk", "96k") as disk:
        if command == "dissect":
            args = ["dissect", *TOY, "--out", str(disk / "report")]
        else:
            args = ["render", str(base_report), "--out", str(disk / "site")]
        line = assert_one_line(binary(*args), "no space left on device")
        assert list(disk.iterdir()) == [], line  # the failed run cleaned up after itself


def test_read_only_file_system(tmp_path: Path, report: Path) -> None:
    where = tmp_path / "ro"
    if not _mount_tmpfs(where, "size=1m,ro"):
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        assert_one_line(cli("dissect", *TOY, "--out", str(where / "report")), "read-only")
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.mark.parametrize("where", ["parquet", "npz"])
def test_injected_enospc(where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no tmpfs can be mounted: the disk fills at the first table (or the stats)."""
    import dissect_report.reportdir.atomic as atomic

    real = atomic.atomic_path

    @contextlib.contextmanager
    def full(path: Path):
        if path.name.endswith(where):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        with real(path) as tmp:
            yield tmp

    monkeypatch.setattr(atomic, "atomic_path", full)
    for module in list(sys.modules.values()):  # every `from atomic import atomic_path`
        if getattr(module, "atomic_path", None) is real and module is not atomic:
            monkeypatch.setattr(module, "atomic_path", full)
    out = tmp_path / "report"
    assert_one_line(cli("dissect", *TOY, "--out", str(out)), "no space left on device")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_usage_error_and_debug_traceback(tmp_path: Path) -> None:
    line = assert_one_line(binary("dissect", "--samples", "many", "--out", str(tmp_path / "r")))
    assert "--samples" in line and "dissect-report dissect --help" in line
    debug = binary("run", *TOY, "--generator", "fault_toys:raising_generator", "--debug",
                   "--out", str(tmp_path / "r"))  # fmt: skip
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr and "generator exploded on purpose" in debug.stderr
    assert debug.stderr.splitlines()[-1].startswith("error: the generator raised RuntimeError")
    assert not (tmp_path / "r").exists()


def test_world_commands(tmp_path: Path) -> None:
    assert_one_line(cli("world", "card", "--n", "0", "--out", str(tmp_path)), "--n")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "world.json").write_text('{"z_dim": "big"}')
    assert_one_line(
        cli("world", "sample", "--weights", str(tmp_path / "w"), "--out", str(tmp_path / "s.png")),
        "z_dim",
    )
    assert not (tmp_path / "s.png").exists()


# ---------------------------------------------------------------------------------------------
# Names no file system takes as they are.


def test_hostile_names_render(tmp_path: Path) -> None:
    import fault_toys

    out = tmp_path / "report"
    result = cli(
        "run",
        *TOY[4:],
        "--generator", "fault_toys:long_layer_generator",
        "--segmenter", "fault_toys:hostile_segmenter",
        "--layers", fault_toys.LONG_LAYER,
        "--no-interventions", "--no-artifacts",
        "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in manifest["concepts"]] == fault_toys.HOSTILE_CONCEPTS
    assert [layer["name"] for layer in manifest["layers"]] == [fault_toys.LONG_LAYER]
    for path in out.rglob("*"):
        name = path.name
        assert name.isascii() and len(name.encode()) <= 80, name
    slugs = [c["slug"] for c in manifest["concepts"]] + [manifest["layers"][0]["slug"]]
    assert len(set(slugs)) == 3 and all(len(s) <= 64 for s in slugs)
    units = pq.read_table(out / "layers" / manifest["layers"][0]["slug"] / "units.parquet")
    assert set(units.column("concept").to_pylist()) <= set(fault_toys.HOSTILE_CONCEPTS)
    index = (out / "site" / "index.html").read_text(encoding="utf-8")
    assert "sky 🌤 &lt;b&gt;&amp;amp;&lt;/b&gt;" in index  # exact, and escaped


def test_slugs_are_safe_bounded_and_distinct() -> None:
    from dissect_report.slug import slugify, unique_slugs

    names = ["Tree", "tree", "tree ", "🌲", "🌳", "x" * 500, "x" * 499 + "y", "..", "a/b", "a\\b"]
    slugs = unique_slugs(names)
    assert len(set(slugs.values())) == len(names)
    for name, slug in slugs.items():
        assert slug.isascii() and 0 < len(slug) <= 64 and slug not in (".", "..")
        assert "/" not in slug and "\\" not in slug
        assert slugify(slug) == slug, name  # a slug is its own slug (readers check this)
    assert slugify("layer4") == "layer4" and slugify("synthesis.b16.conv0") == "synthesis.b16.conv0"


# ---------------------------------------------------------------------------------------------
# Kills: run killed at each stage, then run --resume; and two writers on one --out.


def _tables(report: Path) -> dict[str, str]:
    """Every Parquet table of the report, without the columns that hold timings."""
    out = {}
    for path in sorted(report.rglob("*.parquet")):
        rel = path.relative_to(report).as_posix()
        if rel.startswith(("site/", ".")):
            continue
        table = pq.read_table(path)
        rows = table.drop([c for c in table.column_names if c.endswith("_s")]).to_pylist()
        out[rel] = json.dumps(rows, default=str)  # as text: NaN equals NaN
    return out


def _pages(report: Path) -> list[str]:
    return sorted(
        p.relative_to(report / "site").as_posix() for p in (report / "site").rglob("*.html")
    )


def _run_args(out: Path, config: Path) -> list[str]:
    # The slow segmenter (0.05 s a call) keeps every stage long enough to be caught in it.
    return [
        "run", *TOY[:2], "--segmenter", "dissect_toys:slow_segmenter", *TOY[4:],
        "--batch-size", "2", "--checkpoint-every", "1", "--config", str(config),
        "--out", str(out),
    ]  # fmt: skip


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while not check():
        assert proc.poll() is None, f"the run ended before {what}: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


STAGE_MARKERS: dict[str, Callable[[Path], bool]] = {
    "dissect": lambda r: (r / ".partial").is_dir() and any((r / ".partial").iterdir()),
    "interventions": lambda r: (r / ".concepts.new").is_dir(),
    "artifacts": lambda r: (r / ".artifacts.new").is_dir(),
    "site": lambda r: any(r.parent.glob(".site.build-*")) or (r / "site").is_dir(),
}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("whole")
    config = root / "small.toml"
    config.write_text(SMALL_STAGES)
    out = root / "report"
    result = binary(*_run_args(out, config), timeout=300)
    assert result.returncode == 0, result.stderr
    return out, config


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(STAGE_MARKERS))
def test_kill_at_each_stage_then_resume(
    stage: str, tmp_path: Path, uninterrupted: tuple[Path, Path]
) -> None:
    whole, config = uninterrupted
    out = tmp_path / "report"
    cmd = [sys.executable, "-m", "dissect_report", "-q", *_run_args(out, config)]
    proc = subprocess.Popen(cmd, env=_env(), stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: STAGE_MARKERS[stage](out), proc, stage)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    resumed = binary(*_run_args(out, config), "--resume", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert _tables(out) == _tables(whole)
    assert _pages(out) == _pages(whole)
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers
    assert not any(p.name.endswith(".lock") for p in tmp_path.iterdir())


@pytest.mark.slow
def test_two_writers_one_out(tmp_path: Path) -> None:
    out = tmp_path / "report"
    gate = tmp_path / "gate"
    first = [*TOY[:2], "--segmenter", "fault_toys:gated_segmenter", *TOY[4:], "--no-images"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "dissect_report", "-q", "dissect", *first, "--out", str(out)],
        env={**_env(), "FAULT_TOYS_GATE": str(gate)},  # it segments only once the gate opens
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = tmp_path / ".report.lock"
        _wait_for(lambda: lock.is_file() and lock.stat().st_size > 0, proc, "the lock")
        second = binary("dissect", *TOY, "--samples", "24", "--out", str(out), "--overwrite")
        line = assert_one_line(second, "is being written by", f"pid {proc.pid}")
        assert "dissect-report" in line  # names the holder's command
        assert not (out / "manifest.json").exists()
    finally:
        gate.touch()
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["samples"]["count"] == 16  # the first writer's report, whole
    assert not lock.exists()


@pytest.mark.slow
def test_stale_lock_after_sigkill_does_not_block_resume(tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = [*TOY[:2], "--segmenter", "dissect_toys:slow_segmenter", *TOY[4:], "--batch-size", "2"]
    args += ["--checkpoint-every", "1", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "dissect_report", "-q", "dissect", *args],
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: STAGE_MARKERS["dissect"](out), proc, "a checkpoint")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    lock = tmp_path / ".report.lock"
    assert lock.is_file() and f'"pid": {proc.pid}' in lock.read_text()  # stale note left
    resumed = cli("dissect", *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "manifest.json").is_file() and not lock.exists()

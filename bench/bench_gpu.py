"""`dissect-report run --device cuda`, measured: speed, GPU memory, stage times, same tables as CPU.

Usage::

    python bench/bench_gpu.py --out /tmp/gpu                 # on a GPU machine: a few minutes
    python bench/bench_gpu.py --device cuda:1 --out /tmp/gpu
    python bench/bench_gpu.py --dry-run --out /tmp/dry       # CPU, tiny sizes (CI runs this)

For two models, the built-in world and the 256 px stand-in of ``bench/bench_scale.py``
(``bench/standins.py``: a ProGAN-shaped generator, a SegFormer-B0-sized segmenter with 150
classes, random weights, so only the dissection and the unit images run on it):

1. ``dissect-report run`` of one config on the CPU (the reference) and on ``--device``, in
   this process; each stage's seconds from the device report's manifest, the run's wall time
   and its peak GPU memory (``torch.cuda.max_memory_allocated``);
2. ``dissect-report compare CPU DEVICE``: its exit code must be 0 (same findings);
3. samples/s of the statistics pass (calibration excluded) vs generator + segmenter
   forward-only, alternating in this process (median of ``--repeats``), on ``--device``.

Prints a Markdown table and writes ``OUT/bench_gpu.json``; exits 1 when a comparison fails.
``--dry-run`` runs everything on the CPU at tiny sizes (device = cpu), so CI checks that the
script works without a GPU; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))  # standins.py, for --generator standins:...

from dissect_report.cli import main as cli  # noqa: E402

log = logging.getLogger("bench_gpu")

# The built-in world at run's defaults (1000 samples, layers 2-4, every stage) on a GPU;
# the dry run keeps one layer and small stage settings.
WORLD_DRY = """
[dissect]
samples = 16
layers = ["layer4"]
calibration_samples = 16
batch_size = 8
top_k = 2

[intervene]
max_concepts = 1
samples = 4
max_units = 2
random_trials = 1
insert_samples = 1
compare_samples = 1
optimize_steps = 1
optimize_batch = 2
unit_samples = 0

[artifacts]
samples = 8
repair_samples = 4
reference_samples = 4
candidates = 1
repair_units = 1
show_units = 1
top_k = 2
worst_samples = 1
"""


@dataclass(frozen=True)
class Setup:
    """One model's config: the ``run`` flags and the pass measured in-process."""

    name: str
    run_args: tuple[str, ...]
    config_text: str | None  # a --config TOML, or None
    pass_samples: int  # samples of the in-process pass vs forward-only
    batch_size: int


def setups(dry: bool) -> list[Setup]:
    standin = (
        "--generator", "standins:generator_32" if dry else "standins:generator_256",
        "--segmenter", "standins:segmenter_10" if dry else "standins:segmenter_150",
        "--layers", "layer16" if dry else "layer32",
        "--samples", "8" if dry else "128",
        "--calibration-samples", "8" if dry else "32",
        "--batch-size", "4" if dry else "16",
        "--no-interventions", "--no-artifacts",
    )  # fmt: skip
    world = () if dry else ("--samples", "1000")
    return [
        Setup("built-in world", world, WORLD_DRY if dry else None, 16 if dry else 1000, 8 if dry else 64),
        Setup("256 px stand-in" if not dry else "32 px stand-in", standin, None, 8 if dry else 256, 4 if dry else 16),
    ]  # fmt: skip


@dataclass
class Figures:
    name: str
    device: str
    cpu_run_s: float = 0.0
    device_run_s: float = 0.0
    stages_s: dict[str, float] = field(default_factory=dict)  # the device report's timings
    gpu_peak_mib: float | None = None
    compare_exit: int = -1
    forward_samples_per_s: float = 0.0
    pass_samples_per_s: float = 0.0
    pass_over_forward: float = 0.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(["-q", *args])
    return code, out.getvalue() + err.getvalue()


def _run(setup: Setup, root: Path, device: str, tag: str) -> tuple[Path, float]:
    out = root / f"{setup.name.replace(' ', '-')}-{tag}"
    args = ["run", *setup.run_args, "--device", device, "--out", str(out), "--overwrite"]
    if setup.config_text is not None:
        config = root / f"{setup.name.replace(' ', '-')}.toml"
        config.write_text(setup.config_text)
        args += ["--config", str(config)]
    t0 = time.perf_counter()
    code, text = _cli(*args, "--no-site")
    if code != 0:
        raise SystemExit(f"run on {device} failed ({code}): {text.strip()[-2000:]}")
    return out, time.perf_counter() - t0


def throughput(
    report: Path, device: torch.device, setup: Setup, repeats: int
) -> tuple[float, float]:
    """(forward-only, pass) samples/s on ``device``: the report's config, alternating, medians."""
    from dissect_report.config import make_config
    from dissect_report.dissection.calibration import calibrate
    from dissect_report.dissection.statspass import run_pass
    from dissect_report.models import load_models
    from dissect_report.reportdir.read import read_manifest_dict

    values = dict(read_manifest_dict(report)["config"])
    values.update(device=str(device), checkpoint_every=0, batch_size=setup.batch_size)
    values["samples"] = setup.pass_samples
    config = make_config(values)
    models = load_models(config, check=False)
    edges = calibrate(models, config)
    n, b = config.samples, config.batch_size

    def forward() -> None:
        for start in range(0, n, b):
            models.segment(models.sample(range(start, min(start + b, n))))
        _sync(device)

    def full() -> None:
        run_pass(models, config, 0, n, calibration=edges)
        _sync(device)

    forward()  # warm-up (kernels, allocator)
    fwd, pas = [], []
    for _ in range(repeats):
        for fn, into in ((forward, fwd), (full, pas)):
            t0 = time.perf_counter()
            fn()
            into.append(n / (time.perf_counter() - t0))
    return statistics.median(fwd), statistics.median(pas)


def measure(setup: Setup, root: Path, device: str, repeats: int) -> Figures:
    dev = torch.device(device)
    figures = Figures(setup.name, device)
    cpu_report, figures.cpu_run_s = _run(setup, root, "cpu", "cpu")
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    dev_report, figures.device_run_s = _run(setup, root, device, "device")
    if dev.type == "cuda":
        figures.gpu_peak_mib = torch.cuda.max_memory_allocated(dev) / 2**20
    manifest = json.loads((dev_report / "manifest.json").read_text())
    figures.stages_s = {k: float(v) for k, v in manifest.get("timings", {}).items()}
    figures.compare_exit, text = _cli("compare", str(cpu_report), str(dev_report))
    if figures.compare_exit != 0:
        log.warning("compare %s: %s", setup.name, text.strip()[-3000:])
    fwd, pas = throughput(dev_report, dev, setup, repeats)
    figures.forward_samples_per_s, figures.pass_samples_per_s = fwd, pas
    figures.pass_over_forward = pas / fwd if fwd else float("nan")
    return figures


def table(rows: list[Figures]) -> str:
    head = (
        "| model | device | forward-only samples/s | pass samples/s | pass / forward | "
        "GPU peak MiB | stages (s) | run on device / CPU (s) | compare |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for f in rows:
        stages = ", ".join(f"{k.removesuffix('_s')} {v:.1f}" for k, v in f.stages_s.items())
        peak = f"{f.gpu_peak_mib:.0f}" if f.gpu_peak_mib is not None else "n/a"
        lines.append(
            f"| {f.name} | {f.device} | {f.forward_samples_per_s:.1f} | "
            f"{f.pass_samples_per_s:.1f} | {f.pass_over_forward:.2f} | {peak} | {stages} | "
            f"{f.device_run_s:.1f} / {f.cpu_run_s:.1f} | exit {f.compare_exit} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the device to measure (default: cuda)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the reports")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["world", "standin"], help="measure one model only")
    parser.add_argument(
        "--dry-run", action="store_true", help="CPU only, tiny sizes: checks the script (CI)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = "cpu" if args.dry_run else args.device
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device here; use --dry-run (CPU) or run on a GPU machine")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = setups(args.dry_run)
    if args.only:
        chosen = [s for s in chosen if ("world" in s.name) == (args.only == "world")]
    rows = []
    for setup in chosen:
        log.info("measuring %s on %s ...", setup.name, device)
        rows.append(measure(setup, args.out, device, 1 if args.dry_run else args.repeats))
    info: dict[str, Any] = {
        "device": device,
        "name": torch.cuda.get_device_name(torch.device(device)) if device != "cpu" else "cpu",
        "torch": torch.__version__,
        "dry_run": args.dry_run,
        "rows": [asdict(r) for r in rows],
    }
    (args.out / "bench_gpu.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"{info['name']}, torch {torch.__version__}")
    print(table(rows))
    return 0 if all(r.compare_exit == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The statistics pass at real scale: random-weight stand-ins of 128/256 px GANs, 150 concepts.

Usage::

    python bench/bench_scale.py                                  # 128 px, layer32 (512 x 32x32)
    python bench/bench_scale.py --resolution 256 --layer 64 --samples 16 --batch-size 8
    python bench/bench_scale.py --skip throughput,images --rss 64,192   # memory only
    python bench/bench_scale.py --skip throughput,images,rss --growth   # cost per unit/concept

Prints, for one layer of the stand-ins of ``bench/standins.py`` (ProGAN-shaped generator,
SegFormer-B0-sized segmenter with ``--concepts`` classes):

- throughput: samples/s of generator + segmenter forward-only and of the full pass
  (:func:`~dissect_report.dissection.run_pass`, calibration excluded), alternating in this
  process ``--repeats`` times, per policy; the median ratio pass / forward of wall time and of
  process CPU time (the CPU ratio is what a busy shared machine distorts least);
- calibration: seconds and the float32 bytes it keeps (default ``--calibration-mb``);
- state bytes per layer (int32 counts while accumulating; the int64 ``stats.npz`` tables);
- unit images: seconds to draw every unit's grid and strip, per unit;
- peak RSS of a fresh process running calibration + pass at each ``--rss`` sample count
  (flat in the sample count), beside forward-only in a fresh process;
- ``--growth``: stats seconds per sample (CPU) and state bytes for 128/256/512 units x
  20/150 concepts on this layer's activations.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from standins import standin_models  # noqa: E402

from dissect_report.config import DissectConfig  # noqa: E402
from dissect_report.dissection.calibration import EdgeCalibrator, calibrate, forward_traced  # noqa: E402
from dissect_report.dissection.stage import finalize  # noqa: E402
from dissect_report.dissection.stats import LayerStats  # noqa: E402
from dissect_report.dissection.statspass import run_pass  # noqa: E402
from dissect_report.progress import set_quiet  # noqa: E402


def _config(args: argparse.Namespace, policy: str, samples: int) -> DissectConfig:
    return DissectConfig(
        layers=(f"layer{args.layer}",),
        samples=samples,
        batch_size=args.batch_size,
        policy=policy,
        calibration_samples=args.calibration_samples,
        checkpoint_every=0,
    )


def _timed(fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def forward_only(models, samples: int, batch: int) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, samples, batch):
        models.segment(models.sample(range(start, min(start + batch, samples))))


def throughput(args: argparse.Namespace, models) -> None:  # type: ignore[no-untyped-def]
    n = args.samples
    forward_only(models, args.batch_size, args.batch_size)  # warm-up
    for policy in args.policies.split(","):
        config = _config(args, policy, n)
        box = []
        wall, cpu = _timed(lambda c=config, b=box: b.append(calibrate(models, c)))
        cal = box[0]
        print(
            f"calibration ({policy}): {config.calibration_samples} samples in {wall:.1f} s wall "
            f"({cpu:.1f} s CPU)"
        )
        ratios, cpu_ratios, fwd_rates, pass_rates = [], [], [], []
        for _ in range(args.repeats):
            fw, fc = _timed(lambda: forward_only(models, n, args.batch_size))
            pw, pc = _timed(lambda c=config, e=cal: run_pass(models, c, 0, n, calibration=e))
            fwd_rates.append(n / fw)
            pass_rates.append(n / pw)
            ratios.append(fw / pw)
            cpu_ratios.append(fc / pc)
        print(
            f"{policy:>9}: forward-only {statistics.median(fwd_rates):6.2f} samples/s, "
            f"pass {statistics.median(pass_rates):6.2f} samples/s; ratio "
            f"{statistics.median(ratios):.2f} wall (runs: "
            f"{', '.join(f'{r:.2f}' for r in ratios)}), {statistics.median(cpu_ratios):.2f} CPU"
        )


def calibration_bytes(args: argparse.Namespace, models) -> None:  # type: ignore[no-untyped-def]
    name = f"layer{args.layer}"
    acts, images = forward_traced(models, [name], range(1))
    units, h, w = acts[name].shape[1:]
    seg = tuple(models.segment(images).shape[1:])
    for mb in (256, 1024, None):
        budget = None if mb is None else mb * 2**20
        cal = EdgeCalibrator(units, (h, w), seg, args.calibration_samples, 256, 0.97, budget)
        plan = cal.plan
        label = "unbounded" if mb is None else f"{mb} MiB budget"
        print(
            f"calibration bytes ({label}): {plan.bytes / 2**20:.0f} MiB "
            f"({plan.values_per_unit} values/unit, stride {plan.stride})"
        )
        del cal


def unit_images(args: argparse.Namespace, models) -> None:  # type: ignore[no-untyped-def]
    from dissect_report.dissection.visualize import write_unit_images

    config = _config(args, "quantile", args.samples)
    states, shapes = run_pass(models, config, 0, args.samples)
    result = finalize(config, models.concepts, ["#000000"] * len(models.concepts), states, shapes)
    units = result.layers[0].state.units
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = _timed(
            lambda: write_unit_images(models, result.layers, Path(tmp), batch_size=args.batch_size)
        )
    print(
        f"unit images: {units} units in {wall:.1f} s wall ({cpu:.1f} s CPU), "
        f"{1000 * wall / units:.0f} ms per unit"
    )


def state_bytes(args: argparse.Namespace, models) -> None:  # type: ignore[no-untyped-def]
    name = f"layer{args.layer}"
    units = models.generator.widths[args.layer]
    c = len(models.concepts)
    acc = LayerStats(torch.zeros(units, 257).numpy(), c, 12)
    print(
        f"state per layer ({units} units x 256 bins x {c} concepts): accumulating "
        f"{acc.state_bytes / 2**20:.1f} MiB (int32), stats.npz tables "
        f"{8 * units * 256 * (c + 2) / 2**20:.1f} MiB (int64); layer {name}"
    )


def rss(args: argparse.Namespace) -> None:
    for mode in args.rss_modes.split(","):
        for samples in (int(s) for s in args.rss.split(",")):
            cmd = [sys.executable, __file__, "--child", mode, "--samples", str(samples)]
            for flag in ("resolution", "layer", "concepts", "batch_size", "calibration_samples"):
                cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
            cmd += ["--threads", str(args.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
            print(
                f"peak RSS {mode:>7} ({samples} samples, batch {args.batch_size}, calibration "
                f"{args.calibration_samples}): {int(out[0]) / 2**20:.2f} GiB ({out[1]} s)"
            )


def child(args: argparse.Namespace) -> None:
    models = standin_models(args.resolution, args.concepts)
    t0 = time.perf_counter()
    if args.child == "forward":
        forward_only(models, args.samples, args.batch_size)
    else:
        config = _config(args, "quantile", args.samples)
        states, shapes = run_pass(models, config, 0, args.samples)
        finalize(config, models.concepts, ["#000000"] * len(models.concepts), states, shapes)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(peak_kib, f"{time.perf_counter() - t0:.0f}")


def growth(args: argparse.Namespace, models) -> None:  # type: ignore[no-untyped-def]
    from dissect_report.dissection.calibration import calibrate_edges

    name = f"layer{args.layer}"
    n = args.batch_size
    acts, images = forward_traced(models, [name], range(n))
    a = acts[name]
    for concepts in (20, 150):
        seg = standin_models(args.resolution, concepts).segmenter
        labels = seg.segment(images)
        for units in (128, 256, 512):
            if units > a.shape[1]:
                continue
            part = a[:, :units].contiguous()
            for level, policy in ((0.97, "quantile"), (0.0, "iqr")):
                edges = calibrate_edges(part, 256, level, size=tuple(labels.shape[1:]))
                acc = LayerStats(edges, concepts, 12)
                _, cpu = _timed(lambda p=part, s=acc, y=labels: s.add(p, y, torch.arange(n)))
                print(
                    f"growth: {units:3d} units x {concepts:3d} concepts, {policy:>8}: "
                    f"{1000 * cpu / n:6.1f} ms CPU per sample, state {acc.state_bytes / 2**20:6.1f} MiB"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=128, choices=[128, 256])
    parser.add_argument("--layer", type=int, default=32, help="layer size: 16, 32 or 64")
    parser.add_argument("--concepts", type=int, default=150)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--calibration-samples", type=int, default=128)
    parser.add_argument("--policies", default="quantile,iqr")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rss", default="32,96", help="sample counts of the RSS runs")
    parser.add_argument("--rss-modes", default="forward,pass", help="forward and/or pass")
    parser.add_argument("--skip", default="", help="any of throughput,images,rss")
    parser.add_argument("--growth", action="store_true")
    parser.add_argument("--child", choices=["forward", "pass"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    set_quiet(True)
    if args.child:
        child(args)
        return
    skip = set(args.skip.split(","))
    models = standin_models(args.resolution, args.concepts)
    print(
        f"stand-in {args.resolution}x{args.resolution}, layer{args.layer}, {args.concepts} "
        f"concepts, {args.samples} samples, batch {args.batch_size}, {args.threads} threads"
    )
    state_bytes(args, models)
    calibration_bytes(args, models)
    if "throughput" not in skip:
        throughput(args, models)
    if "images" not in skip:
        unit_images(args, models)
    if args.growth:
        growth(args, models)
    if "rss" not in skip:
        rss(args)


if __name__ == "__main__":
    main()

"""``dissect-report dissect``: the one-pass dissection of chosen layers into a report.

Usage::

    dissect-report dissect --layers layer3,layer4 --samples 2000 --out report
    dissect-report dissect --config dissect.toml --out report --resume
    dissect-report dissect --shard 1/4 --out part1   # then: dissect-report merge part* --out r
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from dissect_report.config import DissectConfig, load_config
from dissect_report.errors import ConfigError, EnvironmentProblem
from dissect_report.sampler import parse_shard

_FIELDS = DissectConfig.model_fields


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that set config fields (each overrides the --config file)."""
    g = parser.add_argument_group("model and data")
    g.add_argument(
        "--config", metavar="FILE", help="TOML file of config fields (flags override it)"
    )
    g.add_argument(
        "--generator", metavar="PKG.MOD:FACTORY", help="generator factory (default: built-in world)"
    )
    g.add_argument(
        "--weights", metavar="FILE", help="generator weights: .safetensors or .pt state dict"
    )
    g.add_argument(
        "--z-dim", type=int, metavar="N", help="latent size, if the generator has no z_dim"
    )
    add_model_adapter_arguments(g)
    g.add_argument(
        "--no-model-check",
        dest="check_model",
        action="store_false",
        default=None,
        help="skip the model check (recorded in the manifest and shown on the site): accept "
        "that findings may depend on batch, shard or resume",
    )
    g.add_argument(
        "--check-tolerance",
        type=float,
        metavar="REL",
        help="relative float tolerance of the model check (default: 1e-3)",
    )
    g.add_argument(
        "--segmenter",
        metavar="SPEC",
        help="'builtin' (the default: the built-in world's 13-concept scene segmenter), a "
        "factory PKG.MOD:FACTORY, or hf:DIR (a local transformers segmentation model)",
    )
    g.add_argument(
        "--layers",
        metavar="A,B,...",
        help=f"layers to dissect (default: {','.join(_FIELDS['layers'].default)})",
    )
    g.add_argument(
        "--samples", type=int, metavar="N", help=f"samples (default: {_FIELDS['samples'].default})"
    )
    g.add_argument(
        "--batch-size", type=int, metavar="N", help="batch size (does not change results)"
    )
    g.add_argument("--seed", type=int, help="sample i's latent is a function of (seed, i)")
    g.add_argument("--device", help="torch device: cpu, cuda, cuda:1, mps (default: cpu)")
    g.add_argument(
        "--amp",
        action="store_true",
        default=None,
        help="run the generator under autocast (float16 on CUDA, bfloat16 on CPU); "
        "statistics stay float32 (default: off)",
    )
    s = parser.add_argument_group("statistics")
    s.add_argument(
        "--policy",
        choices=["quantile", "iqr", "max-iou"],
        help="threshold policy (default: iqr, as GAN Dissection; quantile: a top-(1-level) mask)",
    )
    s.add_argument(
        "--level", type=float, help="quantile level of the quantile policy (default: 0.99)"
    )
    s.add_argument(
        "--iou-floor",
        type=float,
        help="IoU at which a unit counts as interpretable (default: 0.04)",
    )
    s.add_argument(
        "--label-fallback",
        action="store_true",
        default=None,
        help="label a unit whose top concept a label guard refuses with its best concept that "
        "passes every guard (default: it stays unlabelled; its pages name that concept)",
    )
    s.add_argument("--top-k", type=int, metavar="K", help="top samples kept per unit (default: 12)")
    s.add_argument("--bins", type=int, help="histogram bins per unit (default: 256)")
    s.add_argument(
        "--resolve-level",
        type=float,
        help="calibration quantile below which pixels are not split by concept "
        "(default: 1-3*(1-level) for quantile, 0 for iqr/max-iou)",
    )
    s.add_argument(
        "--calibration-samples",
        type=int,
        metavar="N",
        help="samples that fix the bin edges (default: 128)",
    )
    s.add_argument(
        "--calibration-mb",
        type=int,
        metavar="MIB",
        help="calibration values kept per layer; beyond it every k-th pixel (default: 256)",
    )
    s.add_argument(
        "--downsample-segmentation",
        action="store_true",
        default=None,
        help="downsample labels to each layer's size instead of upsampling activations",
    )
    s.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="BATCHES",
        help="checkpoint interval; 0 = never (default: 10)",
    )
    e = parser.add_argument_group(
        "engine", "where the pass runs; the tables are the same on every engine"
    )
    e.add_argument(
        "--engine",
        choices=["local", "ray"],
        help="'local' (this process, default) or 'ray' (sample ranges on Ray actors; "
        'needs pip install "dissect-report[ray]")',
    )
    e.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster to join, e.g. ray://head:10001 or auto (default: start a local one)",
    )
    e.add_argument(
        "--shards",
        type=int,
        metavar="N",
        help="sample ranges to split the pass into (default: 4 per worker, >= 1 batch each)",
    )
    e.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="Ray tasks at once, each worker process loading the models once "
        "(default: the cluster's free CPUs, or GPUs with --device cuda)",
    )
    e.add_argument(
        "--runtime-env",
        type=_runtime_env,
        metavar="JSON",
        help="Ray runtime_env for the workers, a JSON object or a file holding one, e.g. "
        '\'{"pip": ["timm"]}\' (the generator/segmenter modules are shipped automatically)',
    )
    e.add_argument(
        "--stall-timeout",
        type=float,
        metavar="SECONDS",
        help="stop a Ray run, keeping its finished shards for --resume, when no batch finishes "
        "anywhere for this long (default: 600)",
    )


def _runtime_env(text: str) -> dict[str, Any]:
    from dissect_report.dissection.engines.ray_cluster import parse_runtime_env

    try:
        return parse_runtime_env(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_model_adapter_arguments(g: argparse._ActionsContainer) -> None:
    """The generator adapters (also on ``layers`` and ``check``): see dissect_report.adapters."""
    g.add_argument(
        "--weights-key",
        metavar="KEY",
        help="entry of a nested checkpoint holding the generator's state dict "
        "(e.g. netG_state_dict; one nested state dict is unwrapped without it)",
    )
    g.add_argument(
        "--latent-shape",
        metavar="A,B,...",
        help="per-sample latent shape the generator takes, e.g. 100,1,1 for a DCGAN; "
        "z_dim is its product",
    )
    g.add_argument(
        "--clamp-output",
        action="store_true",
        default=None,
        help="clamp the generator's images to [-1, 1] (for an unbounded output, e.g. ProGAN's; "
        "recorded in the manifest)",
    )
    g.add_argument(
        "--generator-arg",
        dest="generator_args",
        action="append",
        metavar="KEY=VALUE",
        help="a keyword argument of the generator factory (repeatable; VALUE read as JSON)",
    )
    g.add_argument(
        "--seeded-noise",
        action="store_true",
        default=None,
        help="make torch.randn & co. inside the generator's forward a function of (seed, i) "
        "(StyleGAN-style noise)",
    )


def add_output_arguments(parser: argparse.ArgumentParser, default_out: str | None = None) -> None:
    o = parser.add_argument_group("output")
    o.add_argument(
        "--out",
        required=default_out is None,
        default=default_out,
        metavar="REPORT",
        help="report directory" + (f" (default: {default_out})" if default_out else ""),
    )
    mode = o.add_mutually_exclusive_group()
    mode.add_argument(
        "--overwrite", action="store_true", help="replace an existing report in REPORT"
    )
    mode.add_argument(
        "--resume", action="store_true", help="continue an interrupted run from its last checkpoint"
    )
    o.add_argument(
        "--no-images", dest="images", action="store_false", help="skip the per-unit image grids"
    )


def config_from_args(
    args: argparse.Namespace, *, device_here: bool = True, **defaults: Any
) -> DissectConfig:
    """Field defaults < ``defaults`` (a command's own) < ``--config`` file < flags.

    ``device_here=False``: the device may be the Ray workers' only (``dissect --engine ray``).
    """
    overrides = {name: getattr(args, name, None) for name in _FIELDS}
    config = load_config(args.config, overrides, defaults)
    check_device(config.device, here=device_here or config.engine != "ray")
    return config


def check_device(device: str, *, here: bool = True) -> None:
    """Refuse, before anything is written, a device this machine does not have (``here``;
    otherwise only a device torch does not know)."""
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r}; e.g. cpu, cuda, cuda:1, mps") from None
    if not here:
        return
    if kind == "cuda" and not torch.cuda.is_available():
        raise EnvironmentProblem(
            f"device {device!r}: CUDA is not available on this machine; use --device cpu"
        )
    index = torch.device(device).index
    if kind == "cuda" and index is not None and index >= torch.cuda.device_count():
        raise EnvironmentProblem(
            f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s) "
            f"(cuda:0..cuda:{torch.cuda.device_count() - 1})"
        )
    if kind == "mps" and not torch.backends.mps.is_available():
        raise EnvironmentProblem(f"device {device!r}: MPS is not available; use --device cpu")


def command_line() -> str:
    return "dissect-report " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dissect",
        help="dissect layers into concepts (one pass) and write a report",
        description=(
            "Run the generator over N samples, segment each image, and keep per layer a joint "
            "histogram of unit activation vs concept plus each unit's top samples. Then pick each "
            "unit's threshold by policy, score its IoU/IQR with every concept, and write "
            "units.parquet, iou.parquet, stats.npz, concepts.svg and per-unit image grids."
        ),
        epilog="Example: dissect-report dissect --layers layer3,layer4 --samples 2000 --out report",
    )
    add_config_arguments(parser)
    add_output_arguments(parser)
    parser.add_argument(
        "--shard", metavar="I/N", help="process only shard I of N (1-based); combine with 'merge'"
    )
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from dissect_report.dissection.stage import dissect
    from dissect_report.outlock import locked
    from dissect_report.swap import check_schema

    config = config_from_args(args, device_here=False)  # a CPU-only head drives GPU workers
    shard = parse_shard(args.shard) if args.shard else None
    if Path(args.out).exists() and not args.overwrite:  # before the model check
        from dissect_report.reportdir.write import check_resumable, prepare_output

        if args.resume:
            check_resumable(Path(args.out))
        else:
            prepare_output(Path(args.out), overwrite=False, resume=False)
    with locked(args.out, command_line()):
        check_schema(args.out)
        result = dissect(
            config,
            args.out,
            overwrite=args.overwrite,
            resume=args.resume,
            shard=shard,
            images=args.images,
            command=command_line(),
        )
    if shard is not None and shard[1] > 1:
        print(
            f"shard {shard[0]}/{shard[1]} written to {args.out}; "
            "combine the shards with: dissect-report merge SHARD... --out REPORT"
        )
        return 0
    print_summary(result, images=args.images)
    print(f"report written to {args.out}")
    return 0


def summary_lines(result: Any, images: bool = True) -> list[str]:
    """One line per layer (labelled units, how many took their next concept because a guard
    refused their best-scoring one), and one per band of unit images too few samples leave
    empty, with the sample count it needs."""
    from dissect_report.dissection.bands import BANDS, samples_needed
    from dissect_report.dissection.labels import refusals

    lines = []
    for layer in result.layers:
        refused, _ = refusals(layer)
        moved = int((layer.interpretable_mask & (refused >= 0)).sum())
        note = f" ({moved} with their next concept: a guard refused their best)" if moved else ""
        lines.append(
            f"{layer.name}: {layer.interpretable}/{layer.state.units} units interpretable{note}, "
            f"{layer.concepts_covered} concepts covered"
        )
    if images:
        from dissect_report.dissection.stats import PEAK_SAMPLES

        seen = min(result.samples, PEAK_SAMPLES)
        for band in BANDS:
            need = samples_needed(band)
            if seen < need:
                lines.append(
                    f"unit images: no {band.label} band at {result.samples} samples (that band "
                    f"of a unit's peaks needs at least {need} samples: --samples {need})"
                )
    return lines


def print_summary(result: Any, images: bool = True) -> None:
    """Print :func:`summary_lines` (also used by ``run``)."""
    for line in summary_lines(result, images):
        print(line)

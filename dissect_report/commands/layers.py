"""``dissect-report layers``: list a generator's layers: type, calls per forward, output shape.

Usage::

    dissect-report layers
    dissect-report layers --generator mypkg.models:make_generator --weights g.safetensors
"""

from __future__ import annotations

import argparse
from typing import cast

import torch

from dissect_report.commands.argtypes import positive_int
from dissect_report.commands.dissect import add_model_adapter_arguments
from dissect_report.config import BUILTIN_GENERATOR
from dissect_report.trace import LayerInfo


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "layers",
        help="list the generator's layers and output shapes",
        description=(
            "Run one sample through the generator and list every named module with its output "
            "shape (C, H, W). Layers with 4-D outputs can be dissected."
        ),
    )
    parser.add_argument(
        "--generator",
        default=BUILTIN_GENERATOR,
        metavar="PKG.MOD:FACTORY",
        help="generator factory (default: built-in world)",
    )
    parser.add_argument(
        "--weights", metavar="FILE", help="generator weights: .safetensors or .pt state dict"
    )
    parser.add_argument(
        "--z-dim",
        type=positive_int,
        metavar="N",
        help="latent size, if the generator has no z_dim",
    )
    add_model_adapter_arguments(parser)
    parser.add_argument(
        "--all", action="store_true", help="also list modules whose output is not 4-D"
    )
    parser.set_defaults(func=handle)


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else " x ".join(str(d) for d in shape) or "scalar"


def _output(info: LayerInfo) -> str:
    """One call's output as text: ``512 x 8 x 8`` or ``[0] 512 x 8 x 8, [1] 3 x 8 x 8``."""

    def one(out: tuple[int, ...] | tuple[tuple[int, ...] | None, ...]) -> str:
        if info.tuple_output:  # then every entry holds one shape (or None) per element
            parts = cast(tuple[tuple[int, ...] | None, ...], out)
            return ", ".join(f"[{i}] {_shape(p)}" for i, p in enumerate(parts))
        return _shape(cast(tuple[int, ...], out))

    texts = [one(out) for out in info.outputs]
    if len(set(texts)) == 1:
        return texts[0]
    return "; ".join(f"@{k} {t}" for k, t in enumerate(texts))


def handle(args: argparse.Namespace) -> int:
    from dissect_report.config import make_config
    from dissect_report.contract import forward_error
    from dissect_report.errors import UserError
    from dissect_report.models import config_generator, generator_latents, latent_size
    from dissect_report.trace import describe_layers

    config = make_config(
        {
            k: v
            for k, v in {
                "generator": args.generator,
                "weights": args.weights,
                "weights_key": args.weights_key,
                "z_dim": args.z_dim,
                "latent_shape": args.latent_shape,
                "seeded_noise": args.seeded_noise,
                "clamp_output": args.clamp_output,
                "generator_args": args.generator_args,
            }.items()
            if v is not None
        }
    )
    generator = config_generator(config)
    z_dim = latent_size(generator, config.z_dim, config.generator)
    z = generator_latents(generator, 0, [0, 1], z_dim)
    try:
        with torch.no_grad():
            infos = describe_layers(generator, z)
    except UserError:
        raise
    except Exception as exc:  # the generator's own error, with the likely fix
        raise forward_error(generator, z, exc) from exc
    rows = [i for i in infos if args.all or i.dissectable]
    width = max([len(i.name) for i in rows] + [5])
    kind = max([len(i.module_type) for i in rows] + [4])
    print(f"{'layer':<{width}}  {'type':<{kind}}  calls  output per sample (C x H x W)")
    for info in rows:
        print(f"{info.name:<{width}}  {info.module_type:<{kind}}  {info.calls:>5}  {_output(info)}")
    if any(i.calls > 1 for i in rows):
        print("a module run more than once per forward is named with its call: NAME@0, NAME@1")
    if any(i.tuple_output for i in rows):
        print("an element of a tuple output is named with its index: NAME[0]")
    return 0

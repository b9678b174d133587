"""``dissect-report layers``: list a generator's layers with their output shapes.

Usage::

    dissect-report layers
    dissect-report layers --generator mypkg.models:make_generator --weights g.safetensors
"""

from __future__ import annotations

import argparse

import torch

from dissect_report.commands.argtypes import positive_int
from dissect_report.config import BUILTIN_GENERATOR


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
    parser.add_argument(
        "--all", action="store_true", help="also list modules whose output is not 4-D"
    )
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from dissect_report.errors import ModelError, user_code
    from dissect_report.models import load_generator
    from dissect_report.sampler import latents
    from dissect_report.trace import layer_shapes

    generator = load_generator(args.generator, args.weights)
    z_dim = args.z_dim or getattr(generator, "z_dim", None)
    if not isinstance(z_dim, int):
        raise ModelError(f"generator {args.generator!r} has no integer z_dim; pass --z-dim")
    with torch.no_grad(), user_code("generator"):
        shapes = layer_shapes(generator, latents(0, [0], z_dim))
    rows = [(n, s) for n, s in shapes.items() if args.all or len(s) == 3]
    width = max([len(n) for n, _ in rows] + [5])
    print(f"{'layer':<{width}}  shape (C, H, W)")
    for name, shape in rows:
        print(f"{name:<{width}}  {' x '.join(str(d) for d in shape)}")
    return 0

"""``dissect-report check``: run the model check alone and print what it found.

Usage::

    dissect-report check                                   # the built-in world's default layers
    dissect-report check --generator face_gan:make_generator --latent-shape 100,1,1 \\
        --weights weights.tar --layers main.3,main.6 --segmenter face_gan:make_segmenter

The same check runs before every pass of ``dissect``, ``run``, ``intervene`` and
``artifacts`` (see :mod:`dissect_report.contract`). Exit 0 when the model keeps the
contract, 2 (with the cause and the fix on stderr) when it does not.
"""

from __future__ import annotations

import argparse

from dissect_report.commands.dissect import add_config_arguments, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check that the generator keeps the model contract (what dissect checks first)",
        description=(
            "Generate a few samples alone, in two batch compositions and orders, and twice; "
            "compare images and the chosen layers' activations; count calls per layer per "
            "forward; check image shape, dtype, range and finiteness and each layer's layout. "
            "Prints what it found; exit 2 with the cause and the fix when a promise is broken."
        ),
        epilog="Example: dissect-report check --layers layer3,layer4",
    )
    add_config_arguments(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from dissect_report.contract import check_model
    from dissect_report.models import load_models

    config = config_from_args(args)
    models = load_models(config, check=False)
    result = check_model(models, config.layers, tolerance=config.check_tolerance)
    print(f"generator: {config.generator_name} (z_dim {models.z_dim})")
    for line in result.lines():
        print(line)
    result.raise_for_problems()
    return 0

"""``dissect-report world ...``: retrain, measure and sample the built-in world.

Usage::

    dissect-report world train --out runs/world --device cuda
    dissect-report world card --weights runs/world
    dissect-report world sample --n 64 --out grid.png
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dissect_report.errors import UserError

log = logging.getLogger(__name__)


def _train(args: argparse.Namespace) -> int:
    from dissect_report.world.train import TrainConfig, train_world

    cfg = TrainConfig(
        out=args.out,
        seed=args.seed,
        device=args.device,
        scenes=args.scenes,
        seg_steps=args.seg_steps,
        gan_steps=args.gan_steps,
        workers=args.workers,
    )
    parts = tuple(args.parts.split(","))
    if not set(parts) <= {"segmenter", "gan"}:
        raise UserError(f"unknown part in --parts {args.parts!r}; parts: segmenter, gan")
    out = train_world(cfg, parts)
    print(
        f"weights written to {out}/ (load them with --weights {out}, or copy them into the package)"
    )
    return 0


def _card(args: argparse.Namespace) -> int:
    from dissect_report.world.card import evaluate_world, sample_grid, write_card

    if args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}")
    card = evaluate_world(n=args.n, weights=args.weights, device=args.device)
    path = write_card(card, args.out, sample_grid(weights=args.weights))
    print(
        f"pixel accuracy {card.pixel_accuracy:.4f}, mean IoU {card.mean_iou:.4f}, FSD {card.fsd:.2f}"
    )
    print(f"model card written to {path}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from PIL import Image

    from dissect_report.world.card import sample_grid

    if args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}")
    grid = sample_grid(n=args.n, seed=args.seed, weights=args.weights)
    out = Path(args.out)
    try:
        Image.fromarray(grid).save(out)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot write {out}: {exc}") from None
    print(f"{args.n} samples (image | segmentation) written to {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    world = sub.add_parser("world", help="the built-in world: retrain, measure, sample")
    wsub = world.add_subparsers(dest="world_command", metavar="COMMAND", required=True)

    p = wsub.add_parser(
        "train", help="retrain the built-in segmenter and GAN from scratch (resumable)"
    )
    p.add_argument("--out", default="runs/world", help="directory for weights and checkpoints")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--scenes", type=int, default=60_000, help="rendered training scenes")
    p.add_argument("--seg-steps", type=int, default=4_000)
    p.add_argument("--gan-steps", type=int, default=12_000)
    p.add_argument("--workers", type=int, default=0, help="rendering processes (0: all cores)")
    p.add_argument("--parts", default="segmenter,gan", help="which models to train")
    p.set_defaults(func=_train)

    p = wsub.add_parser("card", help="measure the models and write MODEL_CARD.md")
    p.add_argument("--weights", default=None, help="weights directory (default: the shipped ones)")
    p.add_argument("--out", default=".", help="directory for MODEL_CARD.md and samples.png")
    p.add_argument("--n", type=int, default=2000, help="fresh scenes and generated samples")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_card)

    p = wsub.add_parser("sample", help="a grid of generated samples beside their segmentations")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", default=None, help="weights directory (default: the shipped ones)")
    p.add_argument("--out", default="samples.png")
    p.set_defaults(func=_sample)

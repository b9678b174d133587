"""Load the built-in world's shipped models.

Usage::

    from dissect_report.world import load_generator, load_segmenter, load_discriminator
    gen = load_generator()                      # eval mode, on the CPU
    seg = load_segmenter()
    labels = seg.segment(gen(torch.randn(2, gen.z_dim)))

Weights are ``.safetensors`` files in ``dissect_report/world/weights/`` (or a directory you
pass, e.g. the output of ``dissect-report world train``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from dissect_report.errors import ModelError
from dissect_report.weights_io import load_weights
from dissect_report.world.nets import Discriminator, Generator, SegNet
from dissect_report.world.scenes import CONCEPTS, PALETTE

WEIGHTS_DIR = Path(__file__).parent / "weights"


def _weights_file(name: str, directory: str | Path | None) -> Path:
    path = Path(directory or WEIGHTS_DIR) / f"{name}.safetensors"
    if not path.is_file():
        raise ModelError(
            f"built-in {name} weights not found at {path}; retrain with 'dissect-report world train'"
        )
    return path


def _meta(directory: str | Path | None) -> dict:
    path = Path(directory or WEIGHTS_DIR) / "world.json"
    try:
        meta = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from None
    z_dim = meta.get("z_dim", 128) if isinstance(meta, dict) else None
    if not isinstance(z_dim, int) or isinstance(z_dim, bool) or z_dim < 1:
        shown = z_dim if isinstance(meta, dict) else type(meta).__name__
        raise ModelError(
            f"{path} must be a JSON object with a positive integer z_dim; got {shown!r}"
        )
    return meta


def load_generator(directory: str | Path | None = None) -> Generator:
    """The built-in generator in eval mode: z ``(N, 128)`` -> images ``(N, 3, 64, 64)``."""
    gen = Generator(int(_meta(directory).get("z_dim", 128)))
    load_weights(gen, _weights_file("generator", directory))
    return gen.eval()


def load_discriminator(directory: str | Path | None = None) -> Discriminator:
    """The built-in discriminator in eval mode: images -> realism logits ``(N,)``."""
    disc = Discriminator()
    load_weights(disc, _weights_file("discriminator", directory))
    return disc.eval()


class WorldSegmenter:
    """The built-in scenes segmenter, implementing :class:`dissect_report.segmenter.Segmenter`.

    Usage::

        seg = WorldSegmenter(net)
        seg.segment(images)       # (N, H, W) int64 labels, images in [-1, 1]
    """

    name = "builtin-world-segmenter"

    def __init__(self, net: SegNet) -> None:
        self.net = net.eval()
        self.concepts = list(CONCEPTS)
        self.colors = [PALETTE[c] for c in CONCEPTS]

    def to(self, device: str | torch.device) -> WorldSegmenter:
        self.net.to(device)
        return self

    def class_probs(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable per-pixel class probabilities ``(N, C, H, W)``."""
        return self.net(images).softmax(1)

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).argmax(1)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate semantic features ``(N, D)``: the bottleneck, averaged over space."""
        return self.net.bottleneck(images).mean((2, 3))


def load_segmenter(directory: str | Path | None = None) -> WorldSegmenter:
    """The built-in segmenter (13 concepts of :data:`dissect_report.world.CONCEPTS`)."""
    net = SegNet(len(CONCEPTS))
    load_weights(net, _weights_file("segmenter", directory))
    return WorldSegmenter(net)

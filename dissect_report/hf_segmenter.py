"""Any Hugging Face ``transformers`` semantic-segmentation model from a local directory.

Usage::

    dissect-report run --generator mypkg:make_gen --segmenter hf:/models/segformer-ade20k

    from dissect_report.hf_segmenter import HFSegmenter
    seg = HFSegmenter("/models/segformer-ade20k")
    labels = seg.segment(images)            # images (N, 3, H, W) in [-1, 1]

The directory is what ``save_pretrained`` writes (config + ``model.safetensors``, and the image
processor's ``preprocessor_config.json`` when there is one). Nothing is downloaded
(``local_files_only``) and only safetensors weights are accepted (``use_safetensors``), so no
pickle is ever loaded. Concepts come from the model's ``id2label``; logits are upsampled to
the image size, so models that predict at a lower resolution (SegFormer: 1/4) work too.
Needs ``pip install "dissect-report[transformers]"``.
"""

from __future__ import annotations

import colorsys
import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F

from dissect_report.errors import ModelError

PREFIX = "hf:"
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def concept_color(name: str) -> tuple[int, int, int]:
    """A stable, saturated color for a concept name (models ship no palette)."""
    h = int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "little") / 65535
    r, g, b = colorsys.hsv_to_rgb(h, 0.65, 0.9)
    return int(r * 255), int(g * 255), int(b * 255)


class HFSegmenter:
    """The segmenter protocol over ``AutoModelForSemanticSegmentation``."""

    def __init__(self, path: str | Path) -> None:
        try:
            from transformers import AutoImageProcessor, AutoModelForSemanticSegmentation
        except ImportError:
            raise ModelError(
                "the hf: segmenter needs transformers: pip install 'dissect-report[transformers]'"
            ) from None
        path = Path(path)
        if not path.is_dir():
            raise ModelError(f"hf: segmenter directory {str(path)!r} does not exist")
        try:
            self.model = AutoModelForSemanticSegmentation.from_pretrained(
                path, local_files_only=True, use_safetensors=True
            ).eval()
        except Exception as exc:  # transformers raises many types for bad directories
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"cannot load a segmentation model from {str(path)!r}: {first}"
            ) from None
        try:
            proc = AutoImageProcessor.from_pretrained(path, local_files_only=True)
            mean, std = proc.image_mean, proc.image_std
        except Exception:  # no preprocessor_config.json: the usual ImageNet normalization
            mean, std = _IMAGENET_MEAN, _IMAGENET_STD
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        id2label = self.model.config.id2label
        self.concepts = [str(id2label[i]) for i in range(len(id2label))]
        self.colors = [concept_color(c) for c in self.concepts]
        self.name = f"{PREFIX}{path.name}"

    def to(self, device: str | torch.device) -> HFSegmenter:
        self.model.to(device)
        self.mean, self.std = self.mean.to(device), self.std.to(device)
        return self

    def _logits(self, images: torch.Tensor) -> torch.Tensor:
        x = ((images + 1) / 2 - self.mean) / self.std
        logits = self.model(pixel_values=x).logits
        if logits.shape[-2:] != images.shape[-2:]:
            logits = F.interpolate(
                logits, size=images.shape[-2:], mode="bilinear", align_corners=False
            )
        return logits

    def class_probs(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable per-pixel probabilities ``(N, C, H, W)`` at the image size."""
        return self._logits(images).softmax(1)

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return self._logits(images).argmax(1)

"""Side-by-side comparison images (PNG): generator output to pixels, tiles to a grid.

Usage::

    tiles = to_uint8(images)                              # (N, H, W, 3) uint8
    png = tile_grid([[a, b, c], [d, e, f]], scale=2)      # rows of equally sized tiles -> PNG bytes
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

GAP = 4  # pixels between tiles (white)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Generator images (N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def outline(
    tile: np.ndarray, box: tuple[int, int, int, int], color: tuple[int, int, int] = (255, 0, 255)
) -> np.ndarray:
    """A copy of ``tile`` with a 1-pixel rectangle at (top, bottom, left, right), exclusive ends."""
    out = tile.copy()
    t, b, left, right = box
    h, w = out.shape[:2]
    t, left = max(t, 0), max(left, 0)
    b, right = min(b, h) - 1, min(right, w) - 1
    out[t, left : right + 1] = color
    out[b, left : right + 1] = color
    out[t : b + 1, left] = color
    out[t : b + 1, right] = color
    return out


def grid(
    rows: Sequence[Sequence[np.ndarray] | np.ndarray], gap: int = GAP, scale: int = 1
) -> np.ndarray:
    """Rows of equally sized (H, W, 3) uint8 tiles on a white canvas, ``gap`` pixels apart,
    each tile upscaled by ``scale`` (nearest): the one image-grid builder of the package."""
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    th, tw = h * scale, w * scale
    canvas = np.full((len(rows) * (th + gap) - gap, cols * (tw + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            big = tile if scale == 1 else np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
            y, x = i * (th + gap), j * (tw + gap)
            canvas[y : y + th, x : x + tw] = big
    return canvas


def tile_grid(rows: Sequence[Sequence[np.ndarray] | np.ndarray], scale: int = 2) -> bytes:
    """PNG bytes of :func:`grid` (``GAP`` white pixels between tiles), upscaled by ``scale``."""
    buf = io.BytesIO()
    Image.fromarray(grid(rows, GAP, scale)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()

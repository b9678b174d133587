"""The files a unit page shows per band: a WebP of the images, an exact PNG of the masks.

Usage::

    from dissect_report.bandfiles import band_files, display_factor
    files = band_files(7, "top", images, [segmentations, masks], gap=2)
    # {"7-top.webp": ..., "7-top.png": ...} (+ "7-top-full.webp"/"-full.png" past 128 px tiles)

A band row of photographs compresses ~10x better as lossy WebP than as PNG; the segmentation
and mask rows hold a few flat colours whose exact values the colour key names, so they stay
lossless: a palette PNG (8-bit indices) when they have at most 256 colours. Tiles larger than
:data:`DISPLAY_TILE` are stored shrunk by an integer factor for the page (a tile is never stored
larger than a page shows it) with the full size beside it for the zoom (``-full``).
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from dissect_report.images import grid

DISPLAY_TILE = 128  # the largest tile side a unit page shows (5 tiles per band row)
WEBP_QUALITY = 65  # photographic rows: ~4.3 KB per band row of five 64 px tiles (85: 6.2 KB); 3% under 70 keeps the built-in site under 40 MB
FULL = "-full"


WEBP_MAX = 16383  # WebP's largest side: a row of five 3,300 px tiles does not fit
THUMB_BOX = (328, 64)  # the gallery card's image box: five 64 px tiles (render.context.STRIP_SIZE)


def webp_bytes(pixels: np.ndarray, quality: int = WEBP_QUALITY) -> bytes:
    """Lossy WebP of ``(H, W, 3)`` uint8 pixels; past WebP's 16,383 px a side, scaled to fit."""
    image = Image.fromarray(pixels)
    side = max(image.size)
    if side > WEBP_MAX:  # the largest WebP there is, same aspect (box filter: an average)
        w, h = (max(1, d * WEBP_MAX // side) for d in image.size)
        image = image.resize((w, h), Image.Resampling.BOX)
    buf = io.BytesIO()
    image.save(buf, format="WEBP", quality=quality, method=6)  # 6: ~3% smaller than 4, same pixels
    return buf.getvalue()


def thumb_bytes(tiles: np.ndarray, gap: int) -> bytes:
    """The gallery's thumbnail: ``(K, H, W, 3)`` tiles in a row, scaled (box average) to fit
    the card's :data:`THUMB_BOX`, as WebP; a row that already fits keeps its pixels."""
    row = grid([tiles], gap)
    h, w = row.shape[:2]
    factor = max(1, math.ceil(max(w / THUMB_BOX[0], h / THUMB_BOX[1])))
    if factor > 1:
        size = (max(1, w // factor), max(1, h // factor))
        row = np.asarray(Image.fromarray(row).resize(size, Image.Resampling.BOX))
    return webp_bytes(row, quality=80)


def exact_png_bytes(pixels: np.ndarray) -> bytes:
    """Lossless PNG of ``(H, W, 3)`` uint8 pixels: 8-bit palette when <= 256 colours.

    Every pixel keeps its exact colour either way (no quantization, no dithering).
    """
    flat = pixels.reshape(-1, 3)
    packed = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    colors, index = np.unique(packed, return_inverse=True)
    buf = io.BytesIO()
    if len(colors) <= 256:
        image = Image.fromarray(index.reshape(pixels.shape[:2]).astype(np.uint8), mode="P")
        palette = np.stack([colors >> 16, (colors >> 8) & 255, colors & 255], 1).astype(np.uint8)
        image.putpalette(palette.reshape(-1).tolist())
    else:
        image = Image.fromarray(pixels)
    image.save(buf, format="PNG", compress_level=6)  # level 9: 3x the time, 1% smaller
    return buf.getvalue()


def display_factor(tile_h: int, tile_w: int) -> int:
    """The integer factor that brings a tile to at most :data:`DISPLAY_TILE` pixels a side."""
    return max(1, math.ceil(max(tile_h, tile_w) / DISPLAY_TILE))


def shrink(tiles: np.ndarray, factor: int, exact: bool) -> np.ndarray:
    """``(K, H, W, 3)`` tiles shrunk by ``factor``: box average, or every ``factor``-th pixel
    where colours must stay exact (masks, segmentations)."""
    factor = min(factor, *tiles.shape[1:3])  # never below one pixel a side (a 16 x 3,400 tile)
    if factor <= 1:
        return tiles
    if exact:
        return tiles[:, ::factor, ::factor]
    k, h, w, c = tiles.shape
    h2, w2 = h // factor, w // factor
    x = tiles[:, : h2 * factor, : w2 * factor].astype(np.float32)
    x = x.reshape(k, h2, factor, w2, factor, c).mean(axis=(2, 4))
    return np.round(x).astype(np.uint8)


def band_names(unit: int, band: str, full: bool = False) -> tuple[str, str]:
    """``(images, masks)`` file names of a unit's band (``full``: the zoom's full-size pair)."""
    tail = FULL if full else ""
    return f"{unit}-{band}{tail}.webp", f"{unit}-{band}{tail}.png"


def band_files(
    unit: int, band: str, images: np.ndarray, masks: list[np.ndarray], gap: int
) -> dict[str, bytes]:
    """The files of one band: ``images`` ``(K, H, W, 3)`` as WebP, ``masks`` rows as exact PNG."""
    factor = display_factor(*images.shape[1:3])
    small_img, small_masks = band_names(unit, band)
    out = {
        small_img: webp_bytes(grid([shrink(images, factor, exact=False)], gap)),
        small_masks: exact_png_bytes(grid([shrink(m, factor, True) for m in masks], gap)),
    }
    if factor > 1:
        full_img, full_masks = band_names(unit, band, full=True)
        out[full_img] = webp_bytes(grid([images], gap))
        out[full_masks] = exact_png_bytes(grid(masks, gap))
    return out

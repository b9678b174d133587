"""Side-by-side comparison images (PNG) and hand-written SVG charts.

Usage::

    tiles = to_uint8(images)                              # (N, H, W, 3) uint8
    png = tile_grid([[a, b, c], [d, e, f]], scale=2)      # rows of equally sized tiles -> PNG bytes
    svg = line_chart({"iou": [(1, .2), (2, .4)]}, x_label="units ablated", y_label="ACE")
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from html import escape

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


def tile_grid(rows: Sequence[Sequence[np.ndarray]], scale: int = 2) -> bytes:
    """PNG bytes of rows of (H, W, 3) uint8 tiles, upscaled by ``scale`` (nearest), white gaps."""
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    th, tw = h * scale, w * scale
    canvas = np.full((len(rows) * (th + GAP) - GAP, cols * (tw + GAP) - GAP, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            big = np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
            y, x = i * (th + GAP), j * (tw + GAP)
            canvas[y : y + th, x : x + tw] = big
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


_COLORS = {"iou": "#1f77b4", "optimized": "#d62728", "random": "#7f7f7f"}
_FALLBACK = ["#2ca02c", "#9467bd", "#8c564b", "#e377c2"]


def _fmt(v: float) -> str:
    if abs(v) < 1e-12:
        return "0"  # not "-0"
    text = f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"  # 3 digits: 0.015 and 0.0225 differ
    return text.replace("-", "\u2212")  # a real minus sign, as wide as the digits


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 x 10^k apart) covering ``[lo, hi]``; ``0`` if inside.

    Usage: ``nice_ticks(-0.013, 0.041) -> [-0.02, 0.0, 0.02, 0.04, 0.06]``.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo, lo + 1.0]
    raw = (hi - lo) / max(1, count - 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= raw)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    n = round((last - first) / step)
    return [round(first + i * step, 12) for i in range(n + 1)]


_LEGEND = {"iou": "IoU-ranked", "optimized": "optimized", "random": "random \u00b11 sd"}


def line_chart(
    series: dict[str, list[tuple[float, float]]],
    x_label: str,
    y_label: str,
    title: str = "",
    log2_x: bool = True,
    width: int = 460,
    height: int = 280,
    spread: dict[str, list[tuple[float, float]]] | None = None,
) -> str:
    """An SVG line chart (x on a log2 axis by default) with a legend; text is HTML-escaped.

    ``spread`` maps a series to its ``(x, sd)`` points: drawn as a shaded +-1 sd band (the
    random control's spread over its draws). Y ticks are round numbers and the axes leave
    room for negative labels and the rotated axis title.
    """
    left, right, top, bottom = 74, 116, 30, 42
    spread = spread or {}
    pts = [p for s in series.values() for p in s if math.isfinite(p[1])]
    band = [
        (x, y, sd)
        for name, sds in spread.items()
        for (x, y), (_, sd) in zip(series.get(name, []), sds, strict=False)
        if math.isfinite(y) and math.isfinite(sd)
    ]
    xs = [math.log2(p[0]) if log2_x else p[0] for p in pts] or [0.0]
    ys = [p[1] for p in pts] + [y - sd for _, y, sd in band] + [y + sd for _, y, sd in band]
    ys = ys or [0.0]
    x0, x1 = min(xs), max(xs)
    x1 = x1 if x1 > x0 else x0 + 1
    ticks_y = nice_ticks(min(0.0, min(ys)), max(0.0, max(ys)))
    y0, y1 = ticks_y[0], ticks_y[-1]
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + ((math.log2(x) if log2_x else x) - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    if title:
        out.append(f'<text x="{left}" y="17" font-size="13">{escape(title)}</text>')
    for yv in ticks_y:
        stroke = "#999" if abs(yv) < 1e-12 else "#e4e4e4"
        out.append(
            f'<line x1="{left - 3}" y1="{sy(yv):.1f}" x2="{left + pw}" '
            f'y2="{sy(yv):.1f}" stroke="{stroke}"/>'
            f'<text x="{left - 6}" y="{sy(yv) + 4:.1f}" text-anchor="end">{_fmt(yv)}</text>'
        )
    out.append(
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>'
    )
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>')
    for t in sorted({p[0] for s in series.values() for p in s}):
        out.append(
            f'<text x="{sx(t):.1f}" y="{top + ph + 15}" text-anchor="middle">{_fmt(t)}</text>'
        )
    out.append(
        f'<text x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append(
        f'<text x="14" y="{top + ph / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + ph / 2})">'
        f"{escape(y_label)}</text>"
    )
    for name in spread:
        pts_band = [(x, y, sd) for x, y, sd in band if (x, y) in set(series.get(name, []))]
        if len(pts_band) > 1:
            upper = " ".join(f"{sx(x):.1f},{sy(y + sd):.1f}" for x, y, sd in pts_band)
            lower = " ".join(f"{sx(x):.1f},{sy(y - sd):.1f}" for x, y, sd in reversed(pts_band))
            color = _COLORS.get(name, "#7f7f7f")
            out.append(f'<polygon points="{upper} {lower}" fill="{color}" fill-opacity="0.18"/>')
    for i, (name, points) in enumerate(series.items()):
        color = _COLORS.get(name, _FALLBACK[i % len(_FALLBACK)])
        good = [p for p in points if math.isfinite(p[1])]
        if good:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in good)
            dash = ' stroke-dasharray="4 3"' if name == "random" else ""
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>'
            )
            for x, y in good:
                out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color}"/>')
        ly = top + 16 * i + 6
        label = _LEGEND.get(name, name) if name != "random" or name in spread else name
        out.append(
            f'<line x1="{left + pw + 10}" y1="{ly}" x2="{left + pw + 28}" y2="{ly}" '
            f'stroke="{color}" stroke-width="2"/>'
            f'<text x="{left + pw + 32}" y="{ly + 4}">{escape(label)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def bar_chart(
    labels: Sequence[str], values: Sequence[float], x_label: str, title: str = "", width: int = 420
) -> str:
    """A horizontal SVG bar chart (one bar per label, top to bottom); text is HTML-escaped."""
    left, right, top, row = 70, 20, 28, 16
    height = top + row * len(labels) + 30
    finite = [v for v in values if math.isfinite(v)] or [0.0]
    lo, hi = min(0.0, min(finite)), max(0.0, max(finite))
    hi = hi if hi > lo else lo + 1
    pw = width - left - right

    def sx(v: float) -> float:
        return left + (v - lo) / (hi - lo) * pw

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    if title:
        out.append(f'<text x="{left}" y="16" font-size="13">{escape(title)}</text>')
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        if math.isfinite(v):
            a, b = sorted((sx(0.0), sx(v)))
            out.append(
                f'<rect x="{a:.1f}" y="{y + 2}" width="{max(b - a, 0.5):.1f}" '
                f'height="{row - 4}" fill="#d62728"/>'
            )
        out.append(
            f'<text x="{left - 6}" y="{y + row - 4}" text-anchor="end">{escape(label)}</text>'
        )
    base = top + row * len(labels)
    out.append(
        f'<line x1="{sx(0.0):.1f}" y1="{top}" x2="{sx(0.0):.1f}" y2="{base}" stroke="black"/>'
    )
    out.append(f'<text x="{left}" y="{base + 14}">{_fmt(lo)}</text>')
    out.append(f'<text x="{left + pw}" y="{base + 14}" text-anchor="end">{_fmt(hi)}</text>')
    out.append(
        f'<text x="{left + pw / 2}" y="{base + 26}" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"

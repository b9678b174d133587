"""Small dependency-free SVG charts: activation histograms, concept bars, a layer heatmap.

Usage::

    from dissect_report.render.svg import histogram_svg
    svg = histogram_svg(edges, counts, threshold=1.5)   # markupsafe.Markup, safe to inline

Every label that reaches a chart is escaped here; callers pass raw names.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence

import numpy as np
from markupsafe import Markup, escape
from PIL import Image

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def safe_color(color: object, default: str = "#9e9e9e") -> str:
    """A ``#rrggbb`` colour, or ``default`` when the report's value is anything else."""
    return color if isinstance(color, str) and _HEX.match(color) else default


def coarsen(edges: np.ndarray, counts: np.ndarray, max_bars: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge adjacent bins so that at most ``max_bars`` remain (counts add up exactly)."""
    n = len(counts)
    if n <= max_bars:
        return edges, counts
    cuts = np.linspace(0, n, max_bars + 1).round().astype(int)
    return edges[cuts], np.add.reduceat(counts, cuts[:-1])


def _tick(value: float) -> str:
    return f"{value:.3g}".replace("-", "\u2212")


def histogram_svg(
    edges: np.ndarray,
    counts: np.ndarray,
    threshold: float,
    width: int = 480,
    height: int = 150,
    max_bars: int = 64,
) -> Markup:
    """Pixels per activation bin (log scale), the threshold and the resolved range marked.

    ``edges`` ``(B+1,)`` may be open at both ends, as the pass writes them: bin 0 is
    ``(-inf, e1)`` (pixels below the resolved range, not split by concept) and the last bin
    ``[top, inf)``. Bin 0 is drawn as its own gray bar at the left; the inner bins (merged to
    at most ``max_bars``) span the resolved range, shaded; the last bin is drawn as one more
    bar of the inner width. Empty only when the edges carry no finite range at all.
    """
    edges = np.asarray(edges, dtype=np.float64)
    counts = np.asarray(counts)
    if len(counts) < 3 or len(edges) != len(counts) + 1:
        return Markup("")
    inner_e, inner_c = edges[1:-1], counts[1:-1]
    if not np.all(np.isfinite(inner_e)) or inner_e[-1] <= inner_e[0]:
        return Markup("")
    # Trailing empty bins only stretch the axis (the range is calibrated with 10% head room).
    used = np.nonzero(inner_c)[0]
    stop = min(len(inner_c), int(used[-1]) + 2) if len(used) else len(inner_c)
    stop = max(stop, 1)
    inner_e, inner_c = inner_e[: stop + 1], inner_c[:stop]
    inner_e, inner_c = coarsen(inner_e, inner_c, max_bars - 1)
    step = inner_e[-1] - inner_e[-2] if len(inner_e) > 1 else 1.0
    e = np.append(inner_e, inner_e[-1] + step)  # the open last bin, drawn one bar wide
    c = np.append(inner_c, counts[-1])  # the trimmed inner bins are empty
    lo, hi = float(e[0]), float(e[-1])
    left, gap, right, pad_t, pad_b = 44, 8, 8, 16, 30
    low_w = 28  # the below-range bar
    x0 = left + low_w + gap
    plot_w = width - x0 - right
    plot_h = height - pad_t - pad_b
    base = pad_t + plot_h
    peak = float(np.log1p(max(int(counts[0]), int(c.max()) if c.size else 0, 1)))

    def bar_h(n: float) -> float:
        # Log scale; any non-empty bin stays visible (>= 2 px).
        return 0.0 if n <= 0 else max(2.0, float(np.log1p(n)) / peak * (plot_h - 2))

    xs = x0 + (e - lo) / (hi - lo) * plot_w
    steps = "".join(f"V{base - bar_h(c[i]):.1f}H{xs[i + 1]:.1f}" for i in range(len(c)))
    h0 = bar_h(float(counts[0]))
    tx = x0 + (min(max(threshold, lo), hi) - lo) / (hi - lo) * plot_w
    anchor = "end" if tx > x0 + plot_w * 0.6 else "start"
    label_x = tx - 4 if anchor == "end" else tx + 4
    total = max(int(counts.sum()), 1)
    below = f"{100 * int(counts[0]) / total:.1f}%"
    return Markup(
        f'<svg class="dr-hist" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' role="img" aria-label="activation histogram: pixels per activation value, log scale">'
        f'<rect class="dr-hist-resolved" x="{x0:.1f}" y="{pad_t}" width="{plot_w:.1f}"'
        f' height="{plot_h}"><title>resolved range: pixels here are split by concept</title></rect>'
        f'<rect class="dr-hist-below" x="{left}" y="{base - h0:.1f}" width="{low_w}"'
        f' height="{h0:.1f}"><title>below {_tick(lo)}: {below} of pixels, not split by concept'
        f"</title></rect>"
        f'<path class="dr-hist-bars" d="M{x0:.1f} {base}{steps}V{base}Z"/>'
        f'<line class="dr-hist-axis" x1="{left}" x2="{width - right}" y1="{base}" y2="{base}"/>'
        f'<line class="dr-hist-thr" x1="{tx:.1f}" x2="{tx:.1f}" y1="{pad_t - 4}" y2="{base}"/>'
        f'<text x="{label_x:.1f}" y="{pad_t + 6}" text-anchor="{anchor}">'
        f"threshold {_tick(threshold)}</text>"
        f'<text x="{left + low_w / 2:.1f}" y="{base + 12}" text-anchor="middle">below</text>'
        f'<text x="{x0:.1f}" y="{base + 12}" text-anchor="start">{_tick(lo)}</text>'
        f'<text x="{width - right}" y="{base + 12}" text-anchor="end">{_tick(hi)}+</text>'
        f'<text x="{x0 + plot_w / 2:.1f}" y="{height - 3}" text-anchor="middle">'
        f"activation (resolved range shaded)</text>"
        f'<text x="4" y="{pad_t + 6}">pixels</text>'
        f'<text x="4" y="{pad_t + 18}">(log)</text></svg>'
    )


def heatmap_svg(
    concepts: Sequence[tuple[str, str]], layers: Sequence[str], counts: np.ndarray
) -> Markup:
    """Concepts (rows) x layers (columns): interpretable units, shaded by count; inline SVG."""
    cell_w, cell_h, label_w, head_h = 72, 20, 130, 22
    width = label_w + cell_w * len(layers)
    height = head_h + cell_h * len(concepts)
    top = max(int(counts.max()) if counts.size else 0, 1)
    out = [
        f'<svg class="dr-heatmap" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" role="img" aria-label="interpretable units per concept and layer">'
    ]
    for j, layer in enumerate(layers):
        x = label_w + j * cell_w + cell_w / 2
        out.append(f'<text x="{x:.0f}" y="15" text-anchor="middle">{escape(layer)}</text>')
    for i, (name, color) in enumerate(concepts):
        y = head_h + i * cell_h
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(name)}</text>')
        for j in range(len(layers)):
            n = int(counts[i, j])
            x = label_w + j * cell_w
            opacity = 0.12 + 0.88 * n / top if n else 0.04
            out.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}"'
                f' fill="{safe_color(color)}" fill-opacity="{opacity:.2f}"/>'
                f'<text x="{x + cell_w / 2:.0f}" y="{y + 14}" text-anchor="middle">{n}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16)


def _heat(share: float) -> str:
    """Dark blue (never) through teal to yellow (always): readable in both themes."""
    stops = ((0.0, (13, 8, 135)), (0.5, (33, 145, 140)), (1.0, (253, 231, 37)))
    share = min(1.0, max(0.0, share))
    for (a, ca), (b, cb) in zip(stops, stops[1:], strict=False):
        if share <= b:
            t = (share - a) / (b - a)
            r, g, bl = (round(x + t * (y - x)) for x, y in zip(ca, cb, strict=True))
            return f"#{r:02x}{g:02x}{bl:02x}"
    return "#fde725"


def position_svg(mean_mask: np.ndarray, cells: int = 16, size: int = 160) -> Markup:
    """A unit's mean mask as a small heat map with its colour scale.

    ``mean_mask`` ``(S, T)`` uint8 (255 = the mask covers the pixel on every sample), averaged
    into at most ``cells x cells`` squares; the scale under it reads 0% to 100% of samples.
    """
    m = np.asarray(mean_mask, dtype=np.float64) / 255.0
    if m.ndim != 2 or m.size == 0:
        return Markup("")
    rows, cols = m.shape
    ry, rx = max(1, -(-rows // cells)), max(1, -(-cols // cells))
    gy, gx = -(-rows // ry), -(-cols // rx)
    pad = np.full((gy * ry, gx * rx), np.nan)
    pad[:rows, :cols] = m
    grid = np.nanmean(pad.reshape(gy, ry, gx, rx), axis=(1, 3))
    w = size
    h = round(size * rows / cols)
    # One embedded PNG of the cells (~0.5 KB) instead of a rect and tooltip per cell (~28 KB a
    # unit page: 12 MB of the built-in world's site; bench/bench_site_size.py).
    rgb = np.array(
        [[_rgb(_heat(float(grid[i, j]))) for j in range(gx)] for i in range(gy)], np.uint8
    )
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    peak = 100 * float(np.nanmax(grid))
    parts = [
        f'<image x="0" y="0" width="{w}" height="{h}" preserveAspectRatio="none" '
        f'style="image-rendering:pixelated" href="{uri}"><title>most: {peak:.0f}% of samples'
        "</title></image>"
    ]
    scale_y = h + 10
    stops = "".join(f'<stop offset="{k * 25}%" stop-color="{_heat(k / 4)}"/>' for k in range(5))
    total_h = scale_y + 30
    return Markup(
        f'<svg class="dr-position" viewBox="0 0 {w} {total_h}" width="{w}" height="{total_h}" '
        'role="img" aria-label="where the unit fires: share of samples its mask covers each '
        'part of the image">'
        f'<defs><linearGradient id="dr-heat">{stops}</linearGradient></defs>'
        + "".join(parts)
        + f'<rect x="0" y="{scale_y}" width="{w}" height="8" fill="url(#dr-heat)"/>'
        f'<text x="0" y="{scale_y + 22}" font-size="11" fill="currentColor">never</text>'
        f'<text x="{w}" y="{scale_y + 22}" font-size="11" text-anchor="end" '
        'fill="currentColor">every sample</text></svg>'
    )

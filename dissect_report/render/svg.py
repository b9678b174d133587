"""Small dependency-free SVG charts: activation histograms, concept bars, a layer heatmap.

Usage::

    from dissect_report.render.svg import histogram_svg
    svg = histogram_svg(edges, counts, threshold=1.5)   # markupsafe.Markup, safe to inline

Every label that reaches a chart is escaped here; callers pass raw names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from markupsafe import Markup, escape

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


def histogram_svg(
    edges: np.ndarray,
    counts: np.ndarray,
    threshold: float,
    width: int = 360,
    height: int = 120,
    max_bars: int = 64,
) -> Markup:
    """Bars of ``counts`` (log scale) over bin ``edges``, with a line at ``threshold``."""
    edges, counts = coarsen(np.asarray(edges), np.asarray(counts), max_bars)
    lo, hi = float(edges[0]), float(edges[-1])
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return Markup("")
    pad_b = 16
    plot_h = height - pad_b
    xs = (edges - lo) / (hi - lo) * width
    ys = np.log1p(counts.astype(np.float64))
    top = ys.max() if ys.size and ys.max() > 0 else 1.0
    hs = ys / top * (plot_h - 4)
    # One step outline for all bars keeps the page small (a few hundred bytes per unit).
    steps = "".join(f"V{plot_h - hs[i]:.0f}H{xs[i + 1]:.0f}" for i in range(len(counts)))
    tx = (min(max(threshold, lo), hi) - lo) / (hi - lo) * width
    anchor = "end" if tx > width * 0.7 else "start"
    label_x = tx - 3 if anchor == "end" else tx + 3
    return Markup(
        f'<svg class="dr-hist" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' role="img" aria-label="activation histogram">'
        f'<path d="M{xs[0]:.0f} {plot_h}{steps}V{plot_h}Z"/>'
        f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="0" y2="{plot_h}"/>'
        f'<text x="{label_x:.1f}" y="10" text-anchor="{anchor}">threshold {threshold:.3g}</text>'
        f'<text x="0" y="{height - 3}">{lo:.3g}</text>'
        f'<text x="{width}" y="{height - 3}" text-anchor="end">{hi:.3g}</text></svg>'
    )


def concept_bars_svg(rows: Sequence[tuple[str, str, int]], width: int = 480) -> str:
    """Horizontal bars, one per ``(name, color, count)``; a standalone SVG document."""
    bar_h, gap, label_w = 16, 4, 130
    height = max(1, len(rows)) * (bar_h + gap) + gap
    top = max([count for _, _, count in rows] + [1])
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" font-family="sans-serif" font-size="11">'
    ]
    for i, (name, color, count) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = (width - label_w - 40) * count / top
        out.append(
            f'<text x="{label_w - 4}" y="{y + 12}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}"'
            f' fill="{safe_color(color)}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 12}">{count}</text>'
        )
    out.append("</svg>")
    return "".join(out)


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

"""Hand-written SVG charts (no plotting library, no scripts, every label escaped).

Usage::

    from dissect_report.charts import horizontal_bar_chart, line_chart, vertical_bar_chart
    svg = vertical_bar_chart([("tree", "#228b22", 12), ("sky", "#7ec0ee", 5)],
                              title="layer4: interpretable units per concept")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape


def vertical_bar_chart(
    bars: list[tuple[str, str, int]], *, title: str, ylabel: str = "units", width: int = 640
) -> str:
    """A vertical bar chart of ``(label, color, value)``, one bar per entry, in given order."""
    height, top, bottom, left, right = 300, 36, 90, 44, 12
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for _, _, v in bars] + [1])
    slot = plot_w / max(len(bars), 1)
    bar_w = max(min(slot * 0.7, 48.0), 2.0)
    base, mid = top + plot_h, top + plot_h / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" font-size="13">'
        f"{escape(title)}</text>",
        f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#444"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#444"/>',
        f'<text x="12" y="{mid:.1f}" transform="rotate(-90 12 {mid:.1f})" '
        f'text-anchor="middle">{escape(ylabel)}</text>',
    ]
    for tick in sorted({0, peak // 2, peak}):
        y = top + plot_h - plot_h * tick / peak
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
            f'<line x1="{left - 2}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="#444"/>'
        )
    if not bars:
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle">'
            "no interpretable units</text>"
        )
    for i, (label, color, value) in enumerate(bars):
        x = left + slot * i + (slot - bar_w) / 2
        h = plot_h * value / peak
        y = top + plot_h - h
        cx = x + bar_w / 2
        ly = top + plot_h + 8
        parts.append(
            f"<g><title>{escape(label)}: {value}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{escape(_color(color))}" stroke="#333" stroke-width="0.5"/>'
            f'<text x="{cx:.1f}" y="{y - 3:.1f}" text-anchor="middle">{value}</text>'
            f'<text x="{cx:.1f}" y="{ly}" transform="rotate(-45 {cx:.1f} {ly})" '
            f'text-anchor="end">{escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _color(color: str) -> str:
    """Only ``#rrggbb`` reaches the SVG; anything else becomes gray."""
    ok = (
        len(color) == 7
        and color[0] == "#"
        and all(c in "0123456789abcdefABCDEF" for c in color[1:])
    )
    return color if ok else "#888888"


def hex_color(rgb: tuple[int, int, int] | list[int]) -> str:
    r, g, b = (max(0, min(255, int(c))) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


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


def horizontal_bar_chart(
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

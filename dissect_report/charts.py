"""Hand-written SVG charts (no plotting library, no scripts, every label escaped).

Usage::

    from dissect_report.charts import bar_chart_svg
    svg = bar_chart_svg([("tree", "#228b22", 12), ("sky", "#7ec0ee", 5)],
                        title="layer4: interpretable units per concept")
"""

from __future__ import annotations

from html import escape


def bar_chart_svg(
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

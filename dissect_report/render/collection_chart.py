"""The collection page's chart of interpretable units per concept across reports.

Usage::

    from dissect_report.render.collection_chart import grouped_bars_svg, ordered_lines_svg
    counts = {"tree": [3, 5], "sky": [4, 4]}          # concept -> units per report, in order
    grouped_bars_svg(counts, ["model A", "model B"])   # reports with no order between them
    ordered_lines_svg(counts, ["step 1k", "step 2k"])  # training snapshots (--ordered)

Reports with no order between them are categories, so they get grouped bars (one group per
concept, one bar per report, each bar labelled with its count); a line between two unrelated
models would claim a trend. Training snapshots (``--ordered``) get one line per concept, each
named at its end (direct labels, nudged apart), so no colour has to be matched to a legend.
Colours come from :data:`PALETTE`, 20 colours that stay apart (Kelly's contrast set without
white and black); past 20 series the direct labels still name every one.
"""

from __future__ import annotations

import html

# Kelly's colours of maximum contrast, less white and black, darkest yellows last.
PALETTE = (
    "#0067a5",
    "#be0032",
    "#008856",
    "#f38400",
    "#875692",
    "#882d17",
    "#e68fac",
    "#848482",
    "#8db600",
    "#a1caf1",
    "#604e97",
    "#f99379",
    "#b3446c",
    "#654522",
    "#e25822",
    "#2b3d26",
    "#c2b280",
    "#f6a600",
    "#dcd300",
    "#f3c300",
)

_FONT = 'font-family="system-ui,sans-serif" font-size="12"'


def color(i: int) -> str:
    """The ``i``-th series' colour (cycles past :data:`PALETTE`; labels name every series)."""
    return PALETTE[i % len(PALETTE)]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _ticks(top: float) -> list[int]:
    step = max(1, round(top / 5)) if top > 0 else 1
    return list(range(0, int(top) + step, step))


def grouped_bars_svg(counts: dict[str, list[int]], names: list[str], width: int = 760) -> str:
    """Horizontal grouped bars: a group per concept, a bar per report, counts at bar ends."""
    bar, gap, left, right, top = 12, 10, 110, 40, 8
    legend_h = 18 * ((len(names) + 3) // 4)
    group = bar * len(names) + gap
    height = top + group * len(counts) + 24 + legend_h
    peak = max((v for row in counts.values() for v in row), default=0)
    ticks = _ticks(peak)
    scale = (width - left - right) / max(ticks[-1], 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dr-chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        'aria-label="interpretable units per concept, a bar per report">'
    ]
    axis_y = top + group * len(counts)
    for t in ticks:
        x = left + t * scale
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{axis_y}" stroke="#e4e4e4"/>'
            f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle" {_FONT}>{t}</text>'
        )
    for g, (concept, row) in enumerate(counts.items()):
        y0 = top + g * group
        out.append(
            f'<text x="{left - 6}" y="{y0 + group / 2:.1f}" text-anchor="end" '
            f'dominant-baseline="middle" {_FONT}>{_e(concept)}</text>'
        )
        for i, value in enumerate(row):
            y = y0 + i * bar
            w = value * scale
            label = f"{names[i]}: {value}"
            out.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" fill="{color(i)}">'
                f"<title>{_e(concept)}, {_e(label)}</title></rect>"
                f'<text x="{left + w + 3:.1f}" y="{y + bar / 2:.1f}" dominant-baseline="middle" '
                f'font-family="system-ui,sans-serif" font-size="10">{value}</text>'
            )
    ly = axis_y + 24
    for i, name in enumerate(names):
        x = left + (i % 4) * ((width - left) / 4)
        y = ly + 18 * (i // 4)
        out.append(
            f'<rect x="{x:.1f}" y="{y}" width="12" height="12" fill="{color(i)}"/>'
            f'<text x="{x + 16:.1f}" y="{y + 10}" {_FONT}>{_e(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _spread(ys: list[float], gap: float) -> list[float]:
    """Label positions near ``ys`` (any order) at least ``gap`` apart, order kept."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed = [0.0] * len(ys)
    last = -1e9
    for i in order:
        placed[i] = max(ys[i], last + gap)
        last = placed[i]
    return placed


def ordered_lines_svg(counts: dict[str, list[int]], names: list[str], width: int = 760) -> str:
    """A line per concept across ordered reports, each named at its right end."""
    left, right, top, plot_h = 44, 150, 12, 260
    peak = max((v for row in counts.values() for v in row), default=0)
    ticks = _ticks(peak)
    span = max(ticks[-1], 1)
    n = len(names)
    plot_w = width - left - right

    def sx(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def sy(v: float) -> float:
        return top + plot_h * (1 - v / span)

    ends = [sy(row[-1]) for row in counts.values()]
    labels = _spread(ends, 13)
    height = max(top + plot_h + 40, int(max(labels, default=0)) + 12)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dr-chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        'aria-label="interpretable units per concept across the reports, in order">'
    ]
    for t in ticks:
        y = sy(t)
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>'
            f'<text x="{left - 6}" y="{y:.1f}" text-anchor="end" dominant-baseline="middle" '
            f"{_FONT}>{t}</text>"
        )
    for i, name in enumerate(names):
        out.append(
            f'<text x="{sx(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" {_FONT}>'
            f"{_e(name)}</text>"
        )
    for k, (concept, row) in enumerate(counts.items()):
        points = " ".join(f"{sx(i):.1f},{sy(v):.1f}" for i, v in enumerate(row))
        c = color(k)
        out.append(
            f"<g><title>{_e(concept)}: {_e(', '.join(map(str, row)))}</title>"
            f'<polyline points="{points}" fill="none" stroke="{c}" stroke-width="2"/>'
        )
        out += [
            f'<circle cx="{sx(i):.1f}" cy="{sy(v):.1f}" r="3" fill="{c}"/>'
            for i, v in enumerate(row)
        ]
        x_end = sx(n - 1)
        out.append(
            f'<line x1="{x_end + 4:.1f}" y1="{sy(row[-1]):.1f}" x2="{x_end + 14:.1f}" '
            f'y2="{labels[k]:.1f}" stroke="{c}" stroke-width="2"/>'
            f'<rect x="{x_end + 14:.1f}" y="{labels[k] - 5:.1f}" width="10" height="10" fill="{c}"/>'
            f'<text x="{x_end + 28:.1f}" y="{labels[k]:.1f}" dominant-baseline="middle" '
            f"{_FONT}>{_e(concept)} {row[-1]}</text></g>"
        )
    out.append("</svg>")
    return "".join(out)

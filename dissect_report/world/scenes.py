"""A procedural outdoor world with exact per-pixel labels.

Usage::

    from dissect_report.world.scenes import render_scenes, CONCEPTS
    images, labels = render_scenes(seed=0, indices=range(16))
    images.shape, labels.shape       # (16, 64, 64, 3) uint8, (16, 64, 64) int64

Scene ``i`` is a pure function of ``(seed, i)``: its random stream is seeded by both, so any
scene can be re-rendered alone, and batches or shards never change it. Objects obey context:
sun and clouds in the sky, buildings and trees standing on the ground (never on water), roofs
on buildings, windows and doors on walls, doors touching the ground, trees on grass. Painting
is in painter's order, far to near, so nearer objects occlude farther ones, as in photos.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

SIZE = 64

CONCEPTS: list[str] = [
    "sky",
    "cloud",
    "sun",
    "mountain",
    "grass",
    "water",
    "road",
    "tree",
    "trunk",
    "building",
    "roof",
    "window",
    "door",
]
(SKY, CLOUD, SUN, MOUNTAIN, GRASS, WATER, ROAD, TREE, TRUNK, BUILDING, ROOF, WINDOW, DOOR) = range(
    len(CONCEPTS)
)

# Label colors for segmentation maps (not the colors objects are drawn in).
PALETTE: dict[str, tuple[int, int, int]] = {
    "sky": (120, 180, 240),
    "cloud": (235, 235, 245),
    "sun": (255, 210, 0),
    "mountain": (130, 100, 80),
    "grass": (80, 190, 60),
    "water": (20, 70, 200),
    "road": (110, 110, 110),
    "tree": (20, 110, 30),
    "trunk": (120, 70, 20),
    "building": (220, 150, 100),
    "roof": (200, 30, 40),
    "window": (60, 220, 230),
    "door": (150, 40, 170),
}

_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)

# Times of day: (probability, sky top, sky at horizon, light tint).
_TIMES = [
    (0.50, (0.25, 0.50, 0.95), (0.70, 0.85, 1.00), (1.00, 1.00, 1.00)),  # day
    (0.20, (0.25, 0.20, 0.50), (1.00, 0.55, 0.30), (1.00, 0.80, 0.65)),  # dusk
    (0.18, (0.55, 0.58, 0.62), (0.78, 0.80, 0.82), (0.85, 0.87, 0.90)),  # overcast
    (0.12, (0.02, 0.03, 0.12), (0.10, 0.12, 0.30), (0.35, 0.38, 0.55)),  # night
]
_TIME_P = np.array([t[0] for t in _TIMES])
_WALLS = np.array(
    [
        (0.92, 0.90, 0.85),
        (0.85, 0.75, 0.55),
        (0.70, 0.30, 0.22),
        (0.55, 0.40, 0.30),
        (0.65, 0.65, 0.68),
        (0.50, 0.60, 0.70),
        (0.95, 0.85, 0.45),
        (0.80, 0.55, 0.60),
    ],
    dtype=np.float32,
)
_ROOFS = np.array(
    [
        (0.60, 0.12, 0.10),
        (0.35, 0.22, 0.15),
        (0.25, 0.25, 0.28),
        (0.20, 0.35, 0.25),
        (0.15, 0.25, 0.45),
    ],
    dtype=np.float32,
)
_DOORS = np.array(
    [
        (0.30, 0.15, 0.05),
        (0.50, 0.10, 0.10),
        (0.10, 0.30, 0.15),
        (0.10, 0.15, 0.40),
        (0.15, 0.15, 0.15),
    ],
    dtype=np.float32,
)


@dataclass
class _Canvas:
    img: np.ndarray  # (H, W, 3) float32 in [0, 1]
    lab: np.ndarray  # (H, W) int64

    def paint(
        self, mask: np.ndarray, color: np.ndarray | tuple, label: int, rows: slice, cols: slice
    ) -> None:
        """Paint ``mask`` (a boolean window at ``rows, cols``) with a color or color field."""
        self.img[rows, cols][mask] = (
            np.asarray(color, dtype=np.float32)[..., :3] if np.ndim(color) == 1 else color[mask]
        )
        self.lab[rows, cols][mask] = label

    def rect(self, y0: int, y1: int, x0: int, x1: int, color: np.ndarray, label: int) -> None:
        y0, y1, x0, x1 = max(y0, 0), min(y1, SIZE), max(x0, 0), min(x1, SIZE)
        if y0 < y1 and x0 < x1:
            self.img[y0:y1, x0:x1] = color
            self.lab[y0:y1, x0:x1] = label


def _window(
    cy: float, cx: float, ry: float, rx: float
) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    """Clipped bounding box around a center and the local coordinate grids inside it."""
    y0, y1 = max(int(cy - ry) - 1, 0), min(int(cy + ry) + 2, SIZE)
    x0, x1 = max(int(cx - rx) - 1, 0), min(int(cx + rx) + 2, SIZE)
    return slice(y0, y1), slice(x0, x1), _YY[y0:y1, x0:x1], _XX[y0:y1, x0:x1]


def _ellipse(
    c: _Canvas, cy: float, cx: float, ry: float, rx: float, color, label: int, keep=None
) -> None:
    rows, cols, yy, xx = _window(cy, cx, ry, rx)
    if yy.size == 0:
        return
    mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    if keep is not None:
        mask &= keep[rows, cols]
    c.paint(mask, color, label, rows, cols)


def _shade(color: np.ndarray, rng: np.random.Generator, amount: float = 0.08) -> np.ndarray:
    return np.clip(color * (1 + rng.uniform(-amount, amount, 3)), 0, 1).astype(np.float32)


def _sky(c: _Canvas, rng: np.random.Generator, horizon: int, time: int) -> None:
    _, top_rgb, bottom_rgb, _ = _TIMES[time]
    top = _shade(np.array(top_rgb, np.float32), rng, 0.12)
    bottom = _shade(np.array(bottom_rgb, np.float32), rng, 0.12)
    t = (np.arange(horizon, dtype=np.float32) / max(horizon - 1, 1))[:, None, None]
    c.img[:horizon] = top + (bottom - top) * t
    c.lab[:horizon] = SKY
    if time == 3:  # stars
        n = rng.integers(5, 25)
        ys, xs = rng.integers(0, max(horizon - 3, 1), n), rng.integers(0, SIZE, n)
        c.img[ys, xs] = rng.uniform(0.5, 0.9, (n, 1))


def _sun(c: _Canvas, rng: np.random.Generator, horizon: int, time: int) -> None:
    if time in (2, 3) or rng.random() > 0.7:
        return
    r = rng.uniform(2.5, 6.0)
    cy = rng.uniform(r + 1, max(horizon - r - 2, r + 1.5))
    cx = rng.uniform(r, SIZE - r)
    color = np.array((1.0, 0.95, 0.7) if time == 0 else (1.0, 0.55, 0.25), np.float32)
    _ellipse(c, cy, cx, r, r, _shade(color, rng, 0.05), SUN, keep=c.lab == SKY)


def _clouds(c: _Canvas, rng: np.random.Generator, horizon: int, time: int) -> None:
    n = rng.integers(3, 7) if time == 2 else rng.integers(0, 5)
    base = {
        0: (0.97, 0.97, 1.0),
        1: (1.0, 0.75, 0.7),
        2: (0.72, 0.73, 0.76),
        3: (0.25, 0.27, 0.35),
    }[time]
    sky_rows = (horizon - 4 > _YY) & (c.lab != MOUNTAIN)
    for _ in range(n):
        cy = rng.uniform(2, max(horizon - 8, 3))
        cx = rng.uniform(-4, SIZE + 4)
        w = rng.uniform(4, 11)
        color = _shade(np.array(base, np.float32), rng, 0.06)
        for k in range(3):
            _ellipse(
                c,
                cy + rng.uniform(-1, 1),
                cx + (k - 1) * w * 0.6,
                rng.uniform(1.5, 3.2),
                w * rng.uniform(0.45, 0.7),
                color,
                CLOUD,
                keep=sky_rows,
            )


def _mountains(c: _Canvas, rng: np.random.Generator, horizon: int, light: np.ndarray) -> None:
    if rng.random() > 0.65:
        return
    for far in (True, False) if rng.random() < 0.4 else (False,):
        peaks = rng.integers(1, 4)
        x = np.arange(SIZE, dtype=np.float32)
        profile = np.zeros(SIZE, np.float32)
        px_all, h_all = (
            rng.uniform(-5, SIZE + 5, peaks),
            rng.uniform(5, min(22, horizon - 3), peaks),
        )
        if far:
            h_all = h_all * 1.25
        for px, h in zip(px_all, h_all, strict=True):
            profile = np.maximum(profile, h - rng.uniform(0.5, 1.4) * np.abs(x - px))
        top = horizon - profile
        mask = (top[None, :] <= _YY) & (horizon > _YY)
        base = np.array(
            (0.55, 0.60, 0.72)
            if far
            else rng.choice([(0.45, 0.38, 0.32), (0.40, 0.42, 0.45), (0.32, 0.38, 0.30)]),
            np.float32,
        )
        color = np.broadcast_to(_shade(base, rng) * light, (SIZE, SIZE, 3)).copy()
        color *= (1 - 0.12 * ((_XX % 7) < 3))[..., None]  # facets
        snow = (top[None, :] + 3 > _YY) & (profile[None, :] > 14)
        color[snow] = np.array((0.95, 0.95, 0.97), np.float32) * light
        c.paint(mask, color, MOUNTAIN, slice(0, SIZE), slice(0, SIZE))


def _ground(c: _Canvas, rng: np.random.Generator, horizon: int, light: np.ndarray) -> dict:
    """Grass, water and road; returns what objects need to know about the ground."""
    g = np.array(
        rng.choice(
            [(0.30, 0.60, 0.20), (0.45, 0.65, 0.25), (0.25, 0.45, 0.18), (0.55, 0.60, 0.25)]
        ),
        np.float32,
    )
    g = _shade(g, rng, 0.1) * light
    rows = slice(horizon, SIZE)
    depth = ((_YY[rows] - horizon) / (SIZE - horizon))[..., None]
    grass = (
        g * (0.8 + 0.35 * depth) * (1 + 0.08 * (((_YY[rows] + _XX[rows] * 0.5) % 4) < 2))[..., None]
    )
    c.img[rows] = grass
    c.lab[rows] = GRASS
    water_kind = rng.choice(3, p=[0.5, 0.2, 0.3])
    wcolor = _shade(np.array((0.15, 0.35, 0.70), np.float32), rng, 0.15) * light
    wfield = (
        np.broadcast_to(wcolor, (SIZE, SIZE, 3))
        * (1 + 0.18 * ((_YY % 3) == 0) * ((_XX + _YY) % 9 < 4))[..., None]
    )
    water: np.ndarray = np.zeros((SIZE, SIZE), bool)
    if water_kind == 1:  # sea along the horizon
        water = (horizon <= _YY) & (horizon + rng.integers(3, 12) > _YY)
    road = np.zeros((SIZE, SIZE), bool)
    if rng.random() < 0.5:
        start = horizon if water_kind != 1 else int(np.flatnonzero(water.any(axis=1)).max()) + 1
        xv, xb, wb = rng.uniform(12, 52), rng.uniform(4, 60), rng.uniform(5, 13)
        t = np.clip((_YY - start) / max(SIZE - 1 - start, 1), 0, 1)
        xc, hw = xv + (xb - xv) * t, 0.6 + (wb - 0.6) * t
        road = (start <= _YY) & (np.abs(_XX - xc) <= hw)
        rcolor = _shade(np.array((0.35, 0.35, 0.37), np.float32), rng, 0.15) * light
        rfield = np.broadcast_to(rcolor, (SIZE, SIZE, 3)).copy()
        dash = (
            (np.abs(_XX - xc) <= np.maximum(0.25 * t * 2, 0.3))
            & ((_YY.astype(int) // 3) % 2 == 0)
            & (t > 0.1)
        )
        rfield[dash] = np.array((0.9, 0.85, 0.4), np.float32) * light
        c.paint(road, rfield, ROAD, slice(0, SIZE), slice(0, SIZE))
    if water_kind == 2:  # a lake beside the road
        cy, ry = rng.uniform(horizon + 5, SIZE - 3), rng.uniform(2, 6)
        cx, rx = rng.uniform(0, SIZE), rng.uniform(6, 18)
        water = (((_YY - cy) / ry) ** 2 + ((_XX - cx) / rx) ** 2 <= 1) & (horizon < _YY) & ~road
    c.paint(water, wfield, WATER, slice(0, SIZE), slice(0, SIZE))
    return {"horizon": horizon}


def _building(
    c: _Canvas, rng: np.random.Generator, base: int, x0: int, w: int, s: float, light, night: bool
) -> None:
    ht = max(int(round(s * rng.uniform(10, 26))), 6)
    top = base - ht
    wall = _shade(_WALLS[rng.integers(len(_WALLS))], rng) * light
    wfield = np.broadcast_to(wall, (SIZE, SIZE, 3)).copy()
    if rng.random() < 0.4:  # brick or siding texture
        wfield *= (1 - 0.07 * ((_YY.astype(int) % 2) == 0))[..., None]
    rows, cols = slice(max(top, 0), base), slice(max(x0, 0), min(x0 + w, SIZE))
    c.paint(
        np.ones((rows.stop - rows.start, cols.stop - cols.start), bool),
        wfield[rows, cols],
        BUILDING,
        rows,
        cols,
    )
    roof = _shade(_ROOFS[rng.integers(len(_ROOFS))], rng) * light
    o = int(rng.integers(0, 2))
    if rng.random() < 0.6:  # gable
        rh = max(int(round(s * rng.uniform(3, 9))), 2)
        cx = x0 + (w - 1) / 2
        for j in range(rh):
            half = (w / 2 + o) * (j + 1) / rh
            c.rect(
                top - rh + j,
                top - rh + j + 1,
                int(round(cx - half + 0.5)),
                int(round(cx + half + 0.5)),
                roof,
                ROOF,
            )
    else:  # flat slab
        c.rect(top - 2, top, x0 - o, x0 + w + o, roof, ROOF)
    # Door: touching the ground, with a margin to the wall's sides.
    dw = max(int(round(s * rng.uniform(3, 5))), 2)
    dh = min(max(int(round(s * rng.uniform(5, 9))), 3), ht - 3)
    door_x = None
    if w >= dw + 2 and rng.random() < 0.9:
        door_x = int(rng.integers(x0 + 1, x0 + w - dw))
        c.rect(
            base - dh,
            base,
            door_x,
            door_x + dw,
            _shade(_DOORS[rng.integers(len(_DOORS))], rng) * light,
            DOOR,
        )
    # Windows: a grid on the wall, kept one pixel away from the door and the wall's edges.
    ws = max(int(round(s * rng.uniform(2, 3.6))), 2)
    gap = max(int(round(s * rng.uniform(2, 4))), 1)
    glass = np.array((0.95, 0.85, 0.35) if night else (0.25, 0.35, 0.50), np.float32)
    if rng.random() < 0.85:
        cols_n = (w - 2 + gap) // (ws + gap)
        rows_n = (ht - 3 + gap) // (ws + gap)
        xs0 = x0 + (w - (cols_n * (ws + gap) - gap)) // 2
        for r in range(rows_n):
            wy = top + 2 + r * (ws + gap)
            for k in range(cols_n):
                wx = xs0 + k * (ws + gap)
                if wy + ws > base - 1:
                    continue
                if (
                    door_x is not None
                    and wy + ws >= base - dh - 1
                    and wx < door_x + dw + 1
                    and wx + ws > door_x - 1
                ):
                    continue
                lit = (
                    glass
                    if (not night or rng.random() < 0.7)
                    else np.array((0.08, 0.08, 0.12), np.float32)
                )
                c.rect(
                    wy,
                    wy + ws,
                    wx,
                    wx + ws,
                    _shade(lit, rng, 0.1) * (1 if night else light),
                    WINDOW,
                )


def _tree(c: _Canvas, rng: np.random.Generator, base: int, x: float, s: float, light) -> None:
    tw = max(int(round(s * rng.uniform(1, 2.5))), 1)
    th = max(int(round(s * rng.uniform(2, 5))), 1)
    tx = int(round(x - tw / 2))
    c.rect(
        base - th,
        base,
        tx,
        tx + tw,
        _shade(np.array((0.35, 0.22, 0.10), np.float32), rng) * light,
        TRUNK,
    )
    leaf = np.array(
        rng.choice(
            [
                (0.15, 0.45, 0.15),
                (0.20, 0.55, 0.20),
                (0.10, 0.35, 0.18),
                (0.70, 0.40, 0.10),
                (0.55, 0.60, 0.15),
            ],
            p=[0.3, 0.25, 0.25, 0.1, 0.1],
        ),
        np.float32,
    )
    leaf = _shade(leaf, rng) * light
    if rng.random() < 0.6:  # round crown
        rx = max(s * rng.uniform(3, 7), 1.5)
        ry = rx * rng.uniform(0.9, 1.35)
        cy = base - th - ry + 1
        rows, cols, yy, xx = _window(cy, x, ry, rx)
        if yy.size:
            d = ((yy - cy) / ry) ** 2 + ((xx - x) / rx) ** 2
            field = (
                leaf
                * (1 - 0.15 * ((yy - cy) / ry > 0.2))[..., None]
                * (1 + 0.1 * (((yy + xx) % 3) == 0))[..., None]
            )
            c.paint(d <= 1, np.broadcast_to(field, d.shape + (3,)).copy(), TREE, rows, cols)
    else:  # conifer
        hh = max(s * rng.uniform(8, 16), 3)
        hw = hh * rng.uniform(0.3, 0.45)
        bottom = base - th + 1
        rows, cols, yy, xx = _window(bottom - hh / 2, x, hh / 2, hw)
        if yy.size:
            frac = (yy - (bottom - hh)) / hh
            mask = (frac >= 0) & (yy < bottom) & (np.abs(xx - x) <= hw * frac + 0.3)
            field = leaf * (1 - 0.12 * ((yy.astype(int) % 3) == 0))[..., None]
            c.paint(mask, np.broadcast_to(field, mask.shape + (3,)).copy(), TREE, rows, cols)


def _objects(c: _Canvas, rng: np.random.Generator, horizon: int, light, night: bool) -> None:
    ground = c.lab.copy()
    objs: list[tuple[int, int, float]] = []  # (base, kind, x): kind 0 building, 1 tree
    spans: list[tuple[int, int]] = []
    buildings: list[tuple[int, int, int, float]] = []
    n_build = rng.choice(4, p=[0.15, 0.3, 0.35, 0.2])
    for _ in range(n_build * 3):  # a few tries per building to find free, dry ground
        if len(buildings) >= n_build:
            break
        base = int(rng.integers(horizon + 2, SIZE))
        s = 0.35 + 0.9 * (base - horizon) / (SIZE - horizon)
        w = max(int(round(s * rng.uniform(10, 22))), 5)
        x0 = int(rng.integers(-w // 3, SIZE - 2 * w // 3))
        lo, hi = x0 - 2, x0 + w + 2
        if any(lo < b and a < hi for a, b in spans):
            continue
        under = ground[base, max(x0, 0) : min(x0 + w, SIZE)]
        if under.size == 0 or (under == WATER).any():
            continue
        spans.append((lo, hi))
        buildings.append((base, x0, w, s))
        objs.append((base, 0, len(buildings) - 1))
    for _ in range(rng.choice(7, p=[0.2, 0.15, 0.15, 0.15, 0.15, 0.1, 0.1])):
        base = int(rng.integers(horizon + 1, SIZE))
        x = rng.uniform(0, SIZE - 1)
        xi = int(round(x))
        if (
            ground[base, max(xi - 1, 0) : xi + 2].min() != GRASS
            or ground[base, max(xi - 1, 0) : xi + 2].max() != GRASS
        ):
            continue
        objs.append((base, 1, x))
    for base, kind, ref in sorted(objs, key=lambda o: (o[0], o[1])):
        if kind == 0:
            b, x0, w, s = buildings[int(ref)]
            _building(c, rng, b, x0, w, s, light, night)
        else:
            _tree(c, rng, base, ref, 0.35 + 0.9 * (base - horizon) / (SIZE - horizon), light)


def render_scene(seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """One scene: ``(image uint8 (64, 64, 3), labels int64 (64, 64))``."""
    rng = np.random.default_rng([int(seed), int(index)])
    c = _Canvas(np.zeros((SIZE, SIZE, 3), np.float32), np.zeros((SIZE, SIZE), np.int64))
    time = int(rng.choice(len(_TIMES), p=_TIME_P))
    light = np.array(_TIMES[time][3], np.float32) * rng.uniform(0.9, 1.1)
    horizon = int(rng.integers(22, 43))
    _sky(c, rng, horizon, time)
    _sun(c, rng, horizon, time)
    _mountains(c, rng, horizon, light)
    _clouds(c, rng, horizon, time)
    _ground(c, rng, horizon, light)
    _objects(c, rng, horizon, light, time == 3)
    img = c.img + rng.normal(0, 0.015, c.img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), c.lab


def render_scenes(seed: int, indices: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    """Render scenes ``indices`` of world ``seed``: ``(uint8 (N, 64, 64, 3), int64 (N, 64, 64))``."""
    idx = [int(i) for i in indices]
    images = np.empty((len(idx), SIZE, SIZE, 3), np.uint8)
    labels = np.empty((len(idx), SIZE, SIZE), np.int64)
    for k, i in enumerate(idx):
        images[k], labels[k] = render_scene(seed, i)
    return images, labels


def colorize(labels: np.ndarray) -> np.ndarray:
    """Label map ``(..., H, W)`` -> RGB ``uint8 (..., H, W, 3)`` in the palette's colors."""
    table = np.array([PALETTE[name] for name in CONCEPTS], np.uint8)
    return table[labels]


def _render_chunk(args: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    seed, start, stop = args
    images, labels = render_scenes(seed, range(start, stop))
    return images, labels.astype(np.uint8)


def render_dataset(
    seed: int, n: int, workers: int = 0, chunk: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """Scenes ``0..n-1`` of world ``seed`` rendered by ``workers`` processes (0: all cores).

    Returns ``(uint8 (n, 64, 64, 3), uint8 (n, 64, 64))``; identical to :func:`render_scenes`
    whatever the number of workers. Workers are forked: they need only NumPy.
    """
    from dissect_report.progress import bar

    workers = workers or os.cpu_count() or 1
    chunks = [(seed, s, min(s + chunk, n)) for s in range(0, n, chunk)]
    if workers == 1 or len(chunks) == 1:
        parts = [_render_chunk(c) for c in bar(chunks, desc="render scenes", unit="chunk")]
    else:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(workers) as pool:
            parts = list(
                bar(
                    pool.imap(_render_chunk, chunks),
                    total=len(chunks),
                    desc="render scenes",
                    unit="chunk",
                )
            )
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

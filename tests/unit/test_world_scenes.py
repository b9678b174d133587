"""The procedural world: determinism and context invariants on rendered labels."""

from __future__ import annotations

import numpy as np
import pytest

from dissect_report.world.scenes import (
    BUILDING,
    CLOUD,
    CONCEPTS,
    DOOR,
    GRASS,
    PALETTE,
    ROAD,
    ROOF,
    SUN,
    TREE,
    TRUNK,
    WATER,
    WINDOW,
    colorize,
    render_scenes,
)


@pytest.fixture(scope="module")
def world() -> tuple[np.ndarray, np.ndarray]:
    return render_scenes(3, range(300))


def _neighbors(labels: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Labels of the 4-neighbors of every masked pixel (-1 outside the image)."""
    padded = np.pad(labels, ((0, 0), (1, 1), (1, 1)), constant_values=-1)
    n, h, w = labels.shape
    idx = np.nonzero(mask)
    out = {}
    for name, (dy, dx) in {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}.items():
        out[name] = padded[idx[0], idx[1] + 1 + dy, idx[2] + 1 + dx]
    return out


def test_shapes_types_and_concepts(world):
    images, labels = world
    assert images.shape == (300, 64, 64, 3) and images.dtype == np.uint8
    assert labels.shape == (300, 64, 64) and labels.dtype == np.int64
    assert len(CONCEPTS) >= 12 and set(PALETTE) == set(CONCEPTS)
    present = np.bincount(labels.ravel(), minlength=len(CONCEPTS))
    assert (present > 0).all(), "every concept appears in 300 scenes"
    assert colorize(labels[:2]).shape == (2, 64, 64, 3)


def test_scene_is_a_pure_function_of_seed_and_index(world):
    images, labels = world
    one_img, one_lab = render_scenes(3, [137])
    assert np.array_equal(one_img[0], images[137]) and np.array_equal(one_lab[0], labels[137])
    other, _ = render_scenes(4, [137])
    assert not np.array_equal(other[0], images[137])


def test_scenes_vary_widely(world):
    images, labels = world
    # Sky and grass coverage and brightness vary a lot from scene to scene.
    sky = (labels == 0).mean((1, 2))
    assert sky.std() > 0.05
    assert images.mean((1, 2, 3)).std() > 15
    assert len({tuple(np.unique(lab)) for lab in labels}) > 50


def test_sun_and_clouds_only_in_the_sky(world):
    _, labels = world
    ground = np.isin(labels, [GRASS, WATER, ROAD])
    rows = np.arange(64)[None, :, None]
    first_ground = np.where(ground, rows, 64).min(1)  # per scene and column
    sky_things = np.isin(labels, [SUN, CLOUD])
    last_sky_thing = np.where(sky_things, rows, -1).max(1)
    assert (last_sky_thing < first_ground).all()


def test_doors_are_on_walls_and_touch_the_ground(world):
    _, labels = world
    doors = labels == DOOR
    assert doors.sum() > 100
    nb = _neighbors(labels, doors)
    allowed = [DOOR, BUILDING, GRASS, ROAD, TREE, TRUNK, -1]
    for side, values in nb.items():
        assert np.isin(values, allowed).all(), f"door next to {set(values) - set(allowed)} ({side})"
    below = nb["down"][nb["down"] != DOOR]
    assert np.isin(below, [GRASS, ROAD, TREE, TRUNK, -1]).all()
    sides = np.concatenate([nb["left"], nb["right"], nb["up"]])
    assert (sides == BUILDING).any()


def test_windows_sit_inside_walls(world):
    _, labels = world
    windows = labels == WINDOW
    assert windows.sum() > 100
    for values in _neighbors(labels, windows).values():
        assert np.isin(values, [WINDOW, BUILDING, TREE, TRUNK, -1]).all()


def _components(mask: np.ndarray) -> list[list[tuple[int, int]]]:
    seen = np.zeros_like(mask)
    comps = []
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        stack, comp = [(y, x)], []
        seen[y, x] = True
        while stack:
            cy, cx = stack.pop()
            comp.append((cy, cx))
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < 64 and 0 <= nx < 64 and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        comps.append(comp)
    return comps


def test_roofs_stand_on_buildings(world):
    _, labels = world
    checked = 0
    for lab in labels[:120]:
        for comp in _components(lab == ROOF):
            below = {lab[y + 1, x] for y, x in comp if y + 1 < 64}
            if not below or max(y for y, _ in comp) == 63:
                continue
            checked += 1
            assert below & {BUILDING, WINDOW, TREE, TRUNK}, "a roof with no building under it"
    assert checked > 20


def test_trees_stand_on_grass(world):
    _, labels = world
    trunks = labels == TRUNK
    below = _neighbors(labels, trunks)["down"]
    base = below[below != TRUNK]
    assert base.size > 50
    # Occluders (nearer trees and buildings) may hide a base; water, road and sky never carry one.
    assert np.isin(base, [GRASS, TREE, BUILDING, ROOF, WINDOW, DOOR]).all()
    assert (base == GRASS).mean() > 0.5

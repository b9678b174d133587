"""The Paint page in a real headless Chromium, from file://, offline, against PyTorch.

A small report of the built-in world goes through the real pipeline (dissect, intervene,
paint, render). The page paints "tree" into a grass patch of a sample with the mouse; the
canvas must match the same edit made in PyTorch by the interventions' edit primitive
(``insert`` / ``ablate`` of dissect_report/modeltools/edit.py) within ``TOLERANCE``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from dissect_report import world
from dissect_report.cli import main
from dissect_report.images import to_uint8
from dissect_report.modeltools.edit import ablate, edit, insert
from dissect_report.sampler import latents

# The site's browser fixtures (tests/browser/conftest.py): real Chromium; an offline context
# that fails the test on any request that is not file:/data:/blob:, on console errors and dialogs.

pytestmark = pytest.mark.browser

# Mean absolute difference, on 0..255, between the canvas and PyTorch's image. The page runs
# from the float16 activations and float16 weights that the site carries (PyTorch from float32):
# measured 0.005 (rounding to 0..255 hides the rest); the edit itself changes its patch by ~35,
# so a wrong unit, level, cell or channel order lands far above the tolerance.
TOLERANCE = 0.5
PAINT_SAMPLES = 4


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("paint") / "report"
    dissect = ["-q", "dissect", "--layers", "layer2", "--samples", "64", "--no-images"]
    assert main([*dissect, "--calibration-samples", "32", "--out", str(out)]) == 0
    intervene = ["-q", "intervene", str(out), "--concepts", "tree", "--samples", "4",
                 "--insert-samples", "1", "--optimize-steps", "0", "--compare-samples", "0",
                 "--random-trials", "0"]  # fmt: skip
    assert main(intervene) == 0
    paint = ["-q", "paint", str(out), "--paint-samples", str(PAINT_SAMPLES)]
    assert main([*paint, "--brush-select", "8", "--brush-measure", "8"]) == 0
    assert main(["-q", "render", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def torch_side(report: Path) -> dict:
    """The generator, segmenter and the edit's inputs, read from the report the page uses."""
    meta = json.loads((report / "paint/paint.json").read_text())
    brush = next(c for c in meta["concepts"] if c["name"] == "tree")
    levels = pq.read_table(report / "concepts/tree/levels.parquet").to_pylist()
    generator = world.load_generator().eval()
    z = latents(meta["seed"], meta["samples"], generator.z_dim)
    seg = world.load_segmenter()
    with torch.no_grad():
        originals = generator(z)
    return {
        "meta": meta,
        "generator": generator,
        "segmenter": seg,
        "z": z,
        "units": brush["units"][: brush["n"]],  # the brush at its default count
        "brush": brush,
        "level": torch.tensor([r["level"] for r in sorted(levels, key=lambda r: r["unit"])]),
        "labels": seg.segment(originals),
        "originals": to_uint8(originals),
    }


def _open(p, report: Path) -> None:
    p.goto((report / "site/paint/index.html").as_uri())
    p.wait_for_function("document.querySelector('[data-dr-paint]').dataset.state === 'ready'")


def _canvas(p) -> np.ndarray:
    rgba = p.evaluate(
        """() => { const c = document.querySelector('[data-dr-paint-canvas]');
                   return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }"""
    )
    return np.array(rgba, np.uint8).reshape(64, 64, 4)[..., :3]


def _paint(p, cells: list[tuple[int, int]], grid: int) -> None:
    """One stroke: press on the first cell, drag through the others, release."""
    p.locator("[data-dr-paint-grid]").scroll_into_view_if_needed()
    box = p.locator("[data-dr-paint-grid]").bounding_box()
    step = box["width"] / grid
    before = p.evaluate("window.DR_PAINT_TIMES.edits.length")
    for k, (r, c) in enumerate(cells):
        p.mouse.move(box["x"] + (c + 0.5) * step, box["y"] + (r + 0.5) * step, steps=2)
        if k == 0:
            p.mouse.down()
    p.mouse.up()
    p.wait_for_function(f"window.DR_PAINT_TIMES.edits.length > {before}")
    p.wait_for_function("document.querySelector('[data-dr-paint]').dataset.state === 'ready'")


def _torch_edit(side: dict, sample: int, setter) -> np.ndarray:
    with torch.no_grad(), edit(side["generator"], side["meta"]["layer"], setter):
        return to_uint8(side["generator"](side["z"][sample : sample + 1]))[0]


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    value = float(np.abs(a.astype(float) - b.astype(float)).mean())
    print(f"mean absolute difference {value:.3f}")  # shown with -s: the figures in the README
    return value


def test_paint_tree_matches_pytorch_and_remove_erases_it(
    report: Path, torch_side: dict, page
) -> None:
    p, watch = page
    side = torch_side
    tree, grass = world.CONCEPTS.index("tree"), world.CONCEPTS.index("grass")
    _, h, w = side["meta"]["shape"]
    cell = 64 // h
    labels = side["labels"].reshape(PAINT_SAMPLES, h, cell, w, cell)
    per_cell = [(labels == k).sum(dim=(2, 4)) for k in (tree, grass)]  # (N, h, w) pixels

    # Where to add a tree: the 2x2 patch of grass with no tree in it, most grass first.
    sites = [
        (int(per_cell[1][s, r : r + 2, c : c + 2].sum()), s, r, c)
        for s in range(PAINT_SAMPLES)
        for r in range(h - 1)
        for c in range(w - 1)
        if int(per_cell[0][s, r : r + 2, c : c + 2].sum()) == 0
    ]
    _, sample, r0, c0 = max(sites)
    _open(p, report)
    p.locator("[data-dr-paint-samples] button").nth(sample).click()
    p.wait_for_function("document.querySelector('[data-dr-paint]').dataset.state === 'ready'")
    original = _canvas(p)
    assert _mad(original, side["originals"][sample]) < TOLERANCE  # the unedited image
    p.select_option(
        "[data-dr-paint-concept]", value=str(side["meta"]["concepts"].index(side["brush"]))
    )
    units = p.locator("[data-dr-paint-units] a")
    assert units.count() == len(side["units"])  # the brush's units, linked to their pages
    assert (
        units.first.get_attribute("href") == f"../layers/layer2/units/{side['units'][0]}/index.html"
    )
    note = p.inner_text("[data-dr-paint-brush]")
    assert f"{round(100 * side['brush']['precision'])}% of the pixels" in note
    _paint(p, [(r0, c0), (r0, c0 + 1), (r0 + 1, c0 + 1), (r0 + 1, c0)], w)
    painted = _canvas(p)

    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[r0 : r0 + 2, c0 : c0 + 2] = True
    expected = _torch_edit(side, sample, insert(side["units"], side["level"], region=mask))
    patch = (slice(r0 * cell, (r0 + 2) * cell), slice(c0 * cell, (c0 + 2) * cell))
    assert _mad(painted[patch], original[patch]) > 20 * TOLERANCE  # the edit did something ...
    assert _mad(painted, expected) < TOLERANCE  # ... and the same as PyTorch's
    seg = side["segmenter"]
    trees = int(
        (
            seg.segment(torch.from_numpy(painted).permute(2, 0, 1)[None].float() / 127.5 - 1)
            == tree
        ).sum()
    )
    assert trees > 0  # a tree now stands on the grass

    # Remove: tree units off in every cell with tree pixels, in the sample with most tree.
    p.click("[data-dr-paint-reset]")
    p.wait_for_function("document.querySelector('[data-dr-paint]').dataset.state === 'ready'")
    assert _mad(_canvas(p), original) < 0.01
    sample = int(per_cell[0].sum(dim=(1, 2)).argmax())
    trees = per_cell[0][sample]
    cells = sorted(((int(trees[r, c]), r, c) for r in range(h) for c in range(w)), reverse=True)
    cells = [(r, c) for n, r, c in cells[:6] if n > 0]  # its most wooded cells, one stroke each
    assert cells, "no tree in the paint samples"
    p.locator("[data-dr-paint-samples] button").nth(sample).click()
    p.wait_for_function("document.querySelector('[data-dr-paint]').dataset.state === 'ready'")
    before = _canvas(p)
    p.check("[name=dr-paint-mode][value=remove]")
    for r, c in cells:  # one stroke per cell: each click is one undo step
        _paint(p, [(r, c)], w)
    removed = _canvas(p)
    mask = torch.zeros(h, w, dtype=torch.bool)
    for r, c in cells:
        mask[r, c] = True
    expected = _torch_edit(side, sample, ablate(side["units"], region=mask))
    assert _mad(removed, expected) < TOLERANCE
    change = np.abs(removed.astype(float) - before.astype(float)).mean(axis=2)
    inside = mask.repeat_interleave(cell, 0).repeat_interleave(cell, 1).numpy()
    assert change[inside].mean() > 3 * change[~inside].mean()  # it changed where the tree was
    tree_px = lambda img: int(  # noqa: E731
        (
            seg.segment(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1) == tree
        ).sum()
    )
    assert tree_px(removed) < tree_px(before)

    # Undo every stroke: back to the original; download gives a PNG of the canvas.
    for _ in cells:
        p.click("[data-dr-paint-undo]")
    p.wait_for_function("document.querySelector('[data-dr-paint-undo]').disabled")
    p.wait_for_function("document.querySelector('[data-dr-paint]').dataset.state === 'ready'")
    assert _mad(_canvas(p), before) < 0.01
    p.click("[data-dr-paint-download]")
    href = p.get_attribute("[data-dr-paint-download]", "href")
    assert href.startswith("data:image/png;base64,")
    assert not watch.errors
    # Only files of the site (at most the page's own blob: module and data: download besides);
    # the WASM and the model arrive inside the scripts, never through a request of their own.
    other = [u for u in watch.requests if not u.startswith("file:")]
    assert all(u.startswith(("blob:", "data:")) for u in other), other
    loaded = {u.rsplit("/", 1)[-1] for u in watch.requests if u.startswith("file:")}
    assert {"ort.js", "model.js", "data.js", "paint.js"} <= loaded
    assert not any(u.endswith((".wasm", ".onnx", ".mjs")) for u in watch.requests)


def _history(p) -> list[str]:
    return p.eval_on_selector_all(
        "[data-dr-paint-history] li", "els => els.map(e => e.textContent)"
    )


def test_paint_one_unit_from_its_unit_page_with_strength_and_undo_of_any_stroke(
    report: Path, torch_side: dict, page
) -> None:
    """A unit page links to Paint with that unit alone; two strokes (full and half strength),
    the first undone from the history: the canvas is PyTorch's edit of the second alone."""
    p, watch = page
    side = torch_side
    unit = int(side["units"][0])  # tree's best unit, alone
    _, h, w = side["meta"]["shape"]
    cell = 64 // h
    p.goto((report / f"site/layers/layer2/units/{unit}/index.html").as_uri())
    p.click("a[data-dr-paint-unit]")
    p.wait_for_url(f"**/paint/index.html?units={unit}")
    p.wait_for_function("document.querySelector('[data-dr-paint]').dataset.state === 'ready'")
    assert p.input_value("[data-dr-paint-concept]") == "custom"
    assert p.inner_text("[data-dr-paint-chosen] a") == str(unit)
    labels = p.eval_on_selector_all("[data-dr-paint-unit] option", "els => els.length")
    assert labels == side["meta"]["shape"][0]  # every unit of the layer can be picked
    original = _canvas(p)
    assert _mad(original, side["originals"][0]) < TOLERANCE

    first = [(1, 1), (1, 2), (2, 2), (2, 1)]
    _paint(p, first, w)
    p.fill("[data-dr-paint-strength]", "0.5")
    second = [(h - 3, w - 3), (h - 3, w - 2), (h - 2, w - 2)]
    _paint(p, second, w)
    assert len(_history(p)) == 2 and "strength 0.5" in _history(p)[1]
    p.click("[data-dr-paint-history] li[data-stroke='0'] button")  # undo the first stroke only
    p.wait_for_function("document.querySelectorAll('[data-dr-paint-history] li').length === 1")
    p.wait_for_function("document.querySelector('[data-dr-paint]').dataset.state === 'ready'")
    painted = _canvas(p)

    mask = torch.zeros(h, w)
    for r, c in second:
        mask[r, c] = 0.5  # strength: the edit's soft mask
    expected = _torch_edit(side, 0, insert([unit], side["level"], region=mask))
    assert _mad(painted, expected) < TOLERANCE
    region = (slice((h - 3) * cell, (h - 1) * cell), slice((w - 3) * cell, (w - 1) * cell))
    assert _mad(painted[region], original[region]) > 2 * TOLERANCE  # one unit did something
    untouched = (slice(cell, 3 * cell), slice(cell, 3 * cell))
    assert _mad(painted[untouched], original[untouched]) < 2 * TOLERANCE  # stroke 1 is gone
    assert not watch.errors

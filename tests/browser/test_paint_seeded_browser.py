"""The Paint page of a ``--seeded-noise`` generator, in headless Chromium, against PyTorch.

The generator (tests/models/noisy_world.py) draws StyleGAN-like noise inside forward after
the painted layer. The adapter seeds that noise by hashing each latent, which no exporter can
trace; the exported tail replays the page samples' recorded draws instead. The canvas must
match PyTorch's image of the same sample with the same seeded noise, before and after a stroke.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from dissect_report.cli import main
from dissect_report.images import to_uint8
from dissect_report.models import load_generator
from dissect_report.modeltools.edit import edit, insert
from dissect_report.sampler import latents

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from test_paint_browser import TOLERANCE, _canvas, _mad, _open, _paint  # noqa: E402

pytestmark = pytest.mark.browser
GENERATOR = "noisy_world:make_generator"
SAMPLES = 3


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("paint-seeded") / "report"
    gen = ["--generator", GENERATOR, "--seeded-noise"]
    dissect = ["-q", "dissect", *gen, "--layers", "layer2", "--samples", "64", "--no-images"]
    assert main([*dissect, "--calibration-samples", "32", "--out", str(out)]) == 0
    intervene = ["-q", "intervene", str(out), "--concepts", "tree", "--samples", "4",
                 "--insert-samples", "1", "--optimize-steps", "0", "--compare-samples", "0",
                 "--random-trials", "0"]  # fmt: skip
    assert main(intervene) == 0
    paint = ["-q", "paint", str(out), "--paint-samples", str(SAMPLES)]
    assert main([*paint, "--brush-select", "8", "--brush-measure", "8"]) == 0
    assert main(["-q", "render", str(out)]) == 0
    return out


def test_seeded_noise_generator_gets_a_paint_page_that_matches_pytorch(report: Path, page) -> None:
    meta = json.loads((report / "paint/paint.json").read_text())
    assert meta["available"] and meta["note"] is None
    generator = load_generator(GENERATOR, seeded_noise=True)
    z = latents(meta["seed"], meta["samples"], generator.z_dim)
    with torch.no_grad():
        originals = to_uint8(generator(z))
        unseeded = to_uint8(load_generator(GENERATOR)(z))  # the noise matters: not this
    assert float(abs(originals.astype(float) - unseeded.astype(float)).mean()) > 1.0
    p, _watch = page
    _open(p, report)
    for sample in range(SAMPLES):  # each sample's own noise, replayed by the page's tail
        p.locator("[data-dr-paint-samples] button").nth(sample).click()
        p.wait_for_function("document.querySelector('[data-dr-paint]').dataset.state === 'ready'")
        assert _mad(_canvas(p), originals[sample]) < TOLERANCE
    brush = next(c for c in meta["concepts"] if c["name"] == "tree")
    units = brush["units"][: brush["n"]]
    levels = pq.read_table(report / "concepts/tree/levels.parquet").to_pylist()
    level = torch.tensor([r["level"] for r in sorted(levels, key=lambda r: r["unit"])])
    p.select_option("[data-dr-paint-concept]", value=str(meta["concepts"].index(brush)))
    _, h, w = meta["shape"]
    _paint(p, [(2, 2), (2, 3), (3, 3), (3, 2)], w)
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[2:4, 2:4] = True
    sample = SAMPLES - 1
    with torch.no_grad(), edit(generator, meta["layer"], insert(units, level, region=mask)):
        expected = to_uint8(generator(z[sample : sample + 1]))[0]
    painted = _canvas(p)
    cell = 64 // h
    patch = (slice(2 * cell, 4 * cell), slice(2 * cell, 4 * cell))
    assert _mad(painted[patch], originals[sample][patch]) > 10 * TOLERANCE  # it did something ...
    assert _mad(painted, expected) < TOLERANCE  # ... the same as PyTorch with the same noise

"""Every stage takes its tensors from Models: generators and segmenters that assert what they get.

The models of ``tests/device_toys.py`` are the built-in world's in float16 (generator),
bfloat16 (segmenter) and float64 (discriminator), each asserting the dtype and device of its
input. On a CPU a dtype other than float32 stands in
for a device mismatch: a stage that made a latent or placed images itself (float32, CPU)
instead of asking :class:`dissect_report.models.Models` fails inside the model. ``run`` covers
the dissection, the unit images, the interventions (ablation, insertion, the optimized set),
the artifacts (scan, FSD to real images, screen, repair) and the Paint export; a second
``artifacts`` call brings a float64 discriminator.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from test_cli_dissect import assert_user_error, cli  # noqa: E402

CONFIG = """
[dissect]
samples = 24
layers = ["layer4"]
calibration_samples = 16
batch_size = 12
top_k = 3

[intervene]
max_concepts = 1
samples = 8
max_units = 2
random_trials = 1
insert_samples = 2
compare_samples = 1
optimize_steps = 2
optimize_batch = 2
unit_samples = 0
batch_size = 8

[artifacts]
samples = 12
repair_samples = 8
reference_samples = 8
candidates = 2
repair_units = 1
show_units = 1
top_k = 3
worst_samples = 1
batch_size = 8
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dissect_report import world

    root = tmp_path_factory.mktemp("device")
    (root / "config.toml").write_text(CONFIG)
    images, _ = world.render_scenes(7, list(range(16)))
    np.savez(root / "real.npz", images=images)
    return root


def test_every_stage_takes_its_tensors_from_models(setup: Path) -> None:
    # A float16 generator and a bfloat16 segmenter: every stage runs, and any tensor a stage
    # made itself (float32) would fail the models' assertions.
    out = setup / "report"
    cli(
        "run", "--config", str(setup / "config.toml"), "--out", str(out), "--no-site",
        "--generator", "device_toys:float16_generator",
        "--segmenter", "device_toys:bfloat16_segmenter",
        "--paint", "--paint-samples", "2", "--real-images", str(setup / "real.npz"),
        "--brush-select", "4", "--brush-measure", "4",
        check=True,
    )  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    assert {k: manifest["sections"][k] for k in ("interventions", "artifacts", "paint")} == {
        "interventions": True,
        "artifacts": True,
        "paint": True,
    }
    assert manifest["interventions"]["optimize"] is True  # the optimized set ran (gradients)
    assert manifest["artifacts"]["metric"] == "fsd"  # the real images went through Models
    units = (out / "layers" / "layer4" / "units.csv").read_text().splitlines()
    assert len(units) == 65  # statistics in float32: a row for each of the 64 units
    assert any((out / "layers" / "layer4" / "units").iterdir())  # unit images
    paint = json.loads((out / "paint" / "paint.json").read_text())
    assert paint["available"], paint["note"]  # exported from a float32 CPU copy
    assert np.load(out / "paint" / "latents.npy").dtype == np.float32
    # The brush was learned (gradients through float16 and bfloat16) and measured there too.
    assert paint["concepts"][0]["method"] == "optimized" and paint["concepts"][0]["strokes"] > 0
    # The discriminator gets its images in its own dtype (float64) too: the realism metric.
    cli(
        "artifacts", str(out), "--config", str(setup / "config.toml"), "--metric", "realism",
        "--discriminator", "device_toys:float64_discriminator",
        check=True,
    )  # fmt: skip
    assert json.loads((out / "manifest.json").read_text())["artifacts"]["metric"] == "realism"


def test_a_model_that_cannot_run_is_one_line(setup: Path) -> None:
    # 'layers' runs a generator alone: latents in its dtype there too.
    assert "layer4 " in cli("layers", "--generator", "device_toys:float16_generator").stdout
    base = ["check", "--segmenter", "builtin", "--layers", "layer4"]
    assert_user_error(
        cli(*base, "--generator", "device_toys:meta_generator"), "generator", "meta device"
    )
    assert_user_error(
        cli(*base, "--generator", "device_toys:mixed_generator"),
        "mix dtypes",
        "torch.float16",
        "torch.float32",
    )

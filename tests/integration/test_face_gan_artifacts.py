"""The artifact stage on a generator nobody on this project wrote: PyPI's DCGAN face generator.

It ships no discriminator and no real images. Without either there is no quality metric, so
the stage must rank the units, draw them, repair nothing, and say why and which flag would
enable a repair. With the package's own discriminator architecture (it ends in nn.Sigmoid),
the sigmoid must be detected and undone before its realism is used. Small sizes: the point is
the verdict, not the figures (README "Your own model" has those).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytest.importorskip("gan_face_generate", reason="pip install --no-deps gan-face-generate==1.1.1")

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "models")]
import face_gan  # noqa: E402

from dissect_report.cli import main  # noqa: E402

SMALL = ["--samples", "24", "--repair-samples", "16", "--top-k", "4", "--show-units", "2",
         "--worst-samples", "2", "--candidates", "3", "--reference-samples", "8"]  # fmt: skip


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faces") / "report"
    code = main(
        ["-q", "dissect", "--generator", "face_gan:make_generator", "--segmenter",
         "face_gan:make_segmenter", "--weights", face_gan.weights_path(), "--weights-key",
         "netG_state_dict", "--latent-shape", "100,1,1", "--layers", "main.11", "--samples",
         "48", "--batch-size", "16", "--calibration-samples", "32", "--top-k", "4",
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    return out


def test_without_a_reference_nothing_is_repaired_and_the_cli_says_why(
    faces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["-q", "artifacts", str(faces), *SMALL]) == 0
    out = capsys.readouterr().out
    assert "verdict: NOT REPAIRED" in out and "there is no quality metric" in out
    assert "--real-images DIR" in out and "--discriminator" in out
    doc = json.loads((faces / "artifacts" / "repair.json").read_text())
    assert doc["verdict"]["status"] == "no-metric" and doc["units"] == []
    units = pq.read_table(faces / "artifacts" / "units.parquet").to_pylist()
    assert len(units) == 64 and not any(u["repaired"] for u in units)
    assert len(list((faces / "artifacts" / "units").iterdir())) == 2  # the units still drawn
    manifest = json.loads((faces / "manifest.json").read_text())
    assert manifest["artifacts"]["metric"] == "none" and manifest["artifacts"]["reference"] is None


def test_the_packages_sigmoid_discriminator_is_detected_and_undone(
    faces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code = main(
        ["-q", "artifacts", str(faces), *SMALL, "--discriminator", "face_gan:make_discriminator"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "discriminator output: sigmoid converted to logits" in out
    assert "quality metric: realism (higher is better)" in out and "verdict: " in out
    settings = json.loads((faces / "manifest.json").read_text())["artifacts"]
    assert settings["discriminator_output"] == "sigmoid converted to logits"
    assert settings["metric"] == "realism"

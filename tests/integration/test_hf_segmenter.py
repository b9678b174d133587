"""A real (tiny, randomly initialized) transformers SegFormer saved locally, used as segmenter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from dissect_report.errors import ModelError  # noqa: E402
from dissect_report.models import load_segmenter  # noqa: E402

LABELS = ["sky", "grass", "<b>odd</b>"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("segformer")
    torch.manual_seed(0)
    config = transformers.SegformerConfig(
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
        hidden_sizes=[8, 16, 16, 16],
        depths=[1, 1, 1, 1],
        num_attention_heads=[1, 1, 1, 1],
        decoder_hidden_size=16,
    )
    transformers.SegformerForSemanticSegmentation(config).save_pretrained(out)
    transformers.SegformerImageProcessor().save_pretrained(out)
    return out


def test_protocol_over_a_local_transformers_model(model_dir: Path) -> None:
    seg = load_segmenter(f"hf:{model_dir}")
    assert seg.concepts == LABELS and len(seg.colors) == 3
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    labels = seg.segment(images)
    assert labels.shape == (2, 64, 64) and int(labels.min()) >= 0 and int(labels.max()) < 3
    probs = seg.class_probs(images.requires_grad_())
    assert probs.shape == (2, 3, 64, 64) and probs.requires_grad
    chosen = probs.gather(1, labels[:, None]).squeeze(1)
    assert torch.allclose(chosen, probs.max(1).values, atol=1e-6)  # segment = argmax of probs


def test_missing_or_unsafe_directories_are_clear_errors(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_segmenter(f"hf:{tmp_path / 'nope'}")
    pickled = tmp_path / "pickled"  # config + a pickled pytorch_model.bin, no safetensors
    pickled.mkdir()
    (pickled / "config.json").write_text((model_dir / "config.json").read_text())
    model = transformers.SegformerForSemanticSegmentation.from_pretrained(model_dir)
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")
    with pytest.raises(ModelError, match="cannot load a segmentation model"):
        load_segmenter(f"hf:{pickled}")


def test_dissect_cli_with_an_hf_segmenter(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    cmd = [
        sys.executable, "-m", "dissect_report", "-q", "dissect", "--segmenter", f"hf:{model_dir}",
        "--layers", "layer4", "--samples", "24", "--calibration-samples", "8", "--no-images",
        "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    manifest = (out / "manifest.json").read_text()
    assert '"<b>odd</b>"' in manifest and (out / "layers" / "layer4" / "units.parquet").is_file()

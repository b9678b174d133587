"""The model check names the real cause (issue 24, kinds 1, 7-12, 15): small models written
for each, through the CLI in-process (``tests/models`` on the path)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS / "models")]

from dissect_report.cli import main  # noqa: E402

TOY_SEG = ["--segmenter", "stylegan_like:make_segmenter"]


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["-q", "check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _measure(text: str, what: str) -> float:
    return float(re.search(rf"{what}[^\n]*?differs by ([0-9.e-]+)", text).group(1))


# --- 1: check reports only what it measured --------------------------------------------------


def test_a_layer_problem_does_not_hide_the_measured_batch_dependence(capsys) -> None:
    gen = ["--generator", "contract_toys:batch_stats", *TOY_SEG]
    code, alone, _ = _check(capsys, *gen, "--layers", "body")
    assert code == 2
    code, both, _ = _check(capsys, *gen, "--layers", "fc,body")
    assert code == 2
    assert "layer fc: Linear, ?, 1 call(s) per forward, not compared (see its problem)" in both
    assert "repeated batch differs by 0," in both  # measured: one batch, twice, is the same
    body = _measure(both, "layer body")
    assert body > 0.01 and body == _measure(alone, "layer body")  # measured, the same value
    images = float(re.search(r"other batches/alone by ([0-9.e-]+)", both).group(1))
    assert images > 0.001
    assert "problem: layer 'fc' (Linear) outputs shape" in both
    assert "problem: a sample's image depends on the rest of its batch" in both
    assert re.search(r"FAILED in [0-9.]+ s \(8 forward passes of the generator, 22 samples\)", both)


# --- 12: a layer named twice -------------------------------------------------------------------


def test_a_layer_named_twice_is_named_as_a_duplicate(capsys) -> None:
    code, out, err = _check(capsys, "--generator", "contract_toys:plain", *TOY_SEG,
                            "--layers", "body,body")  # fmt: skip
    assert code == 2 and out == ""
    assert err.strip() == (
        "error: invalid config value layers = 'body,body': Value error, layer 'body' is named "
        "twice; name each layer once"
    )


# --- 9: a non-square generator's (N, C, H, W) layer with C == H ----------------------------


def test_a_non_square_layer_with_c_equal_to_h_is_not_taken_for_channels_last(capsys) -> None:
    from dissect_report.contract import channels_last

    code, out, err = _check(capsys, "--generator", "contract_toys:wide", *TOY_SEG,
                            "--layers", "body")  # fmt: skip
    assert code == 0, out + err
    assert "images: 3 x 32 x 64" in out and "layer body: Sequential, 8 x 8 x 16" in out
    assert not channels_last((8, 8, 16), (32, 64))  # 8 units of 8 x 16: the image's aspect
    assert channels_last((16, 32, 8), (32, 64))  # (H, W, C) = 16 x 32 x 8: the image's aspect
    assert channels_last((16, 16, 8), (64, 64)) and not channels_last((8, 16, 16), (64, 64))


# --- 7: a forward that rewrites the model's own parameters ---------------------------------


@pytest.mark.parametrize("seeded", [[], ["--seeded-noise"]])
def test_a_spectral_norm_that_iterates_in_eval_is_named_with_its_buffer(capsys, seeded) -> None:
    code, out, err = _check(capsys, "--generator", "contract_toys:spectral_norm_eval", *TOY_SEG,
                            "--layers", "body", *seeded)  # fmt: skip
    assert code == 2
    problems = [line for line in out.splitlines() if line.startswith("problem:")]
    assert problems == [
        "problem: the generator rewrites 1 of its parameters/buffers in every forward pass in "
        "eval mode (body.0.u; e.g. a SpectralNorm that power-iterates in eval), so a sample "
        "depends on every forward before it; fix: update them only when self.training "
        "(torch.nn.utils.parametrizations.spectral_norm does), or run the iteration in the "
        "factory and stop it, or --no-model-check to accept the risk"
    ]
    assert "--seeded-noise" not in out


# --- 8: an error in the first forward, named by its cause ----------------------------------


@pytest.mark.parametrize(
    ("generator", "layer", "expected"),
    [
        (
            "takes_depth",
            "inner.body",
            "(TypeError: TakesDepth.forward() missing 1 required positional argument: 'depth'): "
            "its forward takes other arguments than the latents; fix: return from the factory "
            "a module whose forward(z) calls it with them",
        ),
        (
            "old_torch_api",
            "body",
            "has no attribute 'upsample_bilinear_removed') in contract_toys.py:",
        ),
        (
            "traced",
            "body",
            "error: the generator is a TorchScript module (TopLevelTracedModule): forward hooks "
            "never run inside TorchScript, so no layer can be read; fix: return the Python "
            "nn.Module from the factory",
        ),
        (
            "holds_script",
            "net.body",
            "error: layer 'net.body' is inside the TorchScript module 'net': forward hooks never "
            "run inside TorchScript",
        ),
    ],
)
def test_a_failing_first_forward_is_named_by_its_cause(capsys, generator, layer, expected) -> None:
    code, out, err = _check(capsys, "--generator", f"contract_toys:{generator}", *TOY_SEG,
                            "--layers", layer, "--z-dim", "8")  # fmt: skip
    line = (out + err).strip().splitlines()[-1]
    assert code == 2 and expected in line, line
    assert "--latent-shape" not in line
    if generator == "old_torch_api":
        assert f"calls a torch API this torch {__import__('torch').__version__} lacks" in line


# --- 11: weights on the meta device, images on another device ------------------------------


@pytest.mark.parametrize("check", [[], ["--no-model-check"]])
def test_images_on_another_device_are_one_line_without_a_warning_flood(
    tmp_path: Path, capsys, check
) -> None:
    out = tmp_path / "r"
    code = main(["-q", "dissect", "--generator", "contract_toys:images_elsewhere", *TOY_SEG,
                 "--layers", "body", "--samples", "8", "--out", str(out), *check])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    if check:  # the opt-out says so once, as always
        assert err.pop(0).startswith("model check skipped (--no-model-check)")
    assert code == 2 and len(err) == 1, err
    assert err[0] == (
        "error: the generator returns images on the meta device (no data) while the run is on "
        "cpu; fix: return them where its latents are (x.to(z.device)), or run with the "
        "matching --device"
    )
    assert not out.exists()


def test_meta_weights_are_one_line(capsys) -> None:
    code, out, err = _check(capsys, "--generator", "contract_toys:meta_weights", *TOY_SEG,
                            "--layers", "body")  # fmt: skip
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "meta device" in lines[0], lines


# --- 10: an unbounded output and a factory that takes arguments ----------------------------


def test_clamp_output_and_factory_arguments_make_an_unbounded_generator_fit(
    tmp_path: Path, capsys
) -> None:
    import json

    from dissect_report.config import load_config

    gen = ["--generator", "contract_toys:unbounded", *TOY_SEG, "--layers", "body"]
    code, out, err = _check(capsys, *gen)
    assert code == 2 and "missing 1 required positional argument: 'gain'" in err
    code, out, err = _check(capsys, *gen, "--generator-arg", "gain=3")
    assert code == 2
    assert "or --clamp-output when the model's own scripts clamp its output" in out
    code, out, err = _check(capsys, *gen, "--generator-arg", "gain=3", "--clamp-output")
    assert code == 0, out + err
    assert re.search(r"images: 3 x 16 x 16 float32, range \[-1, 1\]", out)
    report = tmp_path / "r"
    args = [*gen, "--generator-arg", "gain=3", "--clamp-output", "--samples", "8",
            "--calibration-samples", "8", "--no-images", "--out", str(report)]  # fmt: skip
    assert main(["-q", "dissect", *args]) == 0
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["model"]["clamp_output"] is True
    assert manifest["model"]["generator_args"] == {"gain": 3}
    assert manifest["config"]["generator_args"] == {"gain": 3}
    toml = tmp_path / "d.toml"
    toml.write_text("[dissect]\nclamp_output = true\n[dissect.generator_args]\ngain = 2.5\n")
    config = load_config(toml)
    assert config.clamp_output and config.generator_args == {"gain": 2.5}


# --- 15: check on a slow model stays within its budget and says what it left out ---------


def test_a_slow_models_check_is_reduced_says_so_and_still_finds_batch_effects(
    capsys, monkeypatch
) -> None:
    import dissect_report.contract as contract

    monkeypatch.setattr(contract, "BUDGET_S", 0.0)  # every model counts as slow here
    code, out, _ = _check(
        capsys, "--generator", "contract_toys:plain", *TOY_SEG, "--layers", "body"
    )
    assert code == 0
    assert re.search(r"reduced: samples 0, 1 only, sample 0 alone \(a forward takes", out)
    assert re.search(r"passed in [0-9.]+ s \(5 forward passes of the generator, 10 samples\)", out)
    code, out, _ = _check(capsys, "--generator", "contract_toys:batch_stats", *TOY_SEG,
                          "--layers", "body")  # fmt: skip
    assert code == 2 and "problem: a sample's image depends on the rest of its batch" in out


# --- 14: images wider than WebP allows in a row of five tiles ------------------------------


def test_panorama_images_get_card_size_thumbnails_and_no_crash(tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "wide"
    args = ["-q", "dissect", "--generator", "contract_toys:very_wide", *TOY_SEG, "--layers",
            "body", "--samples", "8", "--calibration-samples", "8", "--top-k", "5",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    units = out / "layers" / "body" / "units"
    thumbs = sorted(units.glob("*-thumb.webp"))
    assert thumbs
    for thumb in thumbs:
        with Image.open(thumb) as im:
            im.load()
            assert im.height <= 64 and 300 <= im.width <= 328, im.size  # the card's box
    for full in units.glob("*.webp"):
        with Image.open(full) as im:
            im.load()  # every band row opens (the widest scaled to WebP's 16,383 px)
            assert max(im.size) <= 16383
    assert (out / "manifest.json").is_file()

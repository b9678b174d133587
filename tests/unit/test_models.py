"""Model loading, safe weights, the latent sampler, segmenter checks and the config."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dissect_toys  # noqa: E402

from dissect_report.config import DissectConfig, load_config  # noqa: E402
from dissect_report.errors import ConfigError, ModelError  # noqa: E402
from dissect_report.models import (  # noqa: E402
    import_factory,
    load_generator,
    load_models,
    load_weights,
)
from dissect_report.sampler import latents, parse_shard, shard_range  # noqa: E402


def test_latents_are_a_pure_function_of_seed_and_index():
    whole = latents(3, range(10), 16)
    assert torch.equal(latents(3, [7, 2], 16), whole[[7, 2]])
    assert not torch.equal(latents(4, range(10), 16), whole)
    assert len({tuple(r.tolist()) for r in whole}) == 10


def test_shards_partition_the_samples():
    ranges = [shard_range(10, i, 3) for i in (1, 2, 3)]
    assert ranges == [(0, 3), (3, 6), (6, 10)]
    assert parse_shard("2/3") == (2, 3)
    for bad in ["0/3", "4/3", "x", "1/0", "1-2"]:
        with pytest.raises(ConfigError, match="invalid shard"):
            parse_shard(bad)
    with pytest.raises(ConfigError, match="empty"):
        shard_range(2, 1, 3)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module_xyz:make", "cannot import 'no_such_module_xyz'"),
        ("dissect_toys:nope", "has no attribute 'nope'"),
        ("dissect_toys", "not an import path"),
        ("dissect_toys:CONCEPTS", "is not callable"),
    ],
)
def test_import_factory_errors(path, message):
    with pytest.raises(ConfigError, match=message):
        import_factory(path)


def test_weights_safetensors_and_pt(tmp_path):
    g = dissect_toys.planted_generator()
    save_file({"scale": torch.tensor([2.0])}, str(tmp_path / "w.safetensors"))
    torch.save({"scale": torch.tensor([3.0])}, tmp_path / "w.pt")
    loaded = load_generator("dissect_toys:planted_generator", str(tmp_path / "w.safetensors"))
    assert loaded.scale.item() == 2.0
    load_weights(g, tmp_path / "w.pt")
    assert g.scale.item() == 3.0


def test_mismatched_weights_name_the_keys(tmp_path):
    save_file(
        {"scale": torch.ones(2), "extra.bias": torch.ones(1)}, str(tmp_path / "w.safetensors")
    )
    with pytest.raises(ModelError) as info:
        load_weights(dissect_toys.planted_generator(), tmp_path / "w.safetensors")
    msg = str(info.value)
    assert "unexpected keys: extra.bias" in msg and "scale (2,) vs (1,)" in msg
    save_file({"other": torch.ones(1)}, str(tmp_path / "m.safetensors"))
    with pytest.raises(ModelError, match="missing keys: scale"):
        load_weights(dissect_toys.planted_generator(), tmp_path / "m.safetensors")


def test_corrupt_and_unsafe_weights(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\x00garbage" * 10)
    (tmp_path / "bad.pt").write_bytes(b"not a zip file")
    torch.save(
        {"scale": torch.ones(1), "obj": dissect_toys.PlantedSegmenter()}, tmp_path / "pickle.pt"
    )
    (tmp_path / "text.pt").write_bytes(b"garbage\n")  # no zip, and no pickle either
    for name, why in [
        ("bad.safetensors", "corrupt"),
        ("bad.pt", "corrupt"),
        ("text.pt", "corrupt"),
        ("pickle.pt", "refused, it holds pickled Python objects"),
    ]:
        with pytest.raises(ModelError, match="cannot read weights file") as info:
            load_weights(dissect_toys.planted_generator(), tmp_path / name)
        assert "\n" not in str(info.value)
        assert str(info.value).rsplit("': ", 1)[1].startswith(why), name  # not the tmp path
    with pytest.raises(ModelError, match="does not exist"):
        load_weights(dissect_toys.planted_generator(), tmp_path / "missing.pt")


def _models(segmenter: str):
    config = DissectConfig(
        generator="dissect_toys:planted_generator", segmenter=segmenter, layers=("features",)
    )
    return load_models(config)


def test_segment_checks_shape_and_labels():
    good = _models("dissect_toys:planted_segmenter")
    labels = good.segment(good.sample(range(3)))
    assert labels.shape == (3, 32, 32) and labels.dtype == torch.int64
    assert good.identity["model"]["z_dim"] == 4
    bad = _models("dissect_toys:wrong_shape_segmenter")
    with pytest.raises(ModelError, match=r"segmenter returned \(3, 1, 32, 32\) for 3 images"):
        bad.segment(bad.sample(range(3)))
    bad = _models("dissect_toys:wrong_label_segmenter")
    with pytest.raises(ModelError, match="label 7 outside its 2 concepts"):
        bad.segment(bad.sample(range(3)))


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[dissect]\nlayers = ["layer3"]\nsamples = 50\npolicy = "iqr"\nbatch-size = 8\n'
    )
    config = load_config(path, {"samples": 70, "seed": None}, defaults={"samples": 5, "top_k": 3})
    assert config.layers == ("layer3",) and config.samples == 70 and config.batch_size == 8
    assert config.policy == "iqr" and config.top_k == 3 and config.seed == 1
    assert config.effective_resolve_level == 0.0
    assert DissectConfig(layers="a, b").layers == ("a", "b")
    assert DissectConfig().effective_resolve_level == 0.0  # iqr, the default: everything
    assert DissectConfig(policy="quantile").effective_resolve_level == pytest.approx(0.97)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"samples": 0}, "samples = 0"),
        ({"policy": "median"}, "policy = 'median'"),
        ({"level": 1.5}, "level = 1.5"),
        ({"generator": "nocolon"}, "nocolon"),
        ({"colour": 1}, "colour"),
    ],
)
def test_bad_config_values_are_one_line(values, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(None, values)
    assert "\n" not in str(info.value)


def test_bad_config_file(tmp_path):
    (tmp_path / "bad.toml").write_text("samples = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.toml")


def test_models_make_latents_in_the_generators_dtype_and_images_come_back_float32():
    from dissect_report import world
    from dissect_report.models import Models
    from dissect_report.modeltools.edit import trace

    gen = world.load_generator().to(torch.bfloat16)
    models = Models.from_modules(gen, world.load_segmenter(), seed=3)
    assert models.dtype == torch.bfloat16 and models.device == torch.device("cpu")
    z = models.latents([5, 6], seed=4)
    assert z.dtype == torch.bfloat16
    assert torch.equal(z, latents(4, [5, 6], 128).to(torch.bfloat16))  # the same samples
    assert torch.equal(models.latents([5]), latents(3, [5], 128).to(torch.bfloat16))  # own seed
    images = models.sample([5, 6], seed=4)
    assert images.dtype == torch.float32 and images.shape == (2, 3, 64, 64)
    labels = models.segment(images)  # float32 segmenter: images reach it as float32
    assert labels.dtype == torch.int64 and labels.shape == (2, 64, 64)
    # AMP: the generator runs under autocast (bfloat16 on a CPU); images still float32.
    amp = Models.from_modules(world.load_generator(), world.load_segmenter(), amp=True)
    with trace(amp.generator, "layer4") as t:
        out = amp.sample([0])
    assert t.output.dtype == torch.bfloat16 and out.dtype == torch.float32


def test_a_device_is_parsed_and_refused_in_one_line_when_absent():
    from dissect_report.commands.dissect import check_device
    from dissect_report.errors import EnvironmentProblem

    check_device("cpu")
    assert DissectConfig(device="cuda:1").device == "cuda:1"
    if not torch.cuda.is_available():
        with pytest.raises(EnvironmentProblem, match="'cuda:1': CUDA is not available"):
            check_device("cuda:1")
    elif torch.cuda.device_count() < 8:
        with pytest.raises(EnvironmentProblem, match="CUDA device"):
            check_device("cuda:7")
    with pytest.raises(ConfigError, match="unknown device 'cuda:x'"):
        check_device("cuda:x")

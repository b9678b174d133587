"""The model check's pieces: nested checkpoints, seeded noise, layer specs, sigmoid detection."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import stylegan_like  # noqa: E402

from dissect_report.adapters import adapt_generator, seeded_noise  # noqa: E402
from dissect_report.contract import channels_last  # noqa: E402
from dissect_report.errors import ConfigError, ModelError  # noqa: E402
from dissect_report.trace import TraceDict, parse_layer  # noqa: E402
from dissect_report.weights_io import load_state_dict  # noqa: E402


def _save(path: Path, obj: object) -> str:
    torch.save(obj, path)
    return str(path)


def test_nested_checkpoint_is_unwrapped_picked_or_refused_naming_its_keys(tmp_path):
    g = {"main.0.weight": torch.ones(2)}
    one = _save(tmp_path / "one.tar", {"netG_state_dict": g, "epoch": 5})
    assert load_state_dict(one).keys() == g.keys()
    two = _save(tmp_path / "two.tar", {"netG_state_dict": g, "netD_state_dict": g, "epoch": 5})
    with pytest.raises(
        ModelError,
        match=r"2 state dicts \(netG_state_dict, netD_state_dict\); pick one with --weights-key",
    ):
        load_state_dict(two)
    assert load_state_dict(two, "netD_state_dict").keys() == g.keys()
    with pytest.raises(
        ModelError, match=r"no key 'G'; keys: epoch \(int\), netD_state_dict \(tensors\)"
    ):
        load_state_dict(two, "G")
    none = _save(tmp_path / "none.tar", {"epoch": 5, "lr": 0.1})
    with pytest.raises(
        ModelError,
        match=r"does not hold a state dict of tensors; keys: epoch \(int\), lr \(float\)",
    ):
        load_state_dict(none)


def test_seeded_noise_is_a_function_of_each_latent_row():
    g = adapt_generator(stylegan_like.make_generator(), seeded=True)
    z = torch.randn(6, stylegan_like.Z_DIM)
    with torch.no_grad():
        batch, reordered, alone = g(z), g(z[[4, 2, 0]]), g(z[2:3])
    torch.testing.assert_close(batch[[4, 2, 0]], reordered, rtol=0, atol=1e-5)
    torch.testing.assert_close(batch[2:3], alone, rtol=0, atol=1e-5)
    state = torch.get_rng_state()
    with torch.no_grad():
        g(z)
    assert torch.equal(state, torch.get_rng_state()), "the global RNG must not move"
    plain = stylegan_like.make_generator()
    with torch.no_grad():
        assert not torch.allclose(plain(z), plain(z)), "the model really draws noise"


def test_seeded_noise_context_covers_factories_and_refuses_other_random_ops():
    z = torch.randn(3, 4)
    with seeded_noise(z):
        a = torch.randn(3, 5)
        b = torch.rand(3, 2).uniform_(-1, 1)
    with seeded_noise(z[[1]]):
        c = torch.randn(1, 5)
    torch.testing.assert_close(a[1:2], c)
    assert b.min() >= -1 and b.max() <= 1
    with pytest.raises(ModelError, match="calls torch randint inside forward"), seeded_noise(z):
        torch.randint(0, 4, (3,))


def test_layer_specs_pick_tuple_elements_and_calls():
    a, b = parse_layer("blocks.2[0]@1"), parse_layer("blocks.2@1[0]")
    assert (a.module, a.element, a.call) == (b.module, b.element, b.call) == ("blocks.2", 0, 1)
    spec = parse_layer("blocks.2[1]@0")
    assert (spec.module, spec.element, spec.call) == ("blocks.2", 1, 0)
    with pytest.raises(ConfigError, match="invalid layer name"):
        parse_layer("a[0]@1[1]")
    g = adapt_generator(stylegan_like.make_generator(), seeded=True)
    z = torch.randn(2, stylegan_like.Z_DIM)
    with torch.no_grad(), TraceDict(g, ["blocks.1[1]", "blocks.1.act@0", "blocks.1.act@1"]) as td:
        g(z)
    assert td["blocks.1[1]"].shape == (2, 3, 16, 16)
    assert not torch.equal(td["blocks.1.act@0"], td["blocks.1.act@1"])
    with pytest.raises(ModelError, match="runs more than once"), TraceDict(g, ["blocks.1.act"]):
        g(z)


def test_channels_last_heuristic():
    assert channels_last((16, 16, 8)) and not channels_last((8, 16, 16))
    assert not channels_last((16, 16, 16))


def test_the_site_says_whether_the_model_check_ran():
    from dissect_report.contract import skipped_summary
    from dissect_report.render.context import model_check_text

    assert model_check_text(skipped_summary()).startswith("SKIPPED (--no-model-check)")
    passed = {"performed": True, "passed": True, "samples": [0, 1, 2, 3], "tolerance": 0.001}
    assert model_check_text(passed) == "passed (4 samples alone and in batches, tolerance 0.001)"
    assert model_check_text(None).startswith("not recorded")

"""The intervention primitive: edits apply where asked, and never leave a hook behind."""

from __future__ import annotations

import pytest
import torch
from test_intervene_toys import CONCEPTS, PaletteSegmenter, PlantedGenerator

from dissect_report.errors import ConfigError
from dissect_report.modeltools.edit import ablate, blend, edit, insert, patch_mask, trace


def _hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def _z() -> torch.Tensor:
    z = torch.zeros(2, 6)
    z[:, 1:5] = 1.0
    return z


def test_ablate_zeroes_only_the_named_units() -> None:
    gen = PlantedGenerator()
    with trace(gen, "layer", ablate([1, 3])) as t:
        gen(_z())
    assert t.output is not None
    assert t.output[:, [1, 3]].abs().sum() == 0
    assert torch.equal(t.output[:, [2, 4]], gen.layer(_z())[:, [2, 4]])


def test_ablate_to_a_value_and_insert_inside_a_region_only() -> None:
    gen = PlantedGenerator()
    region = patch_mask(8, 8, top=0, left=0, size=2)
    with trace(gen, "layer", ablate([0], value=-1.0), insert([5], 3.0, region=region)) as t:
        gen(_z())
    out = t.output
    assert torch.all(out[:, 0] == -1.0)
    assert torch.all(out[:, 5, :2, :2] == 3.0)
    assert torch.all(out[:, 5][:, ~region] == 0.0)  # unit 5 is off (z5 = 0) outside the patch


def test_per_sample_regions_and_per_unit_levels() -> None:
    gen = PlantedGenerator()
    masks = torch.zeros(2, 1, 8, 8)
    masks[0, 0, 0, 0] = 1.0
    masks[1, 0, 7, 7] = 1.0
    level = torch.arange(6, dtype=torch.float32) + 10
    with trace(gen, "layer", insert([4, 5], level, region=masks)) as t:
        gen(_z())
    out = t.output
    assert out[0, 5, 0, 0] == 15.0 and out[0, 4, 0, 0] == 14.0 and out[0, 5, 7, 7] == 0.0
    assert out[1, 5, 7, 7] == 15.0 and out[1, 5, 0, 0] == 0.0


def test_blend_is_differentiable_in_its_weights() -> None:
    gen, seg = PlantedGenerator(), PaletteSegmenter()
    alpha = torch.full((6,), 0.75, requires_grad=True)  # h = 0.5: steepest
    with edit(gen, "layer", blend(alpha, 0.0)):
        tree = seg.class_probs(gen(_z()))[:, CONCEPTS.index("tree")].mean()
    (grad,) = torch.autograd.grad(tree, [alpha])
    assert grad[3] < 0 and grad[4] < 0  # ablating tree units lowers tree probability
    assert grad[0] == 0  # the grass unit is off in these samples


def test_edits_change_the_images_and_are_gone_after_the_block() -> None:
    gen, seg = PlantedGenerator(), PaletteSegmenter()
    door = CONCEPTS.index("door")
    with edit(gen, "layer", ablate([2])):
        assert (seg.segment(gen(_z())) == door).sum() == 0
    assert (seg.segment(gen(_z())) == door).sum() == 2 * 16
    assert _hooks(gen) == 0


def test_no_hook_left_behind_after_an_exception() -> None:
    gen = PlantedGenerator()
    with pytest.raises(RuntimeError, match="boom"), edit(gen, "layer", ablate([1])):
        assert _hooks(gen) == 1
        raise RuntimeError("boom")
    assert _hooks(gen) == 0
    with pytest.raises(ConfigError, match="out of range"), edit(gen, "layer", ablate([99])):
        gen(_z())  # the setter raises inside the hook, during the forward pass
    assert _hooks(gen) == 0
    with pytest.raises(ValueError), trace(gen, "layer"):
        raise ValueError
    assert _hooks(gen) == 0


def test_unknown_layer_lists_the_valid_ones() -> None:
    with (
        pytest.raises(
            ConfigError, match=r"unknown layer 'layr'.*layer, layer\.pattern|layer, output"
        ),
        edit(PlantedGenerator(), "layr", ablate([0])),
    ):
        pass


def test_bad_region_and_weight_shapes_are_user_errors() -> None:
    gen = PlantedGenerator()
    with (
        pytest.raises(ConfigError, match="region has 3 masks"),
        edit(gen, "layer", insert([0], 1.0, region=torch.ones(3, 8, 8))),
    ):
        gen(_z())
    with (
        pytest.raises(ConfigError, match="weights have shape"),
        edit(gen, "layer", blend(torch.ones(4), 0.0)),
    ):
        gen(_z())
    assert _hooks(gen) == 0

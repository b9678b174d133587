"""Traced layers: hooks only inside ``with``, clear errors for wrong or non-4-D layers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dissect_toys  # noqa: E402

from dissect_report.errors import ConfigError, ModelError  # noqa: E402
from dissect_report.trace import TraceDict, layer_shapes  # noqa: E402


def _hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_records_outputs_and_removes_hooks():
    g = dissect_toys.planted_generator()
    z = torch.zeros(2, 4)
    with TraceDict(g, ["features", "render"]) as td:
        assert _hooks(g) == 2
        images = g(z)
    assert _hooks(g) == 0
    assert td["features"].shape == (2, 4, 8, 8)
    torch.testing.assert_close(td["render"], images)
    assert not td["features"].requires_grad


def test_hooks_removed_when_forward_raises():
    g = dissect_toys.planted_generator()
    with pytest.raises(ValueError, match="boom"), TraceDict(g, ["features"]):
        g(torch.zeros(2, 4))
        assert _hooks(g) == 1
        raise ValueError("boom")
    assert _hooks(g) == 0


def test_unknown_layer_lists_valid_ones():
    g = dissect_toys.planted_generator()
    with pytest.raises(ConfigError, match=r"unknown layer 'featurs'; layers: features, render"):
        TraceDict(g, ["featurs"])
    assert _hooks(g) == 0


def test_non_4d_layer_is_a_model_error():
    g = dissect_toys.flat_generator()
    message = r"layer 'fc' outputs shape \(2, 3072\) \(2-D\)"
    with pytest.raises(ModelError, match=message), TraceDict(g, ["fc"]):
        g(torch.zeros(2, 4))
    assert _hooks(g) == 0


def test_layer_shapes():
    shapes = layer_shapes(dissect_toys.planted_generator(), torch.zeros(1, 4))
    assert shapes == {"features": (4, 8, 8), "render": (3, 32, 32)}

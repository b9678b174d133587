"""Console wording a fresh user tripped on (issue 21): numbers, unknowns and warnings."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from dissect_report.cli import main
from dissect_report.commands import intervene as intervene_cmd
from dissect_report.commands import paint as paint_cmd
from dissect_report.contract import constant_images
from dissect_report.dissection.bands import BANDS, samples_needed
from dissect_report.render.fmt import few, fixed, num


def test_a_value_that_rounds_to_zero_never_reads_negative():
    assert fixed(-0.0004, 2) == "0.00"
    assert fixed(-0.0, 3) == "0.000"
    assert fixed(-0.006, 2) == "-0.01"  # a real negative keeps its sign
    assert num(-0.0) == "0"
    assert num(-1e-12, 3) == "-1e-12"  # significant digits: not zero, so the sign stays


def test_few_ids_and_how_many_more():
    assert few(range(3)) == "0, 1, 2"
    assert few(range(59), 8) == "0, 1, 2, 3, 4, 5, 6, 7 and 51 more"


def test_intervene_summary_never_prints_minus_zero(capsys):
    concept = SimpleNamespace(
        concept="tree",
        n_max=20,
        share=0.4,
        erased=0.5,
        share_random=0.01,
        share_optimized=math.nan,
        insert_success=0.0,
        insert_added=-0.0004,
        insert_method="iou",
        insert_units=(),
        top_units=tuple(range(20)),
    )
    result = SimpleNamespace(layer="layer3", seed=7, seconds=1.0, concepts=[concept])
    intervene_cmd.print_summary(result)
    out = capsys.readouterr().out
    assert "adding 0.00 of a patch per site" in out and "-0.00" not in out


def test_paint_summary_says_why_a_precision_is_unknown(capsys):
    brush = SimpleNamespace(
        concept="door", n=4, method="iou", precision=math.nan, offered=False, place=None
    )
    result = SimpleNamespace(
        available=True, samples=8, layer="layer3", model_bytes=2e6, seconds=1.0, brushes=[brush]
    )
    paint_cmd.print_summary(result)
    out = capsys.readouterr().out
    assert "n/a" not in out
    assert (
        "its held-out strokes changed no pixel, so how much of a stroke becomes door is unknown"
        in out
    )


def test_paint_summary_names_the_usual_position_not_where_it_belongs(capsys):
    place = SimpleNamespace(context="sky", precision=0.74)
    brush = SimpleNamespace(
        concept="water", n=32, method="optimized", precision=0.99, offered=True, place=place
    )
    result = SimpleNamespace(
        available=True, samples=8, layer="layer3", model_bytes=2e6, seconds=1.0, brushes=[brush]
    )
    paint_cmd.print_summary(result)
    out = capsys.readouterr().out
    assert "; at its usual position (mostly over sky): 74%" in out
    assert "belongs" not in out


def test_check_warns_about_near_constant_images():
    torch.manual_seed(0)
    varied = torch.rand(4, 3, 8, 8) * 2 - 1
    assert constant_images(varied) == []
    same = varied[:1].expand(4, 3, 8, 8)  # every sample the same image
    (line,) = constant_images(same)
    assert line.startswith("every sample gives the same image")
    flat = torch.linspace(-0.5, 0.5, 4).view(4, 1, 1, 1).expand(4, 3, 8, 8)  # one colour each
    (line,) = constant_images(flat)
    assert line.startswith("every image is one flat colour")


def test_band_sample_counts():
    assert [samples_needed(b) for b in BANDS] == [1, 550, 110, 10]


class _ConstantGenerator(torch.nn.Module):
    """A generator whose weights were never loaded, as it were: every sample one grey image."""

    z_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = torch.nn.Conv2d(8, 4, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.layer1(z.view(-1, 8, 1, 1).expand(-1, 8, 8, 8))
        return h[:, :3] * 0 + 0.2


def test_check_model_warns_once_and_does_not_call_a_constant_image_zero_to_one():
    import sys
    from pathlib import Path

    from dissect_report.contract import check_model
    from dissect_report.models import Models

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dissect_toys import planted_segmenter

    models = Models.from_modules(_ConstantGenerator(), planted_segmenter())
    result = check_model(models, ["layer1"])
    assert result.passed  # legal ...
    (warning,) = result.warnings  # ... but said, in one line
    assert warning.startswith("every sample gives the same image")
    assert "warning: every sample gives the same image" in "\n".join(result.lines())


def test_run_and_dissect_help_say_the_builtin_segmenter_is_the_default(capsys):
    for command in ("run", "dissect"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "'builtin' (the default: the built-in world's 13-concept scene segmenter)" in out


def test_default_layers_on_another_generator_say_no_layers_were_given(
    capsys, monkeypatch, tmp_path
):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "models"))
    model = ["--generator", "contract_toys:nan_unit", "--segmenter", "stylegan_like:make_segmenter"]
    expected = (
        "error: no --layers given (the defaults are the built-in world's layer2,layer3,layer4); "
        "this generator's layers: fc, body, body.0, body.1, to_rgb; pass --layers\n"
    )
    for args in (["check", *model], ["dissect", *model, "--out", str(tmp_path / "r")]):
        assert main(args) == 2
        assert capsys.readouterr().err == expected
    assert not (tmp_path / "r").exists()
    assert main(["check", *model, "--layers", "layer2"]) == 2  # named: the plain message
    assert "unknown layer 'layer2'; layers: fc, body" in capsys.readouterr().err

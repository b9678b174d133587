"""Numbers that agree with themselves and their captions (issue 21, item 6)."""

from __future__ import annotations

import base64
import io
import math
import re

import numpy as np
from PIL import Image

from dissect_report.render.context import unit_label
from dissect_report.render.fmt import pct, versus
from dissect_report.render.sections import ArtifactUnit, gain_text
from dissect_report.render.svg import position_svg
from dissect_report.reportdir.schema import UnitRow


def _row(iou: float, interpretable: bool = False) -> UnitRow:
    return UnitRow(
        unit=7,
        threshold=1.0,
        concept="door",
        iou=iou,
        iqr=0.1,
        interpretable=interpretable,
        top_samples=(),
        top_concepts=(),
        top_ious=(),
    )


def test_a_value_never_reads_equal_to_or_across_its_bound():
    assert versus(0.0396, 0.04) == ("0.0396", "0.04")  # was "0.040 < 0.04"
    assert versus(0.03996, 0.04) == ("0.03996", "0.04")
    assert versus(0.0404, 0.04) == ("0.0404", "0.04")  # above: never "0.040"
    assert versus(0.04, 0.04) == ("0.040", "0.04")  # equal reads equal
    assert versus(0.123, 0.04) == ("0.123", "0.04")  # far from it: 3 decimals
    assert unit_label(_row(0.0396), 0.04) == "unlabelled (best: door, IoU 0.0396 < 0.04)"


def test_a_share_that_is_not_zero_never_reads_zero_percent():
    assert pct(0.004) == "0.4%"  # door "pixel fraction 0%" beside "55% removed"
    assert pct(0.00004) == "0.004%"
    assert pct(0.0) == "0%" and pct(-0.0) == "0%"
    assert pct(0.9996) == "99.96%" and pct(1.0) == "100%"
    assert pct(0.55) == "55%" and pct(math.nan) == "\u2013"


def test_a_screened_unit_shows_the_gain_it_was_screened_on():
    def unit(gain: float, even: float) -> ArtifactUnit:
        return ArtifactUnit(
            unit=3, rank=1, score=1.2, fsd=10.0, realism=-1.0, ablation_gain=gain,
            ablation_gain_even=even, has_strip=False,
        )  # fmt: skip

    assert gain_text(unit(0.25, 0.3)) == "0.25"
    # failed on the even half: the rest was not measured, but that gain is shown, not "-"
    assert gain_text(unit(math.nan, -0.012)) == "-0.012 (even half)"
    assert gain_text(unit(math.nan, math.nan)) == ""  # not screened


def test_the_position_heat_map_has_its_scale():
    mean = np.zeros((32, 32), np.uint8)
    mean[-4:] = 255  # fires along the bottom edge on every sample
    svg = str(position_svg(mean, cells=16))
    assert svg.count("<rect") == 1  # the colour scale; the cells are one embedded 16x16 PNG
    uri = re.search(r'href="data:image/png;base64,([^"]+)"', svg)
    assert uri and len(svg) < 3000  # ~28 KB as a rect per cell
    with Image.open(io.BytesIO(base64.b64decode(uri.group(1)))) as im:
        cells = np.asarray(im.convert("RGB"))
    assert cells.shape == (16, 16, 3)
    assert tuple(cells[-1, 0]) == (253, 231, 37) and tuple(cells[0, 0]) == (13, 8, 135)
    assert "100% of samples" in svg
    assert "never" in svg and "every sample" in svg


def test_the_ace_chart_axis_says_what_it_plots():
    from types import SimpleNamespace

    from dissect_report.interventions.write import ace_svg

    curve = tuple(
        SimpleNamespace(n=n, method=m, ace=0.004 * n, ace_std=0.001)
        for n in (1, 2, 4)
        for m in ("iou", "random")
    )
    svg = ace_svg(SimpleNamespace(curve=curve, layer="layer2", concept="door"))  # type: ignore[arg-type]
    # It plots ACE, the drop in the concept's pixel fraction (0 to 0.017 where the share
    # removed was 71%), so the axis must not call it a share of pixels removed.
    assert "ACE (drop in the concept&#x27;s pixel fraction)" in svg
    assert "share of pixels removed" not in svg


def test_an_unreachable_concept_is_named_with_the_flag_that_lifts_it(tmp_path):
    import json

    from dissect_report.render.context import Site
    from dissect_report.reportdir.records import load_report
    from dissect_report.testing import SyntheticSpec, write_synthetic_report

    root = write_synthetic_report(tmp_path / "r", SyntheticSpec(layers=("a",), units=3))
    path = root / "manifest.json"
    m = json.loads(path.read_text())
    sky = m["concepts"][0]["name"]
    m["layers"][0]["unreachable_concepts"] = [{"concept": sky, "share": 0.39, "best_iou": 0.0256}]
    path.write_text(json.dumps(m))
    site = Site(load_report(root))
    note = str(site.unreachable(sky))
    assert "covers 39% of the pixels" in note and "--policy quantile --level 0.99" in note
    assert "at most 0.026, below the floor" in note and "<code>--policy iqr</code>" in note
    assert str(site.unreachable(m["concepts"][1]["name"])) == ""  # within reach: nothing said


def test_a_unit_refused_by_a_guard_never_reads_below_the_floor():
    from dissect_report.render.context import BY_POSITION

    label = unit_label(_row(0.512), 0.04, BY_POSITION)
    assert (
        label
        == "unlabelled (best: door, IoU 0.512: a fixed mask where it usually fires does as well)"
    )
    assert "<" not in label

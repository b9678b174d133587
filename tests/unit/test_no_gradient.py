"""A model that cannot give gradients gets no "optimized" unit set, and says why in one line.

Hand-written toys: the planted generator (tests/unit/test_intervene_toys.py) with its forward
under ``torch.no_grad()`` or ``torch.inference_mode()``, and the palette segmenter with its
``class_probs`` under ``no_grad``. Before the check, each gave alpha 0.0 for every unit, the
units by index, reported as an optimized set.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from test_intervene_stage import SMALL
from test_intervene_toys import PaletteSegmenter, PlantedGenerator, write_report

from dissect_report.errors import ModelError
from dissect_report.interventions import InterventionConfig, intervene
from dissect_report.interventions.optimize import (
    OptimizeSettings,
    gradient_problem,
    optimize_alpha,
)
from dissect_report.models import Models


class NoGradGenerator(PlantedGenerator):
    @torch.no_grad()
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z)


class InferenceGenerator(PlantedGenerator):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return super().forward(z)


class NoGradSegmenter(PaletteSegmenter):
    def class_probs(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return super().class_probs(images)


def _z() -> torch.Tensor:
    return torch.ones(2, 6)


@pytest.mark.parametrize(
    ("generator", "segmenter", "says"),
    [
        (NoGradGenerator, PaletteSegmenter, "generator's image does not depend differentiably"),
        (InferenceGenerator, PaletteSegmenter, "generator's image does not depend differentiably"),
        (PlantedGenerator, NoGradSegmenter, "class_probs() gives no gradient"),
    ],
)
def test_gradient_problem_names_the_model_part(generator: type, segmenter: type, says: str) -> None:
    models = Models.from_modules(generator=generator(), segmenter=segmenter())
    reason = gradient_problem(models, "layer", _z())
    assert reason is not None and says in reason and "\n" not in reason
    with pytest.raises(ModelError, match="cannot optimize unit sets"):
        optimize_alpha(
            models, "layer", _z(), (6, 8, 8), 4, torch.ones(6), OptimizeSettings(steps=1)
        )


def test_gradients_that_flow_pass_and_leave_no_graph_on_the_weights() -> None:
    models = Models.from_modules(generator=PlantedGenerator(), segmenter=PaletteSegmenter())
    assert gradient_problem(models, "layer", _z()) is None
    assert (
        Models.from_modules(generator=PlantedGenerator(), segmenter=object()).has_class_probs()
        is False
    )


def test_no_grad_generator_skips_the_optimized_set_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report = write_report(tmp_path / "r")
    models = Models.from_modules(generator=NoGradGenerator(), segmenter=PaletteSegmenter())
    config = InterventionConfig(**{**SMALL, "max_concepts": 1, "optimize_steps": 2})
    with caplog.at_level(logging.WARNING):
        result = intervene(config, report, models=models)
    lines = [r.getMessage() for r in caplog.records if "optimized" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("no optimized unit sets: the generator")
    assert result.settings["optimize"] is False
    assert "no_grad" in result.settings["optimize_skipped"]
    (concept,) = result.concepts
    assert concept.alpha is None and concept.share_optimized != concept.share_optimized  # NaN
    assert not (report / "concepts" / concept.slug / "optimized.parquet").exists()
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["interventions"]["optimize_skipped"] == result.settings["optimize_skipped"]
    # The ACE of the IoU-ranked units is still measured (ablation needs no gradient).
    assert concept.share == concept.share  # not NaN

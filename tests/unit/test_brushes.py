"""Paint brushes on the planted world (tests/unit/test_intervene_toys.py), where every pixel
a stroke changes can be predicted: tree units paint tree anywhere, door units paint a door
only over a building (so a door stroke on the grass changes nothing; where doors occur it works)."""

from __future__ import annotations

import math

import pytest
import torch
from test_intervene_toys import CONCEPTS, PaletteSegmenter, PlantedGenerator

from dissect_report.models import Models
from dissect_report.paint.brushes import (
    BrushSettings,
    Stroke,
    concept_prior,
    find_strokes,
    make_brush,
    place_strokes,
    score,
)

SETTINGS = BrushSettings(select_samples=8, measure_samples=12, sizes=(1, 2, 4), batch_size=5)
LEVELS = torch.full((6,), 2.0)  # every unit forced to 2.0 (its region's value at z = 1)


def _models() -> Models:
    return Models.from_modules(PlantedGenerator(), PaletteSegmenter())


def _brush(concept: str, fallback: list[int]):  # noqa: ANN202
    return make_brush(
        _models(), "layer", concept, LEVELS, fallback, (1, range(8)), (2, range(100, 112)), SETTINGS
    )


def test_strokes_lie_on_the_grass_where_there_is_grass() -> None:
    labels = torch.zeros(3, 16, 16, dtype=torch.long)  # all sky
    labels[0, 12:, :] = CONCEPTS.index("grass")  # grass on layer rows 6-7
    labels[1, 12:, :6] = CONCEPTS.index("tree")  # tree on the left of the grass row
    labels[1, 12:, 6:] = CONCEPTS.index("grass")
    strokes = find_strokes(labels, CONCEPTS.index("tree"), (8, 8), 2, [CONCEPTS.index("grass")])
    # Sample 2 has no grass: dropped, since the others have ground strokes.
    assert strokes == [Stroke(0, 6, 0, True), Stroke(1, 6, 3, True)]


def test_a_brush_is_measured_where_its_concept_occurs_not_on_a_named_region() -> None:
    """Cloud lives in the sky's top-left in the selection samples: its place strokes go there
    on a sample without cloud, and the context is what they covered (sky), found from data."""
    sky, grass, cloud = (CONCEPTS.index(c) for c in ("sky", "grass", "tree"))  # "tree" as cloud
    labels = torch.full((3, 16, 16), sky, dtype=torch.long)
    labels[:, 8:, :] = grass
    labels[:2, :4, :4] = cloud  # layer cells (0..1, 0..1) in samples 0 and 1
    prior = concept_prior(labels, cloud, (8, 8), 2)
    assert prior.shape == (7, 7)
    assert prior[0, 0] == pytest.approx(2 / 3) and prior[0, 1] == pytest.approx(1 / 3)
    assert prior[3:].max() == 0.0  # never on the grass
    strokes, context = place_strokes(labels, cloud, prior, (8, 8), 2)
    # Samples 0 and 1 hold cloud in every window where it occurs: no stroke on them.
    assert strokes == [Stroke(2, 0, 0, False)] and context == sky
    none, nothing = place_strokes(labels[:2], cloud, prior, (8, 8), 2)
    assert none == [] and nothing is None


def test_tree_brush_paints_tree_and_is_offered() -> None:
    brush = _brush("tree", [3, 4])
    assert brush.method == "optimized" and set(brush.units[:2]) == {3, 4}
    assert brush.precision == 1.0 and brush.offered and brush.on_ground
    assert brush.others == () and brush.coverage == 1.0 and brush.strokes >= 6
    # Measured where tree occurs in the selection samples too: the same units paint it there.
    assert brush.place is not None and brush.place.precision == 1.0 and brush.place.strokes > 0
    # The precision is what the edit gives, recounted here pixel by pixel.
    models = _models()
    z = models.latents(range(100, 112), seed=2)
    before = models.segment(models.generate(z))
    grass, tree = CONCEPTS.index("grass"), CONCEPTS.index("tree")
    strokes = find_strokes(before, tree, (8, 8), 2, [grass])
    got = score(models, "layer", z, before, strokes, 2, (8, 8), brush.units[: brush.n], LEVELS)
    assert got.changed == got.became[tree] > 0 and got.strokes == brush.strokes


def test_door_brush_learns_that_doors_need_a_building() -> None:
    brush = _brush("door", [2])  # the IoU order: the door unit alone
    assert set(brush.units[: brush.n]) == {1, 2} and brush.n == 2  # door + building
    assert brush.precision == 1.0 and brush.offered
    assert brush.selection[0][:2] == (1, brush.selection[0][1]) and brush.selection[0][2] == 0.0


class LabelsOnly:
    """The palette segmenter without class_probs: nothing to learn a brush with."""

    concepts = PaletteSegmenter().concepts
    colors = PaletteSegmenter().colors

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return PaletteSegmenter().segment(images)


def _iou_brush(concept: str, fallback: list[int]):  # noqa: ANN202
    models = Models.from_modules(PlantedGenerator(), LabelsOnly())
    return make_brush(
        models, "layer", concept, LEVELS, fallback, (1, range(8)), (2, range(100, 112)), SETTINGS
    )


def test_without_class_probs_the_iou_order_stays_and_is_measured() -> None:
    brush = _iou_brush("tree", [1, 4, 3])  # building first: alone, it paints building
    assert brush.method == "iou" and brush.units == (1, 4, 3)
    assert [n for n, _, _ in brush.selection] == [1, 2, 3]
    assert brush.selection[0][1:] == (0.0, 0.0)  # every changed pixel became building
    assert brush.n == 2 and brush.precision == 1.0  # tree drawn over the building: all tree


def test_a_door_brush_changes_nothing_on_grass_and_is_offered_where_doors_are() -> None:
    brush = _iou_brush("door", [2])
    assert math.isnan(brush.precision) and brush.coverage == 0.0  # no building on the grass
    # Where doors occur in the selection samples the door unit paints door: offered for there.
    assert brush.place is not None and brush.place.precision == 1.0 and brush.offered

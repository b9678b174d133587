"""Tiny hand-set generators and segmenters for the dissection tests (import paths for the CLI).

Usage::

    dissect-report dissect --generator dissect_toys:planted_generator \
        --segmenter dissect_toys:planted_segmenter --layers features ...

with ``tests/`` on ``PYTHONPATH``.

The planted generator draws a 3x3-cell "tree" square on a "sky" background of a 32x32 image;
its ``features`` layer (4 units, 8x8) has unit 0 = the square's indicator, unit 1 = the sky's,
unit 2 = a fixed horizontal ramp that ignores the scene, unit 3 = dead (all zeros).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F
from torch import nn

CONCEPTS = ["sky", "tree"]
COLORS = [(120, 190, 240), (30, 140, 40)]


class Features(nn.Module):
    """z (N, 4) -> (N, 4, 8, 8): the planted units."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n = z.shape[0]
        pos = (torch.sigmoid(z[:, :2]) * 6).long().clamp(0, 5)  # top-left cell of the square
        rows = torch.arange(8).view(1, 8, 1)
        cols = torch.arange(8).view(1, 1, 8)
        r, c = pos[:, 0].view(n, 1, 1), pos[:, 1].view(n, 1, 1)
        square = ((rows >= r) & (rows < r + 3) & (cols >= c) & (cols < c + 3)).float()
        ramp = (cols.float() / 7.0).expand(n, 8, 8)
        gain = 1.0 + 0.1 * torch.tanh(z[:, 2]).view(n, 1, 1)  # peaks differ between samples
        return torch.stack([square * gain, 1.0 - square, ramp, torch.zeros(n, 8, 8)], dim=1)


class Render(nn.Module):
    """Features -> image (N, 3, 32, 32) in [-1, 1]: tree green where unit 0 is on, sky blue."""

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        tree = F.interpolate((f[:, :1] > 0.5).float(), scale_factor=4, mode="nearest")
        sky = torch.tensor([c / 127.5 - 1 for c in COLORS[0]]).view(1, 3, 1, 1)
        green = torch.tensor([c / 127.5 - 1 for c in COLORS[1]]).view(1, 3, 1, 1)
        return sky * (1 - tree) + green * tree


class Planted(nn.Module):
    z_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.features = Features()
        self.render = Render()
        self.scale = nn.Parameter(torch.ones(1))  # something for weights files to fit

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.render(self.features(z) * self.scale)


def planted_generator() -> Planted:
    return Planted()


class BatchCentered(Features):
    """The planted units centred on their batch mean, as BatchNorm in training mode does."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        f = super().forward(z)
        return f - f.mean(dim=0, keepdim=True) + 0.25


def batch_coupled_generator() -> Planted:
    """The planted toy whose features (and so images) depend on the other samples of the batch:
    it breaks the model contract, so its findings change with ``batch_size``."""
    gen = Planted()
    gen.features = BatchCentered()
    return gen


class Flat(nn.Module):
    z_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3 * 32 * 32)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(z)).view(-1, 3, 32, 32)


def flat_generator() -> Flat:
    torch.manual_seed(0)
    return Flat()


class NanFeatures(Features):
    """The planted units, with unit 2 NaN/Inf at one cell of every sample."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        f = super().forward(z).clone()
        f[:, 2, 0, 0] = float("nan")
        f[:, 2, 7, 7] = float("inf")
        return f


def nan_generator() -> Planted:
    g = Planted()
    g.features = NanFeatures()
    return g


class PlantedSegmenter:
    """Labels by color: green-dominant pixels are tree, the rest sky."""

    concepts = CONCEPTS
    colors = COLORS

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return (images[:, 1] > images[:, 2]).long()


def planted_segmenter() -> PlantedSegmenter:
    return PlantedSegmenter()


class SlowSegmenter(PlantedSegmenter):
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        time.sleep(0.05)
        return super().segment(images)


def slow_segmenter() -> SlowSegmenter:
    return SlowSegmenter()


class WrongShapeSegmenter(PlantedSegmenter):
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return super().segment(images)[:, None]


def wrong_shape_segmenter() -> WrongShapeSegmenter:
    return WrongShapeSegmenter()


class QuarterSegmenter(PlantedSegmenter):
    """Labels at a quarter of the image's resolution (as many segmentation networks predict)."""

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return super().segment(images)[:, 2::4, 2::4]


def quarter_segmenter() -> QuarterSegmenter:
    return QuarterSegmenter()


class CroppedSegmenter(PlantedSegmenter):
    """Labels of another aspect than the image's: no rule makes them fit."""

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return super().segment(images)[:, :, :-3]


def cropped_segmenter() -> CroppedSegmenter:
    return CroppedSegmenter()


class WrongLabelSegmenter(PlantedSegmenter):
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return super().segment(images) * 7


def wrong_label_segmenter() -> WrongLabelSegmenter:
    return WrongLabelSegmenter()


def world_generator() -> nn.Module:
    """The built-in architecture with seeded random weights (no trained weights needed)."""
    from dissect_report.world.nets import Generator

    torch.manual_seed(0)
    return Generator().eval()


class WorldSegmenter:
    """The built-in segmenter architecture, seeded, untrained: argmax of its logits."""

    def __init__(self) -> None:
        from dissect_report.world import CONCEPTS as WORLD_CONCEPTS
        from dissect_report.world import PALETTE
        from dissect_report.world.nets import SegNet

        torch.manual_seed(1)
        self.net = SegNet(len(WORLD_CONCEPTS)).eval()
        self.concepts = list(WORLD_CONCEPTS)
        self.colors = [PALETTE[c] for c in WORLD_CONCEPTS]

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).argmax(1)


def world_segmenter() -> WorldSegmenter:
    return WorldSegmenter()


class BorderFeatures(nn.Module):
    """z (N, 4) -> (N, 4, 8, 8): a door on the bottom border and units that know or ignore it.

    Unit 0 fires on the image's frame (border cells), unit 1 on the door (a 3 x 4-cell
    rectangle standing on the bottom edge at a column set by z), unit 2 on the bottom two rows
    whatever the scene (position only: it reaches door's IoU floor because doors stand
    there), unit 3 is a fixed diagonal. Each unit's gain varies a little per sample.
    """

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n = z.shape[0]
        col = (torch.sigmoid(z[:, 0]) * 6).long().clamp(0, 5).view(n, 1, 1)
        rows = torch.arange(8).view(1, 8, 1)
        cols = torch.arange(8).view(1, 1, 8)
        door = ((rows >= 4) & (cols >= col) & (cols < col + 3)).float()
        frame = ((rows == 0) | (rows == 7) | (cols == 0) | (cols == 7)).float().expand(n, 8, 8)
        bottom = (rows >= 6).float().expand(n, 8, 8)
        diagonal = (rows == cols).float().expand(n, 8, 8)
        gain = 1.0 + 0.1 * torch.tanh(z[:, 1]).view(n, 1, 1)
        return torch.stack([frame, door, bottom, diagonal], dim=1) * gain.unsqueeze(1)


class BorderRender(nn.Module):
    """Features -> image (N, 3, 32, 32): brown door on sky."""

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        door = F.interpolate((f[:, 1:2] > 0.5).float(), scale_factor=4, mode="nearest")
        sky = torch.tensor([c / 127.5 - 1 for c in COLORS[0]]).view(1, 3, 1, 1)
        brown = torch.tensor([140 / 127.5 - 1, 70 / 127.5 - 1, 20 / 127.5 - 1]).view(1, 3, 1, 1)
        return sky * (1 - door) + brown * door


class Bordered(nn.Module):
    z_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.features = BorderFeatures()
        self.render = BorderRender()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.render(self.features(z))


def border_generator() -> Bordered:
    return Bordered()


class BorderSegmenter:
    """Labels by color: red-dominant pixels are door, the rest sky."""

    concepts = ["sky", "door"]
    colors = [COLORS[0], (140, 70, 20)]

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return (images[:, 0] > images[:, 2]).long()


def border_segmenter() -> BorderSegmenter:
    return BorderSegmenter()


class FallbackFeatures(nn.Module):
    """z (N, 4) -> (N, 2, 8, 8): a unit whose best concept only its position explains.

    The scene: sky on rows 0-3, grass on rows 4-7, a 2-cell-wide door on rows 3-6 at a
    column set by z. Unit 0 fires at 1 on the sky rows (less one column set by z, so a fixed
    mask there does better than the unit) and at 2 on the door's top two rows: its best concept
    is sky, which its mean position explains, and door, at its own higher threshold, beats its
    position baseline. Unit 1 fires on the whole door.
    """

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n = z.shape[0]
        col = (torch.sigmoid(z[:, 0]) * 7).long().clamp(0, 6).view(n, 1, 1)
        blank = (torch.sigmoid(z[:, 2]) * 8).long().clamp(0, 7).view(n, 1, 1)
        rows = torch.arange(8).view(1, 8, 1)
        cols = torch.arange(8).view(1, 1, 8)
        door = ((rows >= 3) & (rows <= 6) & (cols >= col) & (cols < col + 2)).float()
        top = door * (rows <= 4).float()
        sky = ((rows <= 3) & (cols != blank)).float()
        unit0 = torch.maximum(sky, 2.0 * top)
        return torch.stack([unit0, door], dim=1)


class FallbackRender(nn.Module):
    """Features -> image (N, 3, 32, 32): sky over grass, a brown door (from unit 1)."""

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        n = f.shape[0]
        door = F.interpolate((f[:, 1:2] > 0.5).float(), scale_factor=4, mode="nearest")
        lower = (torch.arange(32).view(1, 1, 32, 1) >= 16).float().expand(n, 1, 32, 32)
        sky, grass, brown = (
            torch.tensor([v / 127.5 - 1 for v in c]).view(1, 3, 1, 1) for c in FALLBACK_COLORS
        )
        ground = sky * (1 - lower) + grass * lower
        return ground * (1 - door) + brown * door


FALLBACK_COLORS = [(120, 190, 240), (30, 140, 40), (140, 70, 20)]


class Fallback(nn.Module):
    z_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.features = FallbackFeatures()
        self.render = FallbackRender()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.render(self.features(z))


def fallback_generator() -> Fallback:
    return Fallback()


class FallbackSegmenter:
    """Labels by the nearest of three colors: sky, grass, door."""

    concepts = ["sky", "grass", "door"]
    colors = FALLBACK_COLORS

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        palette = torch.tensor([[v / 127.5 - 1 for v in c] for c in FALLBACK_COLORS])
        dist = ((images[:, None] - palette.view(1, 3, 3, 1, 1)) ** 2).sum(dim=2)
        return dist.argmin(dim=1)


def fallback_segmenter() -> FallbackSegmenter:
    return FallbackSegmenter()


def _tables(report: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for layer in sorted((report / "layers").iterdir()):
        out[f"{layer.name}/units"] = pq.read_table(layer / "units.parquet")
        out[f"{layer.name}/iou"] = pq.read_table(layer / "iou.parquet")
        with np.load(layer / "stats.npz") as npz:
            out.update({f"{layer.name}/{k}": npz[k] for k in npz.files})
    return out


def assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = _tables(a), _tables(b)
    assert ta.keys() == tb.keys()
    for key, value in ta.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, tb[key], err_msg=key)
        else:
            assert value.equals(tb[key]), key

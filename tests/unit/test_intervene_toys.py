"""Hand-set toy models for the intervention and artifact tests (imported by the other tests).

The planted world: a generator whose layer ``layer`` (6 units, 8x8) is a fixed function of z,
and whose output paints one concept per unit on a 16x16 image:

    unit 0 grass (rows 6-7)      unit 1 building (rows 2-5, cols 0-3)
    unit 2 door  (rows 4-5, cols 1-2), painted ONLY where the building unit is on
    unit 3 tree  (rows 2-5, cols 5-6)   unit 4 tree (rows 3-5, col 7)
    unit 5 "bad" (rows 0-1): with ``noise``, writes a checkerboard into the sky

The segmenter labels each pixel by its nearest palette color, so every count is exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn

CONCEPTS = ["sky", "grass", "building", "door", "tree"]
PALETTE = {
    "sky": (-0.6, -0.2, 0.9),
    "grass": (-0.4, 0.7, -0.5),
    "building": (0.6, 0.1, -0.3),
    "door": (0.0, -0.8, -0.9),
    "tree": (-0.9, 0.0, -0.9),
}
UNIT_CONCEPT = {0: "grass", 1: "building", 2: "door", 3: "tree", 4: "tree"}
REGIONS = {  # unit -> (rows, cols) on the 8x8 layer
    0: (slice(6, 8), slice(0, 8)),
    1: (slice(2, 6), slice(0, 4)),
    2: (slice(4, 6), slice(1, 3)),
    3: (slice(2, 6), slice(5, 7)),
    4: (slice(3, 6), slice(7, 8)),
    5: (slice(0, 2), slice(0, 8)),
}
UNITS, SIZE = 6, 8


class PlantedUnits(nn.Module):
    """z (N, 6) -> activations (N, 6, 8, 8): unit k = 2 relu(z_k) on its region, else 0."""

    def __init__(self) -> None:
        super().__init__()
        pattern = torch.zeros(UNITS, SIZE, SIZE)
        for k, (rows, cols) in REGIONS.items():
            pattern[k, rows, cols] = 1.0
        self.register_buffer("pattern", pattern)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return 2 * torch.relu(z[:, :UNITS, None, None]) * self.pattern


class PlantedPainter(nn.Module):
    """activations -> image (N, 3, 16, 16): soft masks (steep sigmoids) composite the palette."""

    def __init__(self, noise: bool = False) -> None:
        super().__init__()
        self.noise = noise
        checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 2.0 - 1.0
        self.register_buffer("checker", checker)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        m = torch.sigmoid(10 * (nn.functional.interpolate(h, scale_factor=2, mode="nearest") - 0.5))
        color = {k: torch.tensor(v).view(1, 3, 1, 1) for k, v in PALETTE.items()}
        img = color["sky"].expand(h.shape[0], 3, 16, 16)
        img = img + m[:, 0:1] * (color["grass"] - img)
        img = img + m[:, 1:2] * (color["building"] - img)
        img = img + (m[:, 1:2] * m[:, 2:3]) * (color["door"] - img)
        tree = m[:, 3:4] + m[:, 4:5] - m[:, 3:4] * m[:, 4:5]
        img = img + tree * (color["tree"] - img)
        if self.noise:
            img = img + m[:, 5:6] * 0.9 * self.checker
        return img.clamp(-1, 1)


class PlantedGenerator(nn.Module):
    def __init__(self, noise: bool = False) -> None:
        super().__init__()
        self.z_dim = UNITS
        self.layer = PlantedUnits()
        self.output = PlantedPainter(noise)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.output(self.layer(z))


class PaletteSegmenter:
    """Nearest palette color; ``class_probs`` a softmax of negative squared distances."""

    def __init__(self) -> None:
        self.concepts = list(CONCEPTS)
        self.colors = [tuple(int((v + 1) * 127.5) for v in PALETTE[c]) for c in CONCEPTS]
        self.palette = torch.tensor([PALETTE[c] for c in CONCEPTS])  # (C, 3)

    def _dist(self, images: torch.Tensor) -> torch.Tensor:
        return ((images[:, None] - self.palette[None, :, :, None, None]) ** 2).sum(2)

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return self._dist(images).argmin(1)

    def class_probs(self, images: torch.Tensor) -> torch.Tensor:
        return (-20 * self._dist(images)).softmax(1)


def roughness(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between horizontal neighbours (N,): noise makes it large."""
    return (images[..., 1:] - images[..., :-1]).abs().mean(dim=(1, 2, 3))


class RoughnessDiscriminator(nn.Module):
    """Realism logit = -10 * roughness: smooth images look real."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return -10 * roughness(images)


def toy_features(images: torch.Tensor) -> torch.Tensor:
    """(N, 4): mean color and roughness (weighted up: to this feature model, noise is salient)."""
    return torch.cat([images.mean(dim=(2, 3)), 4 * roughness(images)[:, None]], 1)


def write_report(
    root: Path, seed: int = 1, units: dict[int, tuple[str, float]] | None = None
) -> Path:
    """A minimal dissected report of the planted generator (manifest + units/iou tables)."""
    units = units or {
        0: ("grass", 0.9),
        1: ("building", 0.8),
        2: ("door", 0.7),
        3: ("tree", 0.6),
        4: ("tree", 0.4),
        5: ("sky", 0.01),
    }
    layer_dir = root / "layers" / "layer"
    layer_dir.mkdir(parents=True, exist_ok=True)
    rows = sorted(units.items())
    pq.write_table(
        pa.table(
            {
                "unit": pa.array([u for u, _ in rows], pa.int32()),
                "threshold": pa.array([0.5] * len(rows), pa.float64()),
                "concept": pa.array([c for _, (c, _) in rows], pa.string()),
                "iou": pa.array([i for _, (_, i) in rows], pa.float64()),
                "interpretable": pa.array([i >= 0.04 for _, (_, i) in rows], pa.bool_()),
            }
        ),
        layer_dir / "units.parquet",
    )
    iou_rows = [(u, c, i) for u, (c, i) in rows]
    pq.write_table(
        pa.table(
            {
                "unit": pa.array([r[0] for r in iou_rows], pa.int32()),
                "concept": pa.array([r[1] for r in iou_rows], pa.string()),
                "iou": pa.array([r[2] for r in iou_rows], pa.float64()),
            }
        ),
        layer_dir / "iou.parquet",
    )
    interpretable = sum(1 for _, (_, i) in rows if i >= 0.04)
    manifest = {
        "schema_version": 1,
        "samples": {"count": 100, "seed": seed, "top_k": 4},
        "layers": [
            {
                "name": "layer",
                "slug": "layer",
                "shape": [UNITS, SIZE, SIZE],
                "units": UNITS,
                "interpretable": interpretable,
            }
        ],
        "concepts": [{"name": c, "slug": c} for c in CONCEPTS],
        "timings": {},
        "sections": {"interventions": False, "artifacts": False},
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_planted_world_paints_each_unit_where_expected() -> None:
    gen, seg = PlantedGenerator(), PaletteSegmenter()
    z = torch.zeros(1, UNITS)
    z[0, 1], z[0, 2], z[0, 3] = 1.0, 1.0, 1.0  # building, door, tree on
    labels = seg.segment(gen(z))[0]
    assert labels[0, 0] == CONCEPTS.index("sky")
    assert labels[4, 0] == CONCEPTS.index("building")  # layer row 2, col 0
    assert labels[8, 2] == CONCEPTS.index("door")  # layer row 4, col 1
    assert labels[4, 10] == CONCEPTS.index("tree")  # layer row 2, col 5
    assert (labels == CONCEPTS.index("door")).sum() == 4 * 4  # 2x2 layer pixels, upsampled x2
    assert (labels == CONCEPTS.index("grass")).sum() == 0  # unit 0 off


def test_door_needs_a_building() -> None:
    gen, seg = PlantedGenerator(), PaletteSegmenter()
    z = torch.zeros(1, UNITS)
    z[0, 2] = 1.0  # door unit on, building off
    assert (seg.segment(gen(z)) == CONCEPTS.index("door")).sum() == 0

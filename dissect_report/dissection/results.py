"""The dissection's result types, importable by every stage (the writer, visualize, the API).

Usage::

    from dissect_report.dissection.results import DissectResult, LayerResult
    result: DissectResult = dr.dissect(config, out="report")
    layer: LayerResult = result.layer("layer4")
    layer.interpretable, layer.concepts_covered, layer.scores.iou.shape   # (units, concepts)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dissect_report.config import DissectConfig
from dissect_report.dissection.labels import guards
from dissect_report.dissection.position import Position
from dissect_report.dissection.stats import LayerState
from dissect_report.dissection.thresholds import UnitScores


@dataclass(frozen=True)
class LayerResult:
    """One layer's state, thresholds and scores."""

    name: str
    slug: str
    shape: tuple[int, int, int]  # (units, height, width) of one sample's output
    state: LayerState
    scores: UnitScores
    iou_floor: float
    position: Position | None = None  # mean masks and the position-only baseline

    @property
    def interpretable_mask(self) -> np.ndarray:
        """The unit's concept (``scores.best``) passes every label guard: IoU >= iou_floor,
        not a mask over (nearly) everything or no better than chance, not a flagged
        (non-finite or dead) unit, and not explained by where it fires alone
        (:func:`~dissect_report.dissection.labels.guards`)."""
        rows = np.arange(self.state.units)
        kept: np.ndarray = guards(self)[rows, self.scores.best] == ""
        return kept

    @property
    def position_explained(self) -> np.ndarray:
        """(U,) bool: its concept's IoU is within reach of its mean position alone."""
        if self.position is None:
            return np.zeros(self.state.units, dtype=bool)
        explained: np.ndarray = self.position.explained(self.scores.iou, self.scores.best)
        return explained

    @property
    def interpretable(self) -> int:
        return int(self.interpretable_mask.sum())

    def units_per_concept(self) -> list[int]:
        best = self.scores.best[self.interpretable_mask]
        counts: list[int] = np.bincount(best, minlength=self.scores.iou.shape[1]).tolist()
        return counts

    @property
    def concepts_covered(self) -> int:
        return sum(1 for n in self.units_per_concept() if n > 0)


@dataclass(frozen=True)
class DissectResult:
    """What :func:`dissect` found, and where it wrote it."""

    config: DissectConfig
    concepts: tuple[str, ...]
    colors: tuple[str, ...]
    layers: tuple[LayerResult, ...]
    samples: int
    report_dir: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def layer(self, name: str) -> LayerResult:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

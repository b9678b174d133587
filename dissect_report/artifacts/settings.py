"""Settings of the artifact stage (no heavy imports: the CLI reads the defaults).

Usage::

    from dissect_report.artifacts.settings import ArtifactConfig
    config = ArtifactConfig(samples=512, repair_units=8)
"""

from __future__ import annotations

from dataclasses import dataclass

from dissect_report.errors import ConfigError

# What the causal screen improves: "auto" picks fsd (real images), else realism (a
# discriminator), else none: without a quality metric nothing is called a repair.
METRICS = ("auto", "fsd", "realism")


def check_metric(metric: str) -> str:
    """``metric`` if it is one of :data:`METRICS`, else a one-line user error."""
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose {', '.join(METRICS)}")
    return metric


@dataclass(frozen=True)
class ArtifactConfig:
    """Sizes are small by default so that ``dissect-report run`` stays quick; flags do more."""

    layer: str | None = None  # None: the last dissected layer
    samples: int = 128  # scoring samples (rank the units)
    repair_samples: int = 128  # held-out samples to measure the repair on
    # Real images for FSD (screen and repair): cheap to make, and a small reference set is
    # a shared source of noise that the screen would otherwise fit.
    reference_samples: int = 1024
    score_seed: int | None = None  # None: dissection seed + 2
    repair_seed: int | None = None  # None: dissection seed + 3
    top_k: int = 8  # top-activating images per unit
    repair_units: int = 4  # at most this many confirmed units are ablated by the repair
    candidates: int = 64  # worst-scored units screened causally (ablated alone, each)
    metric: str = "auto"  # the quality metric the screen and the repair set improve
    # Real images for FSD: a folder of PNG/JPEG, an .npz or a .parquet (see real_images.py);
    # None: the model's own (the built-in world renders them), else no FSD.
    real_images: str | None = None
    # Damage guard: a repair set that changes more than this share of the held-out samples'
    # segmenter labels is rejected (see guard.py for why and what it measured).
    max_label_change: float = 0.1
    min_gain: float = 0.0  # confirmed: ablation improves the metric by more, on both halves
    show_units: int = 8  # worst units drawn in artifacts/units/<n>.png
    worst_samples: int = 6  # samples in before.png / after.png
    batch_size: int = 32

    def __post_init__(self) -> None:
        check_metric(self.metric)
        for name in ("samples", "repair_samples", "reference_samples", "top_k", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"artifact setting {name} must be >= 1; got {getattr(self, name)}"
                )
        if not 0.0 <= self.max_label_change <= 1.0:
            raise ConfigError(
                f"max_label_change is a share of pixels in [0, 1]; got {self.max_label_change}"
            )
        if self.worst_samples < 1:
            raise ConfigError(
                f"artifact setting worst_samples must be >= 1; got {self.worst_samples}"
            )
        for name in ("repair_units", "show_units", "candidates"):
            if getattr(self, name) < 0:
                raise ConfigError(
                    f"artifact setting {name} must be >= 0; got {getattr(self, name)}"
                )
        if self.top_k > self.samples:
            raise ConfigError(
                f"top_k ({self.top_k}) cannot exceed the scoring samples ({self.samples})"
            )
        if self.top_k < 2:
            raise ConfigError(f"top_k must be >= 2 for a Frechet distance; got {self.top_k}")

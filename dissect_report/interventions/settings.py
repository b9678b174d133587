"""Settings of the intervention stage (no heavy imports: the CLI reads the defaults).

Usage::

    from dissect_report.interventions.settings import InterventionConfig
    config = InterventionConfig(samples=128, concepts=("tree", "door"))
"""

from __future__ import annotations

from dataclasses import dataclass

from dissect_report.errors import ConfigError

INSERT_LEVELS = ("quantile", "concept_mean")


@dataclass(frozen=True)
class InterventionConfig:
    """Settings of the intervention stage.

    Defaults are sized for ``dissect-report run`` on the built-in world (about 2,000 image
    passes through generator and segmenter, well under a minute on 2 cores); flags do more.
    """

    layer: str | None = None  # None: the dissected layer with the most interpretable units
    concepts: tuple[str, ...] = ()  # empty: the `max_concepts` with most interpretable units
    max_concepts: int = 6
    samples: int = 32  # held-out samples for ACE
    seed: int | None = None  # None: the dissection seed + 1
    max_units: int = 32
    random_trials: int = 3
    insert_level: str = "quantile"
    quantile: float = 0.995
    insert_samples: int = 8
    insert_select: int = 16  # dissection samples the inserted set is chosen on
    grid: int = 3
    patch: int | None = None  # side in layer pixels; None: a quarter of the layer's side
    compare_samples: int = 3
    optimize: bool = True
    optimize_steps: int = 10
    optimize_batch: int = 4
    lr: float = 0.1
    l2: float = 1e-3
    batch_size: int = 16
    unit_samples: int = 16  # held-out samples for each labelled unit's own ablation (0: skip)

    def __post_init__(self) -> None:
        for name in (
            "max_concepts",
            "samples",
            "max_units",
            "insert_samples",
            "insert_select",
            "grid",
            "optimize_batch",
            "batch_size",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"intervention setting {name} must be >= 1; got {getattr(self, name)}"
                )
        for name in ("random_trials", "compare_samples", "optimize_steps", "unit_samples"):
            if getattr(self, name) < 0:
                raise ConfigError(
                    f"intervention setting {name} must be >= 0; got {getattr(self, name)}"
                )
        if self.insert_level not in INSERT_LEVELS:
            raise ConfigError(
                f"unknown insert level {self.insert_level!r}; choose {' or '.join(INSERT_LEVELS)}"
            )
        if not 0.0 < self.quantile < 1.0:
            raise ConfigError(f"quantile must be in (0, 1); got {self.quantile}")
        if self.patch is not None and self.patch < 1:
            raise ConfigError(f"patch must be >= 1; got {self.patch}")
        if self.l2 < 0 or self.lr <= 0:
            raise ConfigError(f"need l2 >= 0 and lr > 0; got l2={self.l2}, lr={self.lr}")

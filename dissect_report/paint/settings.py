"""Settings of the Paint stage (no heavy imports: the CLI reads the defaults).

Usage::

    from dissect_report.paint.settings import PaintConfig
    config = PaintConfig(samples=4)
"""

from __future__ import annotations

from dataclasses import dataclass

from dissect_report.errors import ConfigError


@dataclass(frozen=True)
class PaintConfig:
    """Settings of the Paint stage."""

    samples: int = 8  # held-out samples offered on the page
    half_weights: bool = True  # tail weights stored as float16 (half the bytes)
    max_model_mb: float = 64.0  # a bigger tail is not put into a web page
    brushes: bool = True  # choose each concept's units by causal effect and measure them
    brush_select: int = 16  # the dissection's samples the brush size is chosen on
    brush_measure: int = 32  # held-out samples a brush's precision is measured on
    min_precision: float = 0.7  # a brush below this is offered only marked with its precision

    def __post_init__(self) -> None:
        if not 1 <= self.samples <= 256:
            raise ConfigError(f"paint samples must be between 1 and 256; got {self.samples}")
        if self.brush_select < 1 or self.brush_measure < 1:
            raise ConfigError(
                f"brush samples must be >= 1; got {self.brush_select}, {self.brush_measure}"
            )
        if not 0.0 <= self.min_precision <= 1.0:
            raise ConfigError(f"brush min precision must be in [0, 1]; got {self.min_precision}")
        if self.max_model_mb <= 0:
            raise ConfigError(f"paint max model size must be > 0 MB; got {self.max_model_mb}")

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

    def __post_init__(self) -> None:
        if not 1 <= self.samples <= 256:
            raise ConfigError(f"paint samples must be between 1 and 256; got {self.samples}")
        if self.max_model_mb <= 0:
            raise ConfigError(f"paint max model size must be > 0 MB; got {self.max_model_mb}")

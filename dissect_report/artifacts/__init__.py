"""Artifact units: rank by the quality of their top images, screen causally, repair by ablation.

Usage::

    from dissect_report.artifacts import ArtifactConfig, find_artifacts
    result = find_artifacts(ArtifactConfig(), "report")    # -> REPORT/artifacts/

Names load lazily so that reading the settings (the CLI's defaults) does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dissect_report.lazy import lazy_exports

if TYPE_CHECKING:
    from dissect_report.artifacts.settings import ArtifactConfig
    from dissect_report.artifacts.stage import ArtifactResult, find_artifacts

_ATTRS = {
    "ArtifactConfig": ".settings",
    "ArtifactResult": ".stage",
    "find_artifacts": ".stage",
}
__all__ = [
    "ArtifactConfig",
    "ArtifactResult",
    "find_artifacts",
]

__getattr__, __dir__ = lazy_exports(__name__, _ATTRS)

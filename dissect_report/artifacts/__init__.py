"""Artifact units: rank by the quality of their top images, screen causally, repair by ablation.

Usage::

    from dissect_report.artifacts import ArtifactConfig, find_artifacts
    result = find_artifacts(ArtifactConfig(), "report")    # -> REPORT/artifacts/

Names load lazily so that reading the settings (the CLI's defaults) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_ATTRS = {
    "ArtifactConfig": "settings",
    "ArtifactResult": "stage",
    "find_artifacts": "stage",
}
__all__ = sorted(_ATTRS)


def __getattr__(name: str) -> Any:
    if name in _ATTRS:
        return getattr(importlib.import_module(f"{__name__}.{_ATTRS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

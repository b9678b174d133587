"""dissect-report: dissect a GAN's units into concepts and publish the findings as a static site.

Usage::

    import dissect_report as dr
    images, labels = dr.world.render_scenes(seed=0, indices=range(8))
    dr.open_report("report").units("layer3").head()     # a report's tables as DataFrames

Submodules load lazily so that ``import dissect_report`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY_MODULES = {"world"}
_LAZY_ATTRS: dict[str, str] = {
    "compare_reports": "dissect_report.compare",
    "dissect": "dissect_report.dissection.stage",
    "merge_shards": "dissect_report.dissection.stage",
    "DissectResult": "dissect_report.dissection.results",
    "compare_findings": "dissect_report.compare",
    "FindingsComparison": "dissect_report.compare",
    "DissectConfig": "dissect_report.config",
    "load_config": "dissect_report.config",
    "load_models": "dissect_report.models",
    "Models": "dissect_report.models",
    "check_model": "dissect_report.contract",
    "ModelCheck": "dissect_report.contract",
    "seeded_noise": "dissect_report.adapters",
    "adapt_generator": "dissect_report.adapters",
    "intervene": "dissect_report.interventions",
    "InterventionConfig": "dissect_report.interventions",
    "InterventionResult": "dissect_report.interventions",
    "find_artifacts": "dissect_report.artifacts",
    "ArtifactConfig": "dissect_report.artifacts",
    "ArtifactResult": "dissect_report.artifacts",
    "build_paint": "dissect_report.paint",
    "PaintConfig": "dissect_report.paint",
    "PaintResult": "dissect_report.paint",
    "render_site": "dissect_report.render",
    "open_report": "dissect_report.reportdir.report",
    "Report": "dissect_report.reportdir.report",
    "RenderResult": "dissect_report.render",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(_LAZY_ATTRS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

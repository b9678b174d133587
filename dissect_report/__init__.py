"""dissect-report: dissect a GAN's units into concepts and publish the findings as a static site.

Usage::

    import dissect_report as dr
    images, labels = dr.world.render_scenes(seed=0, indices=range(8))
    dr.open_report("report").units("layer3").head()     # a report's tables as DataFrames

Submodules load lazily (:mod:`dissect_report.lazy`) so that ``import dissect_report`` stays
cheap; ``dir(dr)`` and ``help(dr)`` list the public names, and type checkers read them from
the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dissect_report.lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from dissect_report import world
    from dissect_report.adapters import adapt_generator, seeded_noise
    from dissect_report.artifacts.settings import ArtifactConfig
    from dissect_report.artifacts.stage import ArtifactResult, find_artifacts
    from dissect_report.compare import FindingsComparison, compare_findings, compare_reports
    from dissect_report.config import DissectConfig, load_config
    from dissect_report.contract import ModelCheck, check_model
    from dissect_report.dissection.results import DissectResult
    from dissect_report.dissection.stage import dissect, merge_shards
    from dissect_report.interventions.settings import InterventionConfig
    from dissect_report.interventions.stage import InterventionResult, intervene
    from dissect_report.models import load_models
    from dissect_report.paint.settings import PaintConfig
    from dissect_report.paint.stage import PaintResult, build_paint
    from dissect_report.render.site import RenderResult, render_site
    from dissect_report.reportdir.report import Report, open_report

_EXPORTS = {
    "world": "dissect_report.world",
    "compare_reports": "dissect_report.compare",
    "compare_findings": "dissect_report.compare",
    "FindingsComparison": "dissect_report.compare",
    "dissect": "dissect_report.dissection.stage",
    "merge_shards": "dissect_report.dissection.stage",
    "DissectResult": "dissect_report.dissection.results",
    "DissectConfig": "dissect_report.config",
    "load_config": "dissect_report.config",
    "load_models": "dissect_report.models",
    "Models": "dissect_report.models",
    "check_model": "dissect_report.contract",
    "ModelCheck": "dissect_report.contract",
    "seeded_noise": "dissect_report.adapters",
    "adapt_generator": "dissect_report.adapters",
    "intervene": "dissect_report.interventions.stage",
    "InterventionConfig": "dissect_report.interventions.settings",
    "InterventionResult": "dissect_report.interventions.stage",
    "find_artifacts": "dissect_report.artifacts.stage",
    "ArtifactConfig": "dissect_report.artifacts.settings",
    "ArtifactResult": "dissect_report.artifacts.stage",
    "build_paint": "dissect_report.paint.stage",
    "PaintConfig": "dissect_report.paint.settings",
    "PaintResult": "dissect_report.paint.stage",
    "render_site": "dissect_report.render.site",
    "RenderResult": "dissect_report.render.site",
    "open_report": "dissect_report.reportdir.report",
    "Report": "dissect_report.reportdir.report",
}
__all__ = [
    "__version__",
    "ArtifactConfig",
    "ArtifactResult",
    "DissectConfig",
    "DissectResult",
    "FindingsComparison",
    "InterventionConfig",
    "InterventionResult",
    "ModelCheck",
    "PaintConfig",
    "PaintResult",
    "RenderResult",
    "Report",
    "adapt_generator",
    "build_paint",
    "check_model",
    "compare_findings",
    "compare_reports",
    "dissect",
    "find_artifacts",
    "intervene",
    "load_config",
    "load_models",
    "merge_shards",
    "open_report",
    "render_site",
    "seeded_noise",
    "world",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

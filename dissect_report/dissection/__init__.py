"""The dissection stage: one pass over N samples, then thresholds, IoU tables and unit images.

Usage::

    from dissect_report.dissection.stage import dissect
    result = dissect(DissectConfig(samples=200), "report")   # layers/, samples/, manifest.json

Modules, in the order the stage runs them: ``stage`` (:func:`dissect`, :func:`merge_shards`),
``engines`` (run the pass here or on Ray), ``statspass`` (the pass itself), ``calibration``
(histogram edges), ``stats`` (mergeable per-layer state), ``thresholds`` (IoU/IQR scores),
``results`` and ``caveats`` (what the tables say and where to doubt them), ``bands`` and
``visualize`` (which samples each unit's grid shows, and the grids).

Names load lazily so that importing a submodule does not import the whole stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dissect_report.lazy import lazy_exports

if TYPE_CHECKING:
    from dissect_report.dissection.results import DissectResult
    from dissect_report.dissection.stage import dissect, merge_shards

_ATTRS = {"dissect": ".stage", "merge_shards": ".stage", "DissectResult": ".results"}
__all__ = [
    "DissectResult",
    "dissect",
    "merge_shards",
]

__getattr__, __dir__ = lazy_exports(__name__, _ATTRS)

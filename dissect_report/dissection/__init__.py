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

import importlib
from typing import Any

_ATTRS = {"dissect": "stage", "merge_shards": "stage", "DissectResult": "results"}
__all__ = sorted(_ATTRS)


def __getattr__(name: str) -> Any:
    if name in _ATTRS:
        return getattr(importlib.import_module(f"{__name__}.{_ATTRS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

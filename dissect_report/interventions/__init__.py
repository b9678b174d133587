"""Interventions: edit a layer's units during the forward pass and measure what changes.

Usage::

    from dissect_report.interventions import InterventionConfig, intervene
    from dissect_report.modeltools.edit import ablate, edit, insert

    with edit(generator, "layer4", ablate([3, 17])):
        images = generator(z)
    result = intervene(InterventionConfig(), "report")     # ACE, insertion, pictures -> concepts/

Names load lazily so that reading the settings (the CLI's defaults) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_ATTRS = {
    "InterventionConfig": "settings",
    "ConceptResult": "stage",
    "InterventionResult": "stage",
    "intervene": "stage",
}
__all__ = sorted(_ATTRS)


def __getattr__(name: str) -> Any:
    if name in _ATTRS:
        return getattr(importlib.import_module(f"{__name__}.{_ATTRS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

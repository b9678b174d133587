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

from typing import TYPE_CHECKING

from dissect_report.lazy import lazy_exports

if TYPE_CHECKING:
    from dissect_report.interventions.settings import InterventionConfig
    from dissect_report.interventions.stage import ConceptResult, InterventionResult, intervene

_ATTRS = {
    "InterventionConfig": ".settings",
    "ConceptResult": ".stage",
    "InterventionResult": ".stage",
    "intervene": ".stage",
}
__all__ = [
    "ConceptResult",
    "InterventionConfig",
    "InterventionResult",
    "intervene",
]

__getattr__, __dir__ = lazy_exports(__name__, _ATTRS)

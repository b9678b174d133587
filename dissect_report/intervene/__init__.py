"""Interventions: edit a layer's units during the forward pass and measure what changes.

Usage::

    from dissect_report.intervene import InterventionConfig, intervene
    from dissect_report.intervene.edit import ablate, edit, insert

    with edit(generator, "layer4", ablate([3, 17])):
        images = generator(z)
    result = intervene(InterventionConfig(), "report")     # ACE, insertion, pictures -> concepts/
"""

from __future__ import annotations

from dissect_report.intervene.bundle import ModelBundle
from dissect_report.intervene.edit import ablate, blend, edit, insert, patch_mask, trace
from dissect_report.intervene.stage import (
    ConceptResult,
    InterventionConfig,
    InterventionResult,
    intervene,
)

__all__ = [
    "ConceptResult",
    "InterventionConfig",
    "InterventionResult",
    "ModelBundle",
    "ablate",
    "blend",
    "edit",
    "insert",
    "intervene",
    "patch_mask",
    "trace",
]

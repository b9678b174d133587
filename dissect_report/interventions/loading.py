"""Rebuild the models of an existing report from its manifest (for ``intervene``/``artifacts``).

Usage::

    manifest = reportio.read_manifest(report)
    models = bundle_from_manifest(manifest)                      # generator, segmenter, sampler
    report, manifest, models = open_report("report", models=None)   # what every stage starts with
    models = bundle_from_manifest(manifest, discriminator="pkg.mod:make_d")   # plus your D

The built-in world also brings its discriminator and real images (the FSD reference).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from dissect_report.errors import ModelError, ReportError, UserError
from dissect_report.interventions.bundle import ModelBundle


def builtin_reference(seed: int, ids: Sequence[int]) -> torch.Tensor:
    """Real images of the built-in world, (N, 3, 64, 64) in [-1, 1]."""
    from dissect_report import world

    images, _ = world.render_scenes(seed, list(ids))
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def _factory_call(path: str, what: str) -> Any:
    from dissect_report.models import import_factory

    try:
        return import_factory(path)()
    except UserError:
        raise
    except Exception as exc:
        raise ModelError(f"{what} factory {path!r} failed: {exc!r}") from None


def bundle_from_manifest(
    manifest: dict[str, Any],
    discriminator: str | None = None,
    discriminator_weights: str | None = None,
    features: str | None = None,
) -> ModelBundle:
    """The generator/segmenter the report was made with, plus optional D and feature extractor.

    ``discriminator`` / ``features``: factory paths ``pkg.module:make`` (called with no
    arguments); ``"none"`` turns the built-in discriminator off.
    """
    from dissect_report.config import BUILTIN_GENERATOR, make_config
    from dissect_report.models import load_models, load_weights
    from dissect_report.sampler import latents

    if "config" not in manifest:
        raise ReportError("manifest.json has no 'config'; cannot rebuild the models")
    config = make_config(manifest["config"])
    models = load_models(config)
    builtin = config.generator == BUILTIN_GENERATOR and config.weights is None
    disc: Any = None
    if discriminator and discriminator != "none":
        disc = _factory_call(discriminator, "discriminator")
        if discriminator_weights:
            load_weights(disc, discriminator_weights)
        if isinstance(disc, torch.nn.Module):
            disc.eval()
    elif builtin and discriminator != "none":
        from dissect_report import world

        disc = world.load_discriminator()
    feat = _factory_call(features, "feature extractor") if features else None
    gen = models.generator

    def sampler(seed: int, ids: Sequence[int], z_dim: int) -> torch.Tensor:
        return latents(seed, ids, z_dim)

    return ModelBundle(
        generator=gen,
        latent_dim=models.z_dim,
        segmenter=models.segmenter,
        latent_fn=sampler,
        discriminator=disc,
        features=feat,
        reference=builtin_reference if builtin and config.segmenter == "builtin" else None,
    )


def open_report(
    report: str | Path, models: ModelBundle | None = None
) -> tuple[Path, dict[str, Any], ModelBundle]:
    """A report's path and manifest, and its models (``models`` if given, else rebuilt)."""
    from dissect_report.interventions import reportio

    report = Path(report)
    manifest = reportio.read_manifest(report)
    return report, manifest, models if models is not None else bundle_from_manifest(manifest)

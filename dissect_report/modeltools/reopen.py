"""Rebuild the models of an existing report from its manifest (intervene, artifacts, paint).

Usage::

    from dissect_report.modeltools.reopen import open_with_models, models_from_manifest
    report, models = open_with_models("report", models=None)    # what every stage starts with
    models = models_from_manifest(report.raw)                    # generator, segmenter, critics
    models = models_from_manifest(report.raw, discriminator="pkg.mod:make_d")   # plus your D
    models = with_critics(models, report_config(report.raw))     # models already loaded (run)

The built-in world also brings its discriminator and real images (the FSD reference).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from dissect_report.errors import ModelError, ReportError, UserError
from dissect_report.models import Models
from dissect_report.reportdir.report import Report, open_report

if TYPE_CHECKING:
    from dissect_report.config import DissectConfig


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


def report_config(
    manifest: dict[str, Any], generator: str | None = None, weights: str | None = None
) -> DissectConfig:
    """The report's config, its weights at their recorded absolute path, with overrides.

    ``generator`` / ``weights``: another factory path / weights file for the same model
    (the report was moved, or made on another machine); :func:`check_same_model` then
    checks the loaded model against the recorded hashes.
    """
    from dissect_report.config import make_config

    if "config" not in manifest:
        raise ReportError("manifest.json has no 'config'; cannot rebuild the models")
    values = dict(manifest["config"])
    recorded = (manifest.get("model") or {}).get("weights")
    if values.get("weights") and recorded and Path(recorded).is_absolute():
        values["weights"] = recorded  # the manifest's absolute path: works from any directory
    if generator is not None:
        values["generator"] = generator
    if weights is not None:
        values["weights"] = weights
    if values.get("weights") and not Path(values["weights"]).is_file():
        sha = (manifest.get("model") or {}).get("weights_sha256") or "?"
        raise ModelError(
            f"the report's generator weights {values['weights']!r} are not there; "
            f"pass --weights FILE (the file with sha256 {sha[:12]}...)"
        )
    return make_config(values)


def check_same_model(manifest: dict[str, Any], identity: dict[str, Any]) -> None:
    """Refuse models whose content differs from the report's (hashes, latent layout)."""
    from dissect_report.models import CONTENT_KEYS, fingerprint_differences, model_fingerprint

    old = {k: v for k, v in model_fingerprint(manifest).items() if k in CONTENT_KEYS}
    differs = fingerprint_differences(old, model_fingerprint(identity))
    if differs:
        raise ModelError(
            f"the models loaded differ from the report's ({'; '.join(differs[:4])}); "
            "pass the --generator/--weights the report was made with"
        )


def with_critics(
    models: Models,
    config: DissectConfig,
    discriminator: str | None = None,
    discriminator_weights: str | None = None,
    features: str | None = None,
) -> Models:
    """``models`` with a discriminator, a feature extractor and real images where there are.

    ``discriminator`` / ``features``: factory paths ``pkg.module:make`` (called with no
    arguments); ``"none"`` turns the built-in discriminator off. The built-in world brings its
    own discriminator and renderer of real images. Each is placed on the models' device.
    """
    from dissect_report.config import BUILTIN_GENERATOR
    from dissect_report.models import load_weights

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
    for module in (disc, feat):
        if isinstance(module, torch.nn.Module):
            module.to(models.device)
    return dataclasses.replace(
        models,
        discriminator=disc,
        features=feat,
        reference=builtin_reference if builtin and config.segmenter == "builtin" else None,
    )


def models_from_manifest(
    manifest: dict[str, Any],
    discriminator: str | None = None,
    discriminator_weights: str | None = None,
    features: str | None = None,
    *,
    generator: str | None = None,
    weights: str | None = None,
) -> Models:
    """The models the report was made with, plus optional D and feature extractor.

    ``generator`` / ``weights`` override the recorded ones and must load the same model
    (checked by content hash). The model check runs on the report's layers before anything
    is computed. See :func:`with_critics` for ``discriminator`` and ``features``.
    """
    from dissect_report.models import load_models

    config = report_config(manifest, generator, weights)
    models = load_models(config)
    check_same_model(manifest, models.identity)
    return with_critics(models, config, discriminator, discriminator_weights, features)


def open_with_models(
    report: str | Path,
    models: Models | None = None,
    *,
    generator: str | None = None,
    weights: str | None = None,
) -> tuple[Report, Models]:
    """The opened report and its models (``models`` if given, else rebuilt from its manifest).

    ``generator`` / ``weights`` override the recorded ones (see :func:`models_from_manifest`).
    """
    opened = open_report(report)
    if models is None:
        models = models_from_manifest(opened.raw, generator=generator, weights=weights)
    return opened, models

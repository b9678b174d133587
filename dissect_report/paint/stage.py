"""The Paint stage: what the site needs to repaint samples in the browser (GANPaint, offline).

Usage::

    from dissect_report.paint import PaintConfig, build_paint
    result = build_paint(PaintConfig(samples=8), "report")    # after `intervene`
    result.available, result.note      # False and one line why, if the tail cannot be exported

Reads the interventions' layer, held-out seed, per-concept unit sets (``top_units`` of
``concepts/index.parquet``) and insertion levels (``concepts/<slug>/levels.parquet``), and
writes ``paint/`` (format in docs/report-format.md):

- ``tail.onnx``: the generator from the intervention layer to the image (:mod:`.export`);
- ``activations.npy``: (N, U, H, W) float16, the layer's output on held-out samples 0..N-1;
- ``latents.npy``: (N, z_dim) float32, their latents (the tail's other input);
- ``paint.json``: layer, seed, sample ids, shapes, input names, concepts with units and levels.

A generator that cannot be exported gets ``paint.json`` with ``available: false`` and a
one-line ``note``; the stage still succeeds, so the rest of the report and site are unaffected.
The section is built beside the old one and swapped in (:mod:`dissect_report.swap`); the
manifest is updated last.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dissect_report.adapters import noise_table, replaying
from dissect_report.errors import ReportError
from dissect_report.models import Models
from dissect_report.modeltools.edit import trace
from dissect_report.modeltools.frozen import frozen
from dissect_report.modeltools.reopen import models_from_manifest
from dissect_report.paint.brushes import Brush, BrushSettings, make_brush
from dissect_report.paint.export import PaintUnavailable, TailModel, export_tail
from dissect_report.paint.settings import PaintConfig
from dissect_report.progress import bar
from dissect_report.reportdir.atomic import write_bytes
from dissect_report.reportdir.read import read_rows
from dissect_report.reportdir.report import open_report
from dissect_report.reportdir.schema import ConceptIndexRow, LevelRow
from dissect_report.swap import abort_section, begin_section, check_schema, publish_section

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PaintConcept:
    name: str
    slug: str
    color: str
    units: tuple[int, ...]  # the units Paint sets, best IoU first (the interventions' top units)
    levels: tuple[float, ...]  # their insertion levels, aligned with units


@dataclass(frozen=True)
class PaintResult:
    report: Path
    available: bool
    note: str | None
    layer: str
    samples: int
    model_bytes: int
    seconds: float
    brushes: tuple[Brush, ...] = ()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _levels(report: Path, slug: str) -> np.ndarray | None:
    path = report / "concepts" / slug / "levels.parquet"
    if not path.is_file():
        return None
    rows = read_rows(path, LevelRow)
    out = np.full(max((r.unit for r in rows), default=-1) + 1, np.nan)
    for r in rows:
        out[r.unit] = r.level
    return out


def read_concepts(report: Path, manifest: dict[str, Any]) -> list[PaintConcept]:
    """The intervened concepts with their top units and insertion levels, in index order."""
    index = report / "concepts" / "index.parquet"
    if not manifest.get("sections", {}).get("interventions") or not index.is_file():
        raise ReportError(
            "Paint uses the interventions' unit sets; run 'dissect-report intervene REPORT' first"
        )
    colors = {str(c["name"]): str(c.get("color", "#888888")) for c in manifest.get("concepts", [])}
    out = []
    for row in read_rows(index, ConceptIndexRow):
        units = list(row.top_units)
        if not units:  # a brush that sets no unit paints nothing
            log.warning("paint: concept %r has no units to set; no brush for it", row.concept)
            continue
        levels = _levels(report, row.slug)
        if levels is None:
            raise ReportError(
                f"concepts/{row.slug}/levels.parquet is missing (a report from an older "
                "version); run 'dissect-report intervene REPORT' again"
            )
        if any(u >= len(levels) or not np.isfinite(levels[u]) for u in units):
            raise ReportError(f"concepts/{row.slug}/levels.parquet lacks a level of its units")
        name = row.concept
        out.append(
            PaintConcept(
                name=name,
                slug=row.slug,
                color=colors.get(name, "#888888"),
                units=tuple(units),
                levels=tuple(float(levels[u]) for u in units),
            )
        )
    if not out:
        raise ReportError(
            "Paint has no brush: the interventions found no concept with units to set "
            "(the layer has no interpretable unit); rerun 'dissect-report intervene' on a layer "
            "with labelled units (--layer) or name concepts with --concepts"
        )
    return out


@dataclass(frozen=True)
class BrushInput:
    """A concept's brush inputs: the interventions' top units and every unit's level."""

    name: str
    top_units: tuple[int, ...]
    all_levels: torch.Tensor  # (U,) insertion level of every unit of the layer


@dataclass(frozen=True)
class BrushInputs:
    layer: str
    select_seed: int  # the dissection's seed: brushes are chosen on its samples
    measure_seed: int  # the interventions' held-out seed: brushes are measured on it
    concepts: tuple[BrushInput, ...]


def brush_inputs(report: Path, manifest: dict[str, Any]) -> BrushInputs:
    """What :func:`dissect_report.paint.brushes.make_brush` needs from a report."""
    opened = open_report(report)
    settings = manifest.get("interventions", {})
    layer = str(settings.get("layer", ""))
    seed = int(settings.get("seed", opened.dissection_seed + 1))
    items = []
    for c in read_concepts(report, manifest):
        levels = _levels(report, c.slug)
        assert levels is not None  # read_concepts checked
        items.append(BrushInput(c.name, c.units, torch.from_numpy(np.nan_to_num(levels))))
    return BrushInputs(layer, opened.dissection_seed, seed, tuple(items))


def concept_brush(
    models: Models, inputs: BrushInputs, item: BrushInput, settings: BrushSettings
) -> Brush:
    """The concept's brush, chosen on the dissection's samples, measured on held-out ones."""
    return make_brush(
        models,
        inputs.layer,
        item.name,
        item.all_levels,
        item.top_units,
        select=(inputs.select_seed, range(settings.select_samples)),
        measure=(inputs.measure_seed, settings.measure_ids()),
        settings=settings,
    )


def brush_settings(config: PaintConfig) -> dict[str, Any]:
    """How brushes were chosen and measured (paint.json ``brushes``)."""
    b = BrushSettings(
        select_samples=config.brush_select,
        measure_samples=config.brush_measure,
        min_precision=config.min_precision,
    )
    return {
        "stroke": b.stroke,
        "ground": list(b.ground),
        "select_samples": b.select_samples,
        "measure_samples": b.measure_samples,
        "measure_first": b.measure_first,
        "min_coverage": b.min_coverage,
        "min_precision": b.min_precision,
    }


def _brushes(
    root: Path,
    manifest: dict[str, Any],
    models: Models,
    config: PaintConfig,
    entries: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], tuple[Brush, ...]]:
    """paint.json concepts with each brush's units (ranked by effect) and measured precision,
    and the brushes."""
    inputs = brush_inputs(root, manifest)
    settings = BrushSettings(
        select_samples=config.brush_select,
        measure_samples=config.brush_measure,
        min_precision=config.min_precision,
    )
    out = []
    made = []
    pairs = list(zip(entries, inputs.concepts, strict=True))
    for entry, item in bar(pairs, desc="paint brushes", unit="brush"):
        brush = concept_brush(models, inputs, item, settings)
        levels = item.all_levels
        made.append(brush)
        out.append(
            {
                **entry,
                "units": list(brush.units),
                "levels": [float(levels[u]) for u in brush.units],
                "n": brush.n,
                "method": brush.method,
                "alpha": [_finite(e) for e in brush.effects],
                "precision": _finite(brush.precision),
                "coverage": _finite(brush.coverage),
                "others": [[name, share] for name, share in brush.others],
                "strokes": brush.strokes,
                "on_ground": brush.on_ground,
                "offered": brush.offered,
                "selection": [[n, _finite(p), _finite(c)] for n, p, c in brush.selection],
                "iou_units": list(item.top_units),
                "place": _place(brush),
            }
        )
    return out, tuple(made)


def _place(brush: Brush) -> dict[str, Any] | None:
    """paint.json ``place``: the brush measured where its concept belongs (None: not measured)."""
    p = brush.place
    if p is None:
        return None
    return {
        "context": p.context,
        "precision": _finite(p.precision),
        "coverage": _finite(p.coverage),
        "others": [[name, share] for name, share in p.others],
        "strokes": p.strokes,
    }


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


@dataclass(frozen=True)
class LayerSamples:
    """The page's samples at the layer: what the browser starts from (CPU, float32)."""

    z: torch.Tensor  # (N, z_dim) latents
    acts: torch.Tensor  # (N, U, H, W) the layer's output
    image: tuple[int, ...]  # one generated image's shape


@dataclass(frozen=True)
class PaintSection:
    """What ``paint/`` holds: ``paint.json``'s document and every file by name."""

    meta: dict[str, Any]
    files: dict[str, bytes]  # paint.json, and tail.onnx + the .npy files when available
    brushes: tuple[Brush, ...]
    model_bytes: int  # the exported tail's size (0 when it was not exported)


def sample_layer(models: Models, layer: str, seed: int, samples: int) -> LayerSamples:
    """Generate held-out samples ``0..samples-1`` of ``seed`` and keep ``layer``'s output."""
    z = models.latents(list(range(samples)), seed=seed)
    with frozen(models.generator), trace(models.generator, layer) as t:
        images = models.generate(z)
    if t.output is None or t.output.dim() != 4:
        shape = None if t.output is None else tuple(t.output.shape)
        raise ReportError(f"layer {layer!r} did not give an (N, U, H, W) output; got {shape}")
    return LayerSamples(z.float().cpu(), t.output.float().cpu(), tuple(images.shape[1:]))


def page_tail(models: Models, layer: str, samples: LayerSamples, config: PaintConfig) -> TailModel:
    """The generator's tail from ``layer``, exported from a float32 CPU copy (what the browser
    runs); raises :class:`PaintUnavailable` when it cannot be."""
    generator = models.export_copy()
    z, acts = samples.z[:1], samples.acts[:1]
    with frozen(generator):
        if models.identity.get("model", {}).get("seeded_noise"):
            # --seeded-noise hashes each latent's bytes, which no exporter can trace: the
            # page's samples' draws are recorded and the tail replays them (nearest latent).
            with replaying(noise_table(generator, samples.z)):
                return export_tail(generator, layer, z, acts, config.half_weights)
        return export_tail(generator, layer, z, acts, config.half_weights)


def _check_tail(tail: TailModel, layer: str, config: PaintConfig) -> None:
    """Refuse a tail a page cannot carry or feed (:class:`PaintUnavailable`)."""
    if len(tail.model) > config.max_model_mb * 1e6:
        raise PaintUnavailable(
            f"the generator's tail from {layer!r} is {len(tail.model) / 1e6:.0f} MB, over the "
            f"{config.max_model_mb:g} MB a page can carry"
        )
    unknown = set(tail.inputs) - {"z", "h"}
    if unknown:
        raise PaintUnavailable(f"the exported tail wants unknown inputs {sorted(unknown)}")


def _meta(
    layer: str, seed: int, samples: LayerSamples, concepts: list[PaintConcept]
) -> dict[str, Any]:
    """paint.json before the export: an unavailable page's document."""
    return {
        "format_version": FORMAT_VERSION,
        "available": False,
        "note": None,
        "layer": layer,
        "seed": seed,
        "samples": list(range(len(samples.z))),
        "shape": list(samples.acts.shape[1:]),
        "image": list(samples.image),
        "z_dim": int(samples.z.shape[1]),
        "concepts": [
            {
                "name": c.name,
                "slug": c.slug,
                "color": c.color,
                "units": list(c.units),
                "levels": list(c.levels),
            }
            for c in concepts
        ],  # fmt: skip
    }


def measure_paint(
    config: PaintConfig,
    root: Path,
    manifest: dict[str, Any],
    models: Models,
    layer: str,
    seed: int,
    concepts: list[PaintConcept],
) -> PaintSection:
    """Everything ``paint/`` holds, measured; nothing written."""
    samples = sample_layer(models, layer, seed, config.samples)
    meta = _meta(layer, seed, samples, concepts)
    files: dict[str, bytes] = {}
    brushes: tuple[Brush, ...] = ()
    model_bytes = 0
    try:
        tail = page_tail(models, layer, samples, config)
        model_bytes = len(tail.model)
        _check_tail(tail, layer, config)
        meta.update(available=True, inputs=list(tail.inputs), half_weights=tail.half_weights)
        if config.brushes:
            meta["brushes"] = brush_settings(config)
            meta["concepts"], brushes = _brushes(root, manifest, models, config, meta["concepts"])
        files["tail.onnx"] = tail.model
        files["activations.npy"] = _npy(samples.acts.numpy().astype(np.float16))
        files["latents.npy"] = _npy(samples.z.numpy().astype(np.float32))
    except PaintUnavailable as exc:
        meta["note"] = str(exc)
        log.info("paint: %s", exc)  # the CLI prints it, once
    files["paint.json"] = (json.dumps(meta, indent=2) + "\n").encode()
    return PaintSection(meta, files, brushes, model_bytes)


def _write_section(root: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` beside the old ``paint/`` (:func:`publish_section` swaps it in)."""
    new = begin_section(root, "paint")  # the old paint/ stays until this one is whole
    try:
        for name, data in files.items():
            write_bytes(new / name, data)
    except BaseException:
        abort_section(root, "paint")
        raise


def build_paint(
    config: PaintConfig, report: str | Path, models: Models | None = None
) -> PaintResult:
    """Export the tail and the samples' activations into ``report/paint``; see the module doc."""
    start = time.perf_counter()
    root = Path(report)
    check_schema(root)
    opened = open_report(root)  # the manifest first: its checks come before loading models
    manifest = opened.raw
    concepts = read_concepts(root, manifest)
    settings = manifest.get("interventions", {})
    layer = str(settings.get("layer", ""))
    if not layer:
        raise ReportError("manifest.interventions has no layer; run 'dissect-report intervene'")
    seed = int(settings.get("seed", opened.dissection_seed + 1))
    models = models if models is not None else models_from_manifest(manifest)
    section = measure_paint(config, root, manifest, models, layer, seed, concepts)
    _write_section(root, section.files)
    seconds = time.perf_counter() - start
    available, note = bool(section.meta["available"]), section.meta["note"]
    publish_section(
        root,
        "paint",
        "paint",
        {
            "paint": {"layer": layer, "samples": config.samples, "available": available,
                      "note": note, "half_weights": config.half_weights},
            "timings": {"paint_s": round(seconds, 3)},
        },
    )  # fmt: skip
    return PaintResult(
        root, available, note, layer, config.samples, section.model_bytes, seconds, section.brushes
    )

"""Dissection: one pass over the samples, then thresholds, IoU tables and unit images.

Usage::

    import dissect_report as dr
    result = dr.dissect(dr.DissectConfig(layers=("layer4",), samples=500), out="report")
    layer = result.layer("layer4")
    layer.interpretable, layer.concepts_covered
    dr.merge_shards(["part1", "part2"], out="report")     # after --shard 1/2 and 2/2

The pass keeps only the mergeable state of :mod:`dissect_report.dissection.stats` per layer and
checkpoints it atomically every ``checkpoint_every`` batches; ``resume=True`` continues from
the last checkpoint. Counts are integers, so batching, sharding and resuming never change
the tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from dissect_report import __version__
from dissect_report.charts import hex_color
from dissect_report.config import DissectConfig
from dissect_report.contract import skipped_summary
from dissect_report.dissection.caveats import (
    caveat_lines,
    non_finite_share,
    unit_flags,
    unreachable,
)
from dissect_report.dissection.engines import driver_config, run_engine
from dissect_report.dissection.labels import POSITION_ONLY, candidates, label_units, refusals
from dissect_report.dissection.position import POSITION, measure_positions
from dissect_report.dissection.results import DissectResult, LayerResult
from dissect_report.dissection.stats import LayerState
from dissect_report.dissection.statspass import refuse_other_run
from dissect_report.dissection.thresholds import score_units
from dissect_report.errors import ReportError
from dissect_report.models import Models, load_models, model_fingerprint
from dissect_report.provenance import environment
from dissect_report.render.fmt import few
from dissect_report.reportdir.read import read_json_object, read_state
from dissect_report.reportdir.schema import MANIFEST, PARTIAL, SCHEMA_VERSION, SHARD_MANIFEST
from dissect_report.reportdir.write import (
    make_dir,
    prepare_output,
    write_layer,
    write_manifest,
    write_stats,
)
from dissect_report.sampler import shard_range
from dissect_report.slug import unique_slugs
from dissect_report.trace import resolve_layers

log = logging.getLogger(__name__)


def finalize(
    config: DissectConfig,
    models_concepts: list[str],
    colors: list[str],
    states: dict[str, LayerState],
    shapes: dict[str, tuple[int, int, int]],
    report_dir: Path | None = None,
    timings: dict[str, float] | None = None,
) -> DissectResult:
    """Thresholds and scores from the merged states."""
    slugs = unique_slugs(list(config.layers))
    layers = tuple(
        LayerResult(
            name=name,
            slug=slugs[name],
            shape=shapes[name],
            state=states[name],
            scores=score_units(states[name], config.policy, config.level),
            iou_floor=config.iou_floor,
        )
        for name in config.layers
    )
    # the guards before position
    layers = tuple(label_units(layer, config.label_fallback) for layer in layers)
    samples = next(iter(states.values())).samples
    return DissectResult(
        config,
        tuple(models_concepts),
        tuple(colors),
        layers,
        samples,
        report_dir,
        dict(timings or {}),
    )


def with_positions(result: DissectResult, models: Models) -> DissectResult:
    """``result`` with each layer's mean masks and position-only baseline (a short pass over
    the first samples with the thresholds known: see :mod:`dissect_report.dissection.position`).
    """
    t0 = time.perf_counter()
    # Each unit's own threshold and its top concept's; with the label fallback also every pair
    # that could label it once a guard refuses a better one (iqr: a mean mask per pair).
    fallback = result.config.label_fallback
    wanted = {}
    for layer in result.layers:
        top = np.zeros(layer.scores.iou.shape, bool)
        top[np.arange(layer.state.units), layer.scores.top] = True
        wanted[layer.name] = (candidates(layer) | top) if fallback else top
    found = measure_positions(
        models,
        result.layers,
        result.config.batch_size,
        result.config.downsample_segmentation,
        wanted,
    )
    if not found:
        return result
    layers = []
    for layer in result.layers:
        masks = found.get(layer.name)
        if masks is not None:
            layer = dataclasses.replace(layer, position=masks.position(layer.state, layer.scores))
            layer = label_units(layer, fallback)  # the next concept where position refuses
            layer = dataclasses.replace(layer, position=masks.position(layer.state, layer.scores))
        layers.append(layer)
        moved = position_flags(layer).get(POSITION, [])
        if moved:
            relabelled = int(layer.interpretable_mask[moved].sum())
            log.info(
                "%s: %d unit(s) (%s) explained by where they fire (%s; all in the manifest's "
                "flagged_units.position)",
                layer.name,
                len(moved),
                few(moved),
                f"{relabelled} labelled with their next concept instead"
                if fallback
                else "unlabelled; --label-fallback labels them with a next concept that passes",
            )
    timings = {**result.timings, "positions_s": time.perf_counter() - t0}
    return dataclasses.replace(result, layers=tuple(layers), timings=timings)


def position_flags(layer: LayerResult) -> dict[str, list[int]]:
    """``{"position": units}``: units whose top concept passes the other guards but is
    explained by position (labelled with a next concept, or unlabelled)."""
    if layer.position is None:
        return {}
    _, reason = refusals(layer)
    return {POSITION: np.flatnonzero(reason == POSITION_ONLY).tolist()}


def _manifest(result: DissectResult, models: Models, command: str | None) -> dict[str, Any]:
    slugs = unique_slugs(list(result.concepts))
    config = result.config
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dissect-report", "version": __version__},
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "command": command,
        "config": config.model_dump(mode="json"),
        **models.identity,
        "concepts": [
            {"name": n, "slug": slugs[n], "color": c}
            for n, c in zip(result.concepts, result.colors, strict=True)
        ],
        "layers": [
            {
                "name": layer.name,
                "slug": layer.slug,
                "shape": list(layer.shape),
                "units": layer.state.units,
                "interpretable": layer.interpretable,
                "concepts_covered": layer.concepts_covered,
                "non_finite_share": non_finite_share(layer),
                "flagged_units": {
                    **unit_flags(layer.state),
                    **position_flags(layer),
                },
                # concepts the floor rules out at this policy/level: share and best IoU
                "unreachable_concepts": [
                    {"concept": n, "share": s, "best_iou": b}
                    for n, s, b in unreachable(
                        layer.state,
                        list(result.concepts),
                        config.policy,
                        config.level,
                        config.iou_floor,
                    )
                ],
            }
            for layer in result.layers
        ],
        "samples": {"count": result.samples, "seed": config.seed, "top_k": config.top_k},
        "threshold": {
            "policy": config.policy,
            "level": config.level,
            "iou_floor": config.iou_floor,
            "label_fallback": config.label_fallback,
        },
        "nonfinite": {layer.name: layer.state.nonfinite for layer in result.layers},
        "model_check": models.check.summary() if models.check is not None else skipped_summary(),
        "environment": environment(str(models.device)),
        "timings": {
            **{k: round(v, 3) for k, v in result.timings.items()},
            **({"model_check_s": round(models.check.seconds, 3)} if models.check else {}),
        },
        "sections": {"interventions": False, "artifacts": False},
    }


def _write_report(
    result: DissectResult, models: Models, out: Path, images: bool, command: str | None
) -> DissectResult:
    colors = list(result.colors)
    for layer in result.layers:
        write_layer(out / "layers" / layer.slug, layer, list(result.concepts), colors)
    timings = dict(result.timings)
    if images:
        from dissect_report.dissection.visualize import write_unit_images

        t0 = time.perf_counter()
        write_unit_images(models, result.layers, out, batch_size=result.config.batch_size)
        timings["visualize_s"] = time.perf_counter() - t0
    result = dataclasses.replace(result, timings=timings, report_dir=out)
    write_manifest(out, _manifest(result, models, command))
    for line in caveat_lines(result):  # once per layer / run, after the report is complete
        log.warning("%s", line)
    return result


class _Cleanup:
    """Remove a directory this run created if the run fails before finishing."""

    def __init__(self, out: Path | None) -> None:
        self.out = out if out is not None and not out.exists() else None

    def __enter__(self) -> _Cleanup:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        # An error that says "--resume" (a shard lost past its retries) keeps the checkpoint.
        if (
            exc_type is not None
            and self.out is not None
            and isinstance(exc, Exception)  # not Ctrl-C: its checkpoint is for --resume
            and not getattr(exc, "resumable", False)
        ):
            shutil.rmtree(self.out, ignore_errors=True)


def dissect(
    config: DissectConfig,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    shard: tuple[int, int] | None = None,
    images: bool = True,
    command: str | None = None,
    models: Models | None = None,
) -> DissectResult:
    """Dissect ``config.layers`` over ``config.samples`` samples; write a report to ``out``.

    With ``shard=(i, n)`` (n > 1) only samples of shard ``i`` are processed and ``out``
    receives the raw state (``shard.json`` + ``stats.npz``) for :func:`merge_shards`.
    ``models``: the models of ``config``, loaded and checked (``run`` loads them once for
    every stage); by default they are loaded here.
    """
    out_path = Path(out) if out is not None else None
    index, count = shard or (1, 1)
    start, stop = shard_range(config.samples, index, count)
    is_shard = count > 1
    if is_shard and out_path is None:
        raise ReportError("a shard needs an output directory")
    # Models and layers first (and the model check): a bad factory, weights file, layer
    # name or broken model contract must not cost an existing report that --overwrite clears.
    models = load_models(driver_config(config)) if models is None else models
    resolve_layers(models.generator, config.layers)
    if out_path is not None:
        prepare_output(
            out_path,
            overwrite=overwrite,
            resume=resume,
            marker=SHARD_MANIFEST if is_shard else MANIFEST,
        )
    colors = [hex_color(c) for c in models.segmenter.colors]
    with _Cleanup(out_path):
        if out_path is not None:
            make_dir(out_path)
        t0 = time.perf_counter()
        partial = out_path / PARTIAL if out_path is not None else None
        # engine 'local' is run_pass in this process; 'ray' splits it into sample ranges
        states, shapes = run_engine(models, config, start, stop, partial=partial, resume=resume)
        timings = {"dissect_s": time.perf_counter() - t0}
        if is_shard:
            assert out_path is not None
            _write_shard(
                out_path,
                config,
                states,
                shapes,
                (index, count),
                (start, stop),
                models,
                colors,
                timings,
            )
            return finalize(config, models.concepts, colors, states, shapes, out_path, timings)
        result = finalize(config, models.concepts, colors, states, shapes, out_path, timings)
        result = with_positions(result, models)
        if out_path is None:
            return result
        return _write_report(result, models, out_path, images, command)


def _write_shard(
    out: Path,
    config: DissectConfig,
    states: dict[str, LayerState],
    shapes: dict[str, tuple[int, int, int]],
    shard: tuple[int, int],
    span: tuple[int, int],
    models: Models,
    colors: list[str],
    timings: dict[str, float],
) -> None:
    slugs = unique_slugs(list(config.layers))
    for name, state in states.items():
        write_stats(out / "layers" / slugs[name] / "stats.npz", state)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dissect-report", "version": __version__},
        "shard": {"index": shard[0], "count": shard[1], "start": span[0], "stop": span[1]},
        "table_key": config.table_key(),
        "config": config.model_dump(mode="json"),
        "layers": [{"name": n, "slug": slugs[n], "shape": list(shapes[n])} for n in config.layers],
        "concepts": models.concepts,
        "colors": colors,
        "models": model_fingerprint(models.identity),
        "identity": models.identity,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    write_manifest(out, meta, name=SHARD_MANIFEST)


def _check_batch_sizes(shards: list[str | Path], metas: list[dict[str, Any]]) -> None:
    """Shards may differ in ``batch_size`` (a run setting: a Slurm array's tasks on different
    GPUs), unless one ran without the model check, which holds findings batch-independent."""
    configs = [m.get("config") or {} for m in metas]
    sizes = sorted({int(c.get("batch_size", 0)) for c in configs})
    unchecked = [
        str(p) for p, c in zip(shards, configs, strict=True) if not c.get("check_model", True)
    ]
    if len(sizes) > 1 and unchecked:
        raise ReportError(
            f"the shards ran with batch sizes {sizes} and {unchecked[0]!r} without the model "
            "check (--no-model-check), so its findings may depend on the batch size; rerun the "
            "shards with one --batch-size"
        )


def merge_shards(
    shards: list[str | Path],
    out: str | Path,
    *,
    overwrite: bool = False,
    images: bool = True,
    command: str | None = None,
) -> DissectResult:
    """Add the states of shard directories ``1/n .. n/n`` and write the full report."""
    if not shards:
        raise ReportError("merge needs at least one shard directory")
    metas = [read_json_object(Path(s) / SHARD_MANIFEST) for s in shards]
    first = metas[0]
    first_config = DissectConfig(**first["config"])
    for path, meta in zip(shards[1:], metas[1:], strict=True):
        refuse_other_run(
            f"shard {str(path)!r}",
            first.get("models"),
            meta.get("models") or {},
            meta.get("config"),
            first_config,
            f"merge only shards of one run (compare with {str(shards[0])!r})",
        )
        if meta.get("table_key") != first.get("table_key"):
            raise ReportError(
                f"shard {str(path)!r} was made with a different config than {str(shards[0])!r}"
            )
    _check_batch_sizes(shards, metas)
    count = int(first["shard"]["count"])
    seen = sorted(int(m["shard"]["index"]) for m in metas)
    if seen != list(range(1, count + 1)):
        raise ReportError(f"shards {seen} do not cover 1..{count} exactly once")
    config = first_config
    models = load_models(config)
    if first.get("models"):
        refuse_other_run(
            f"shard {str(shards[0])!r}",
            first["models"],
            model_fingerprint(models.identity),
            None,
            config,
            "the generator, weights or segmenter changed since the shards ran",
        )
    out_path = Path(out)
    prepare_output(out_path, overwrite=overwrite, resume=False)
    states: dict[str, LayerState] = {}
    for path, meta in zip(shards, metas, strict=True):
        for layer in meta["layers"]:
            state = read_state(Path(path) / "layers" / layer["slug"] / "stats.npz")
            name = layer["name"]
            states[name] = states[name].merge(state) if name in states else state
    shapes = {layer["name"]: tuple(layer["shape"]) for layer in first["layers"]}
    timings = {"dissect_s": sum(float(m.get("timings", {}).get("dissect_s", 0.0)) for m in metas)}
    colors = [hex_color(c) for c in models.segmenter.colors]
    if models.concepts != first["concepts"]:
        raise ReportError("the segmenter's concepts differ from the shards'")
    with _Cleanup(out_path):
        make_dir(out_path)
        result = finalize(config, models.concepts, colors, states, shapes, out_path, timings)  # type: ignore[arg-type]
        result = with_positions(result, models)
        return _write_report(result, models, out_path, images, command)

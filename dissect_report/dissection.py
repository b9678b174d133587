"""Dissection: one pass over the samples, then thresholds, IoU tables and unit images.

Usage::

    import dissect_report as dr
    result = dr.dissect(dr.DissectConfig(layers=("layer4",), samples=500), out="report")
    layer = result.layer("layer4")
    layer.interpretable, layer.concepts_covered
    dr.merge_shards(["part1", "part2"], out="report")     # after --shard 1/2 and 2/2

The pass keeps only the mergeable state of :mod:`dissect_report.stats` per layer and
checkpoints it atomically every ``checkpoint_every`` batches; ``resume=True`` continues from
the last checkpoint. Counts are integers, so batching, sharding and resuming never change
the tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dissect_report import __version__
from dissect_report.calibration import calibrate, forward_traced
from dissect_report.caveats import (
    caveat_lines,
    flagged_mask,
    non_finite_share,
    unit_flags,
    unreachable,
)
from dissect_report.charts import hex_color
from dissect_report.config import DissectConfig
from dissect_report.contract import skipped_summary
from dissect_report.engines import run_engine
from dissect_report.errors import ModelError, ReportError, UserError, environment_problem
from dissect_report.models import Models, load_models, model_fingerprint
from dissect_report.progress import bar
from dissect_report.report import (
    MANIFEST,
    PARTIAL,
    SHARD_MANIFEST,
    make_dir,
    prepare_output,
    read_json,
    write_layer,
    write_manifest,
    write_npz,
    write_stats,
)
from dissect_report.sampler import shard_range
from dissect_report.slug import unique_slugs
from dissect_report.stats import LayerState, LayerStats, downsample_labels
from dissect_report.thresholds import UnitScores, interpretable, score_units
from dissect_report.trace import resolve_layers

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LayerResult:
    """One layer's state, thresholds and scores."""

    name: str
    slug: str
    shape: tuple[int, int, int]  # (units, height, width) of one sample's output
    state: LayerState
    scores: UnitScores
    iou_floor: float

    @property
    def interpretable_mask(self) -> np.ndarray:
        """IoU >= iou_floor, not a mask over (nearly) everything or no better than chance, and
        not a flagged (non-finite or dead) unit."""
        return interpretable(self.state, self.scores, self.iou_floor) & ~flagged_mask(self.state)

    @property
    def interpretable(self) -> int:
        return int(self.interpretable_mask.sum())

    def units_per_concept(self) -> list[int]:
        best = self.scores.best[self.interpretable_mask]
        return np.bincount(best, minlength=self.scores.iou.shape[1]).tolist()

    @property
    def concepts_covered(self) -> int:
        return sum(1 for n in self.units_per_concept() if n > 0)


@dataclass(frozen=True)
class DissectResult:
    """What :func:`dissect` found, and where it wrote it."""

    config: DissectConfig
    concepts: tuple[str, ...]
    colors: tuple[str, ...]
    layers: tuple[LayerResult, ...]
    samples: int
    report_dir: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def layer(self, name: str) -> LayerResult:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)


@dataclass
class _Pass:
    """Mutable bookkeeping of one pass: accumulators and the next sample to process."""

    stats: dict[str, LayerStats]
    shapes: dict[str, tuple[int, int, int]]
    position: int


def _checkpoint_arrays(run: _Pass, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    for name, acc in run.stats.items():
        for key, value in acc.state().arrays().items():
            arrays[f"{name}//{key}"] = value
    return arrays


def _load_checkpoint(
    path: Path, meta: dict[str, Any], config: DissectConfig
) -> tuple[dict[str, LayerState], int] | None:
    layers = config.layers
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            saved = json.loads(bytes(data["meta"]).decode())
            refuse_other_run(
                f"checkpoint {str(path)!r}",
                saved.get("models"),
                meta["models"],
                saved.get("config"),
                config,
                "use --overwrite to start again",
            )
            if {k: saved.get(k) for k in meta} != meta:
                raise ReportError(
                    f"checkpoint {str(path)!r} was made with a different config or shard; "
                    "use --overwrite to start again"
                )
            states = {}
            for name in layers:
                prefix = f"{name}//"
                states[name] = LayerState.from_arrays(
                    {k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)},
                    str(path),
                )
            return states, int(saved["position"])
    except (OSError, ValueError, KeyError) as exc:
        raise ReportError(f"cannot read checkpoint {str(path)!r}: {exc}; use --overwrite") from None


def _config_json(config: DissectConfig) -> dict[str, Any]:
    return config.model_dump(mode="json")


def refuse_other_run(
    what: str,
    old_models: dict[str, Any] | None,
    new_models: dict[str, Any],
    old_config: dict[str, Any] | None,
    config: DissectConfig,
    fix: str,
) -> None:
    """Raise :class:`ReportError` naming what differs if ``what`` came from other models/config."""
    from dissect_report.models import config_differences, fingerprint_differences

    differs = fingerprint_differences(old_models, new_models) if old_models else []
    if old_config is not None:
        differs += config_differences(old_config, _config_json(config))
    if differs:
        shown = "; ".join(differs[:4]) + (
            f"; ... ({len(differs)} in all)" if len(differs) > 4 else ""
        )
        raise ReportError(f"{what} was made with a different model or config ({shown}); {fix}")


def run_pass(
    models: Models,
    config: DissectConfig,
    start: int,
    stop: int,
    *,
    checkpoint: Path | None = None,
    resume: bool = False,
    calibration: tuple[dict[str, np.ndarray], dict[str, tuple[int, int, int]]] | None = None,
) -> tuple[dict[str, LayerState], dict[str, tuple[int, int, int]]]:
    """The one pass over samples ``[start, stop)``: the mergeable state of every layer.

    ``calibration`` is :func:`calibrate`'s result when the caller already has it (an engine
    calibrates once and hands the same edges to every worker).
    """
    layers = list(config.layers)
    edges, shapes = calibration if calibration is not None else calibrate(models, config)
    concepts = len(models.concepts)
    meta = {
        "table_key": config.table_key(),
        "start": start,
        "stop": stop,
        "models": model_fingerprint(models.identity),
    }
    # The statistics stay on the models' device (counts on the GPU with --device cuda).
    stats = {n: LayerStats(edges[n], concepts, config.top_k, models.device) for n in layers}
    run = _Pass(stats, shapes, start)
    if checkpoint is not None and resume:
        loaded = _load_checkpoint(checkpoint, meta, config)
        if loaded is not None:
            states, run.position = loaded
            for name, state in states.items():
                if not np.array_equal(state.edges, edges[name]):
                    raise ReportError(
                        f"checkpoint {str(checkpoint)!r} has other bin edges; use --overwrite"
                    )
                run.stats[name] = LayerStats.from_state(state, models.device)
            log.info("resuming at sample %d of [%d, %d)", run.position, start, stop)
    seg_size: tuple[int, ...] | None = None
    positions = range(run.position, stop, config.batch_size)
    progress = bar(total=stop - start, initial=run.position - start, desc="dissect", unit="sample")
    try:
        for done, pos in enumerate(positions, 1):
            ids = range(pos, min(pos + config.batch_size, stop))
            acts, images = forward_traced(models, layers, ids)
            labels = models.segment(images)
            if seg_size is None:
                seg_size = tuple(labels.shape[1:])
            elif tuple(labels.shape[1:]) != seg_size:
                raise ModelError(
                    f"segmenter returned size {tuple(labels.shape[1:])}, earlier {seg_size}"
                )
            id_tensor = torch.arange(ids.start, ids.stop, dtype=torch.int64, device=labels.device)
            for name in layers:
                lab = labels
                if config.downsample_segmentation:
                    lab = downsample_labels(labels, shapes[name][1:], concepts)
                run.stats[name].add(acts[name], lab, id_tensor)
            run.position = ids.stop
            progress.update(len(ids))
            every = config.checkpoint_every
            if checkpoint is not None and every and done % every == 0 and run.position < stop:
                saved = {**meta, "position": run.position, "config": _config_json(config)}
                write_npz(checkpoint, _checkpoint_arrays(run, saved))
    finally:
        progress.close()
    return {n: acc.state() for n, acc in run.stats.items()}, shapes


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
                "flagged_units": unit_flags(layer.state),
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
        },
        "nonfinite": {layer.name: layer.state.nonfinite for layer in result.layers},
        "model_check": models.check.summary() if models.check is not None else skipped_summary(),
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
        from dissect_report.visualize import write_unit_images

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

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # An error that says "--resume" (a shard lost past its retries) keeps the checkpoint.
        if (
            exc_type is not None
            and self.out is not None
            and (isinstance(exc, UserError) or environment_problem(exc) is not None)
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
) -> DissectResult:
    """Dissect ``config.layers`` over ``config.samples`` samples; write a report to ``out``.

    With ``shard=(i, n)`` (n > 1) only samples of shard ``i`` are processed and ``out``
    receives the raw state (``shard.json`` + ``stats.npz``) for :func:`merge_shards`.
    """
    out_path = Path(out) if out is not None else None
    index, count = shard or (1, 1)
    start, stop = shard_range(config.samples, index, count)
    is_shard = count > 1
    if is_shard and out_path is None:
        raise ReportError("a shard needs an output directory")
    # Models and layers first (and the model check): a bad factory, weights file, layer
    # name or broken model contract must not cost an existing report that --overwrite clears.
    models = load_models(config)
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
    metas = [read_json(Path(s) / SHARD_MANIFEST) for s in shards]
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
            state = LayerState.load(Path(path) / "layers" / layer["slug"] / "stats.npz")
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
        return _write_report(result, models, out_path, images, command)

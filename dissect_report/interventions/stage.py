"""The intervention stage: ACE curves, insertion with context, optimized unit sets, pictures.

Usage::

    from dissect_report.interventions import InterventionConfig, intervene
    result = intervene(InterventionConfig(samples=64, max_concepts=4), "report")
    for c in result.concepts:
        print(c.concept, c.share, c.share_random)   # share of the concept removed vs control

Reads the report's units tables, regenerates held-out samples (seed distinct from the
dissection's), writes ``concepts/`` and updates the manifest last (docs/report-format.md).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dissect_report.dissection.thresholds import concept_ious
from dissect_report.errors import ConfigError
from dissect_report.images import outline, tile_grid, to_uint8
from dissect_report.interventions import write
from dissect_report.interventions.ace import Ablator, ace_curve, random_order
from dissect_report.interventions.heldout import HeldOut, heldout_pass
from dissect_report.interventions.insert_set import SIZES, InsertChoice, choose_insert_set
from dissect_report.interventions.insertion import (
    SUCCESS,
    Site,
    by_context,
    candidate_sites,
    image_box,
    insertion_sites,
)
from dissect_report.interventions.optimize import (
    OptimizeSettings,
    alpha_order,
    gradient_problem,
    optimize_alpha,
)
from dissect_report.interventions.settings import InterventionConfig
from dissect_report.interventions.unit_effects import unit_effects
from dissect_report.models import Models
from dissect_report.modeltools.edit import ablate, edit, insert
from dissect_report.modeltools.frozen import frozen
from dissect_report.modeltools.reopen import open_with_models
from dissect_report.progress import bar
from dissect_report.reportdir.report import Report
from dissect_report.reportdir.schema import AceRow, ConceptIndexRow, InsertionRow, UnitRow
from dissect_report.slug import unique_slugs
from dissect_report.swap import begin_section, publish_section, writes_section

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConceptResult(ConceptIndexRow):
    """Everything measured for one concept: its row of concepts/index.parquet (the fields of
    :class:`~dissect_report.reportdir.schema.ConceptIndexRow`) and what its files hold."""

    curve: tuple[AceRow, ...] = field(repr=False, kw_only=True)
    insertion: tuple[InsertionRow, ...] = field(repr=False, kw_only=True)  # both sets' rows
    sites: tuple[Site, ...] = field(repr=False, kw_only=True)  # the inserted set's
    sites_iou: tuple[Site, ...] = field(default=(), repr=False, kw_only=True)  # the IoU-top set's
    choice: InsertChoice | None = field(default=None, repr=False, kw_only=True)
    alpha: tuple[float, ...] | None = field(default=None, repr=False, kw_only=True)
    levels: tuple[float, ...] | None = field(default=None, repr=False, kw_only=True)  # (U,)


@dataclass(frozen=True)
class InterventionResult:
    report: Path
    layer: str
    seed: int
    concepts: tuple[ConceptResult, ...]
    settings: dict[str, Any]
    seconds: float


def choose_layer(report: Report, requested: str | None) -> str:
    """The requested layer, else the dissected layer with the most interpretable units."""
    layer = report.check_layer(requested)
    if layer is not None:
        return layer
    names = report.layers
    best = max(report.manifest.layers, key=lambda e: (e.interpretable, -names.index(e.name)))
    return best.name


def concept_units(units: Sequence[UnitRow]) -> dict[str, list[tuple[int, float]]]:
    """Interpretable units per concept, best IoU first: {concept: [(unit, iou), ...]}."""
    out: dict[str, list[tuple[int, float]]] = {}
    for row in units:
        if row.interpretable and row.concept is not None:
            out.setdefault(row.concept, []).append((row.unit, row.iou))
    return {c: sorted(v, key=lambda t: (-t[1], t[0])) for c, v in out.items()}


def choose_concepts(
    by_concept: dict[str, list[tuple[int, float]]],
    names: list[str],
    config: InterventionConfig,
    layer: str,
) -> list[str]:
    if config.concepts:
        for c in config.concepts:
            if c not in names:
                raise ConfigError(f"unknown concept {c!r}; concepts: {', '.join(names)}")
        return list(dict.fromkeys(config.concepts))
    ranked = sorted(
        by_concept, key=lambda c: (-len(by_concept[c]), names.index(c) if c in names else 1 << 30)
    )
    return [c for c in ranked if c in names][: config.max_concepts]


class NoConceptError(ConfigError):
    """The intervention layer has no labelled unit and no concept was named (``run`` skips)."""


def no_concept_message(report: Report, layer: str) -> str:
    """Why there is nothing to intervene on, with fixes that are not already applied."""
    entry = report.manifest.layer(layer)
    threshold = report.manifest.threshold
    floor = threshold.get("iou_floor")
    ious = [r.iou for r in report.unit_rows(layer)]
    # Units over the floor that a label guard refused (mask too broad, chance, position):
    # a lower floor would not label them, so it is no fix then.
    reach = sum(1 for v in ious if floor is not None and v is not None and v == v and v >= floor)
    fixes = ["name concepts with 'dissect-report intervene --concepts' (units ranked by IoU)"]
    others = [e.name for e in report.manifest.layers if e.name != layer and e.interpretable]
    if others:
        fixes.insert(0, f"--layer {others[0]} ({len(others)} other layer(s) have labelled units)")
    if threshold.get("policy") != "iqr":
        fixes.append("dissect again with --policy iqr")
    elif floor and not reach:
        fixes.append("dissect again with a lower --iou-floor")
    why = (
        f"{reach} of {entry.units} reach the IoU floor {floor} but a label guard refuses each "
        "(mask too broad, chance level or position alone; the layer page gives each reason)"
        if reach
        else f"0 of {entry.units} reach the IoU floor {floor}"
    )
    return (
        f"layer {layer!r} has no interpretable unit ({why}), so no concept has units to "
        f"ablate; fix: {'; or '.join(fixes)}"
    )


def unit_ious(report: Report, layer: str, names: list[str], total: int) -> tuple[np.ndarray, str]:
    """(U, C) IoU of every unit with every concept, and where it came from.

    ``stats``: at the unit's own best threshold for each concept (GAN Dissection's
    ``t_{u,c}``, from stats.npz), so large concepts such as sky get their real units instead
    of the few that reach a 1% quantile. ``iou.parquet``: at the unit's single threshold, for
    reports without stats.npz. NaN where neither says.
    """
    state = report.state(layer)
    if state is not None and state.units == total and state.counts.shape[2] == len(names):
        return concept_ious(state).iou, "stats"
    ious = np.full((total, len(names)), np.nan)
    rows = report.iou_rows(layer)
    if rows is None:
        return ious, "none"
    index = {n: k for k, n in enumerate(names)}
    for r in rows:
        if r.concept in index and 0 <= r.unit < total:
            ious[r.unit, index[r.concept]] = r.iou
    return ious, "iou.parquet"


def ranked_units(ious: np.ndarray, labeled: list[tuple[int, float]]) -> list[int]:
    """The layer's units by IoU with a concept (``ious``: (U,)), best first (IoU > 0).

    Without any IoU, the units labeled with the concept in units.parquet.
    """
    if not np.isfinite(ious).any():
        return [u for u, _ in labeled]
    good = [u for u in range(len(ious)) if np.isfinite(ious[u]) and ious[u] > 0]
    return sorted(good, key=lambda u: (-ious[u], u))


def iou_ranks(ious: np.ndarray) -> np.ndarray:
    """Each unit's rank by IoU (1 = best; unknown IoU last)."""
    order = sorted(
        range(len(ious)), key=lambda u: (-(ious[u] if np.isfinite(ious[u]) else -1.0), u)
    )
    ranks = np.zeros(len(ious), np.int32)
    for rank, u in enumerate(order, start=1):
        ranks[u] = rank
    return ranks


def _compare(
    models: Models,
    layer: str,
    held: HeldOut,
    c: int,
    units: list[int],
    insert_units: list[int],
    level: torch.Tensor,
    rows: list[InsertionRow],
    config: InterventionConfig,
    patch: int,
) -> tuple[bytes | None, list[int]]:
    """compare.png: the samples with the most concept, original | ``units`` ablated |
    ``insert_units`` inserted (outlined)."""
    if config.compare_samples == 0:
        return None, []
    pick = sorted(range(held.count), key=lambda j: (-int(held.counts[j, c]), j))[
        : config.compare_samples
    ]
    pick.sort()
    success = {r.context: (r.success, r.added) for r in rows}
    names = models.concepts
    _, h, w = held.shape
    masks = models.place(torch.zeros(len(pick), 1, h, w))
    boxes = []
    for k, j in enumerate(pick):
        cands = candidate_sites(held, c, [j], config.grid, patch)
        if cands:  # the site whose context insertion works best in (ties: first on the lattice)
            _, r, col, _ = max(cands, key=lambda s: success.get(names[s[3]], (-1.0, -1.0)))
        else:
            r, col = (h - patch) // 2, (w - patch) // 2
        masks[k, 0, r : r + patch, col : col + patch] = 1.0
        boxes.append(image_box(r, col, patch, (h, w), (held.labels.shape[1], held.labels.shape[2])))
    z = held.z[pick]
    with frozen(models.generator):
        original = to_uint8(models.generate(z))
        with edit(models.generator, layer, ablate(units)):
            ablated = to_uint8(models.generate(z))
        with edit(models.generator, layer, insert(insert_units, level, region=masks)):
            inserted = to_uint8(models.generate(z))
    grid = [[original[k], ablated[k], outline(inserted[k], boxes[k])] for k in range(len(pick))]
    return tile_grid(grid), [held.ids[j] for j in pick]


def optimize_settings(config: InterventionConfig, patch: int) -> OptimizeSettings:
    """The stage's config as the optimizer's settings (insertion patches of ``patch`` pixels)."""
    return OptimizeSettings(
        steps=config.optimize_steps,
        lr=config.lr,
        l2=config.l2,
        batch=config.optimize_batch,
        grid=config.grid,
        patch=patch,
    )


@dataclass(frozen=True)
class Shared:
    """What every concept's measurement shares: the held-out pass, its ablator and controls,
    the layer's IoUs, the training latents of the optimized sets (``learn``: None, none) and
    the dissection's samples the inserted set is chosen on (``select``: None without ``learn``)."""

    models: Models
    layer: str
    config: InterventionConfig
    held: HeldOut
    ablator: Ablator
    randoms: list[list[int]]
    ious: np.ndarray  # (U, C)
    by_concept: dict[str, list[tuple[int, float]]]
    slugs: dict[str, str]
    z_train: torch.Tensor
    patch: int
    learn: OptimizeSettings | None
    select: HeldOut | None = None


def _insertion(
    s: Shared, c: int, top: list[int], alpha: np.ndarray | None, level: torch.Tensor
) -> tuple[InsertChoice, list[Site], list[Site], list[InsertionRow]]:
    """The inserted set (chosen on ``s.select``, else the IoU-top set), its held-out sites,
    the IoU-top set's sites and both sets' rows per context."""
    models, layer, config, held = s.models, s.layer, s.config, s.held
    choice = (
        choose_insert_set(
            models, layer, s.select, c, top, alpha, level, config.grid, s.patch, config.batch_size
        )
        if s.select is not None
        else InsertChoice("iou", tuple(top), ())
    )

    def inserted(units: Sequence[int]) -> list[Site]:
        return insertion_sites(
            models, layer, held, c, units, level, config.insert_samples, config.grid, s.patch,
            config.batch_size,
        )  # fmt: skip

    sites = inserted(choice.units)
    sites_iou = sites if list(choice.units) == top else inserted(top)
    ctx_rows = by_context(sites, models.concepts, choice.method)
    if choice.method != "iou":  # the comparison: the IoU-top set at the same sites
        ctx_rows += by_context(sites_iou, models.concepts, "iou")
    return choice, sites, sites_iou, ctx_rows


def measure_concept(s: Shared, name: str) -> tuple[ConceptResult, bytes | None]:
    """One concept's ablation curves, insertion and comparison picture (compare.png bytes)."""
    models, layer, config, held = s.models, s.layer, s.config, s.held
    names = models.concepts
    c = names.index(name)
    ranked = ranked_units(s.ious[:, c], s.by_concept.get(name, []))
    if not ranked:
        raise ConfigError(f"concept {name!r} has no unit with IoU > 0 in layer {layer!r}")
    n_max = min(config.max_units, len(ranked))
    level = held.levels(config.insert_level, c)
    orderings = {"iou": ranked}
    alpha = None
    if s.learn is not None:
        alpha = optimize_alpha(
            models, layer, s.z_train, held.shape, c, level, s.learn, desc=f"optimize {name}"
        )
        orderings["optimized"] = alpha_order(alpha)
    curve = ace_curve(s.ablator, c, orderings, s.randoms, n_max)
    top = ranked[:n_max]
    choice, sites, sites_iou, ctx_rows = _insertion(s, c, top, alpha, level)
    own = [r for r in ctx_rows if r.method == choice.method]  # where the inserted set works
    png, compare_ids = _compare(
        models, layer, held, c, top, list(choice.units), level, own, config, s.patch
    )
    last = {r.method: r for r in curve if r.n == n_max}
    before = held.fraction(c)
    # Every unit off: what the generator draws without this layer. A concept that stays
    # (sky, drawn as the default background) cannot be removed by any unit set here.
    ace_all = before - s.ablator.fraction(list(range(held.shape[0])), c)
    added = np.array([x.added for x in sites]) if sites else np.zeros(0)
    added_iou = np.array([x.added for x in sites_iou]) if sites_iou else np.zeros(0)
    opt = last.get("optimized")
    rnd = last.get("random")
    result = ConceptResult(
        concept=name,
        slug=s.slugs[name],
        layer=layer,
        units=len(s.by_concept.get(name, [])),
        top_units=tuple(top),
        n_max=n_max,
        fraction=before,
        ace=last["iou"].ace,
        share=last["iou"].share,
        ace_random=rnd.ace if rnd else math.nan,
        share_random=rnd.share if rnd else math.nan,
        ace_optimized=opt.ace if opt else math.nan,
        share_optimized=opt.share if opt else math.nan,
        erased=last["iou"].erased,
        erased_random=rnd.erased if rnd else math.nan,
        ace_all=ace_all,
        share_all=ace_all / before if before > 0 else math.nan,
        insert_sites=len(sites),
        insert_added=float(added.mean()) if len(added) else math.nan,
        insert_success=float((added >= SUCCESS).mean()) if len(added) else math.nan,
        compare_samples=tuple(compare_ids),
        insert_method=choice.method,
        insert_units=tuple(choice.units),
        insert_added_iou=float(added_iou.mean()) if len(added_iou) else math.nan,
        insert_success_iou=float((added_iou >= SUCCESS).mean()) if len(added_iou) else math.nan,
        curve=tuple(curve),
        insertion=tuple(ctx_rows),
        sites=tuple(sites),
        sites_iou=tuple(sites_iou),
        choice=choice,
        alpha=tuple(float(a) for a in alpha) if alpha is not None else None,
        levels=tuple(float(v) for v in level.tolist()),
    )
    log.debug(
        "%s: removed %.0f%% (random %.0f%%) with %d units; insertion (%s, %d units) succeeds "
        "at %.0f%% of sites (IoU-top %.0f%%); selection: %s",
        name, 100 * result.share, 100 * result.share_random, n_max, choice.method,
        len(choice.units), 100 * result.insert_success, 100 * result.insert_success_iou,
        choice.tried,
    )  # fmt: skip
    return result, png


def _shared(
    opened: Report,
    models: Models,
    config: InterventionConfig,
    layer: str,
    seed: int,
    by_concept: dict[str, list[tuple[int, float]]],
    chosen: list[str],
) -> tuple[Shared, str | None, str]:
    """The held-out pass and what every concept's measurement shares; the reason optimized
    sets were skipped (None: they were not) and where the unit IoUs came from."""
    dissect_seed = opened.dissection_seed
    held = heldout_pass(models, layer, seed, config.samples, config.batch_size, config.quantile)
    units_total, h, _ = held.shape
    patch = config.patch if config.patch is not None else max(1, h // 4)
    if patch > min(held.shape[1:]):
        raise ConfigError(f"patch {patch} is larger than layer {layer!r} ({h}x{held.shape[2]})")
    ablator = Ablator(models, layer, held, config.batch_size)
    randoms = [random_order(seed, t, units_total) for t in range(config.random_trials)]
    ious, iou_source = unit_ious(opened, layer, models.concepts, units_total)
    # The learned sets train on the dissection's samples, as the IoU ordering does.
    z_train = models.latents(
        range(config.optimize_steps * config.optimize_batch), seed=dissect_seed
    )
    optimize = config.optimize and config.optimize_steps > 0
    skipped = gradient_problem(models, layer, z_train) if optimize else None
    if skipped is not None:  # alpha would stay at 0.0 and rank the units by index
        log.warning("no optimized unit sets: %s", skipped)
        optimize = False

    learn = optimize_settings(config, patch)
    # The inserted set is chosen on dissection samples the optimizer did not train on.
    select = (
        heldout_pass(
            models, layer, dissect_seed, config.insert_select, config.batch_size,
            config.quantile, desc="selection samples", first=len(z_train),
        )
        if optimize
        else None
    )  # fmt: skip
    shared = Shared(
        models, layer, config, held, ablator, randoms, ious, by_concept, unique_slugs(chosen),
        z_train, patch, learn if optimize else None, select,
    )  # fmt: skip
    return shared, skipped, iou_source


@writes_section("concepts")
def intervene(
    config: InterventionConfig, report: str | Path, models: Models | None = None
) -> InterventionResult:
    """Run every intervention on ``report`` and write ``concepts/`` plus the manifest."""
    start = time.perf_counter()
    opened, models = open_with_models(report, models)
    report = opened.root
    layer = choose_layer(opened, config.layer)
    names = models.concepts
    by_concept = concept_units(opened.unit_rows(layer))
    chosen = choose_concepts(by_concept, names, config, layer)
    if not chosen:
        raise NoConceptError(no_concept_message(opened, layer))
    dissect_seed = opened.dissection_seed

    seed = dissect_seed + 1 if config.seed is None else config.seed
    if seed == dissect_seed:
        raise ConfigError(
            f"intervention seed {seed} equals the dissection seed; held-out samples need another"
        )

    section = begin_section(report, "concepts")  # the old concepts/ stays until the swap
    shared, skipped, iou_source = _shared(opened, models, config, layer, seed, by_concept, chosen)
    held, ious, z_train, patch = shared.held, shared.ious, shared.z_train, shared.patch
    optimize = shared.learn is not None
    results = []
    for name in bar(chosen, desc="intervene", unit="concept"):
        result, png = measure_concept(shared, name)
        c = names.index(name)
        ranks = iou_ranks(ious[:, c])
        write.concept_files(section / result.slug, result, png, ious[:, c], ranks, names)
        results.append(result)

    write.concept_index(section / "index.parquet", results)
    if config.unit_samples:
        rows = opened.unit_rows(layer)
        own = unit_effects(models, layer, held, rows, config.unit_samples, config.batch_size)
        write.unit_effects(section / "units.parquet", own)
    settings = {
        **asdict(config),
        "layer": layer,
        "seed": seed,
        "concepts": chosen,
        "patch": patch,
        "optimize": optimize,
        "optimize_skipped": skipped,
        "ranking": iou_source,
        # the inserted set: top-n by alpha (n in insert_sizes) or the IoU-top set, whichever
        # succeeds most on the dissection's samples insert_select_ids [first, count]
        "insert_sizes": list(SIZES) if optimize else [],
        "insert_select_ids": [len(z_train), config.insert_select] if optimize else None,
    }
    seconds = time.perf_counter() - start
    publish_section(
        report,
        "concepts",
        "interventions",
        {"interventions": settings, "timings": {"intervene_s": round(seconds, 3)}},
    )
    log.info("interventions: %d ablation passes, %.1f s", shared.ablator.passes, seconds)
    return InterventionResult(report, layer, seed, tuple(results), settings, seconds)

"""Write the intervention results into the report (formats in docs/report-format.md).

Usage::

    concept_files(report / "concepts" / "tree", result, png, ious, ranks)
    concept_index(report / "concepts" / "index.parquet", results)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from dissect_report.charts import line_chart
from dissect_report.reportdir.atomic import write_bytes, write_json
from dissect_report.reportdir.schema import (
    ACE,
    CONCEPT_INDEX,
    INSERTION,
    INSERTION_SITES,
    LEVELS,
    OPTIMIZED,
    RANKING,
    UNIT_EFFECTS,
    AceRow,
    ConceptIndexRow,
    InsertionRow,
    InsertionSiteRow,
    LevelRow,
    OptimizedRow,
    RankingRow,
    UnitEffectRow,
    to_table,
)
from dissect_report.reportdir.write import write_table

if TYPE_CHECKING:
    from dissect_report.interventions.stage import ConceptResult


def ace_table(result: ConceptResult) -> pa.Table:
    return to_table(result.curve, AceRow)


def ace_json(result: ConceptResult) -> dict[str, object]:
    ns = sorted({r.n for r in result.curve})

    def series(method: str) -> list[float] | None:
        by_n = {r.n: r for r in result.curve if r.method == method}
        return [by_n[n].ace for n in ns] if by_n else None

    random_std = {r.n: r.ace_std for r in result.curve if r.method == "random"}
    return {
        "concept": result.concept,
        "layer": result.layer,
        "fraction": result.fraction,
        "n": ns,
        "iou": series("iou"),
        "random": series("random"),
        "random_std": [random_std[n] for n in ns] if random_std else None,
        "optimized": series("optimized"),
        "all": result.ace_all,
    }


def ace_svg(result: ConceptResult) -> str:
    series: dict[str, list[tuple[float, float]]] = {}
    for method in ("iou", "optimized", "random"):
        pts = [(float(r.n), r.ace) for r in result.curve if r.method == method]
        if pts:
            series[method] = pts
    spread = {"random": [(float(r.n), r.ace_std) for r in result.curve if r.method == "random"]}
    return line_chart(
        series,
        x_label=f"units ablated together in {result.layer}",
        y_label="ACE (drop in the concept's pixel fraction)",
        title=f"{result.concept}: ablation ACE",
        spread=spread if spread["random"] else None,
    )


def insertion_tables(
    result: ConceptResult, concepts: Sequence[str] | None = None
) -> tuple[pa.Table, pa.Table]:
    ctx = result.insertion
    by_context = to_table(ctx, InsertionRow)
    names = concepts or []
    # The inserted set's sites, then (when it is another set) the IoU-top set's at the same sites.
    sets = [(result.insert_method, result.sites)]
    if result.insert_method != "iou" and result.sites_iou:
        sets.append(("iou", result.sites_iou))
    sites = [(method, s) for method, group in sets for s in group]
    raw = [
        InsertionSiteRow(
            sample=s.sample,
            row=s.row,
            col=s.col,
            context=names[s.context] if names else str(s.context),
            added=s.added,
            method=method,
        )
        for method, s in sites
    ]
    return by_context, to_table(raw, InsertionSiteRow)


def optimized_rows(
    alpha: Sequence[float], ious: np.ndarray, ranks: np.ndarray
) -> list[OptimizedRow]:
    """One row per unit, largest alpha first (ties: lower unit first)."""
    order = sorted(range(len(alpha)), key=lambda u: (-alpha[u], u))
    return [
        OptimizedRow(
            unit=u, alpha=float(alpha[u]), rank=r, iou=float(ious[u]), iou_rank=int(ranks[u])
        )
        for r, u in enumerate(order, start=1)
    ]


def concept_files(
    directory: Path,
    result: ConceptResult,
    png: bytes | None,
    ious: np.ndarray,
    ranks: np.ndarray,
    concepts: Sequence[str] | None = None,
) -> None:
    write_table(directory / "ace.parquet", ace_table(result), ACE)
    write_json(directory / "ace.json", ace_json(result))
    write_bytes(directory / "ace.svg", ace_svg(result).encode())
    by_context, raw = insertion_tables(result, concepts)
    write_table(directory / "insertion.parquet", by_context, INSERTION)
    write_table(directory / "insertion_sites.parquet", raw, INSERTION_SITES)
    # Every unit's IoU with the concept (at its own threshold for it) and its rank by it, the
    # order ablated: the unit pages read it, with or without an optimized set.
    ranking = [
        RankingRow(unit=u, iou=float(v), iou_rank=int(r))
        for u, (v, r) in enumerate(zip(ious, ranks, strict=True))
    ]
    write_table(directory / "ranking.parquet", to_table(ranking, RankingRow), RANKING)
    if result.alpha is not None:
        rows = optimized_rows(result.alpha, ious, ranks)
        write_table(directory / "optimized.parquet", to_table(rows, OptimizedRow), OPTIMIZED)
    if result.levels is not None:  # what insertion forced each unit to (Paint reuses them)
        levels = [LevelRow(unit=u, level=v) for u, v in enumerate(result.levels)]
        write_table(directory / "levels.parquet", to_table(levels, LevelRow), LEVELS)
    if png is not None:
        write_bytes(directory / "compare.png", png)


def concept_index(path: Path, results: Sequence[ConceptResult]) -> None:
    write_table(path, to_table(results, ConceptIndexRow), CONCEPT_INDEX, csv=True)


def unit_effects(path: Path, rows: Sequence[UnitEffectRow]) -> None:
    """concepts/units.parquet: each labelled unit's own ablation effect."""
    write_table(path, to_table(rows, UnitEffectRow), UNIT_EFFECTS)

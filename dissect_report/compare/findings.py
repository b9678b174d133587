"""Compare what several reports found: layers, models, checkpoints and datasets side by side.

Usage::

    import dissect_report as dr
    found = dr.compare_findings("early", "late")          # any number of reports, in order
    found.concepts         # report, layer, concept, units, share, mean_iou, max_iou
    found.gained_lost      # concepts gained and lost from one report to the next
    found.matches          # same architecture: units matched one to one, and what changed
    found.changed          # the matched units whose concept changed
    print(found.summary())  # the text of `dissect-report compare --findings A B`

GAN Dissection's comparisons (its figures compare layers, models, datasets and training
snapshots): interpretable units per concept per layer (counts and shares of the layer),
concepts gained and lost, mean and max IoU per concept, ACE per concept where both reports
have interventions, artifact verdicts; and for reports of the same architecture, units
matched by activation correlation on shared samples (when both can regenerate them) or by
their IoU profiles otherwise, with the units whose concept changed. Reports may have any
models and layer names; images are not compared.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from dissect_report.compare.settings import diff_settings
from dissect_report.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from dissect_report.compare.model import SettingChange
    from dissect_report.reportdir.report import Report
    from dissect_report.reportdir.schema import UnitRow

MatchMethod = Literal["auto", "activation", "iou"]


@dataclass(frozen=True)
class FindingsComparison:
    """What :func:`compare_findings` returns: the reports' findings as DataFrames.

    ``names``: a short label per report (its directory name), in the order given.
    ``layers``: report, layer, units, interpretable, share, concepts (one row per layer).
    ``concepts``: report, layer, concept, units (interpretable units labelled with it),
    share (of the layer's units), mean_iou, max_iou; sorted by report order, layer, concept.
    ``gained_lost``: before, after, concept, change (``gained``/``lost``), units_before,
    units_after, for each report and the next (a concept with interpretable units in one and
    none in the other, over all layers).
    ``ace``: report, concept, layer, ace, share, for concepts intervened in two or more.
    ``artifacts``: report, layer, verdict, repaired (units ablated by the repair).
    ``matches``: before, after, layer, method (``activation``/``iou``), unit_before,
    unit_after, similarity, concept_before, concept_after, iou_before, iou_after, change
    (``same``, ``relabelled``, ``gained``, ``lost`` or ``none``: neither interpretable),
    for each pair of consecutive reports that share a layer of the same shape.
    ``settings``: the manifest settings that differ between each report and the next.
    """

    names: tuple[str, ...]
    paths: tuple[Path, ...]
    layers: pd.DataFrame
    concepts: pd.DataFrame
    gained_lost: pd.DataFrame
    ace: pd.DataFrame
    artifacts: pd.DataFrame
    matches: pd.DataFrame
    settings: tuple[tuple[str, str, tuple[SettingChange, ...]], ...] = ()

    @property
    def changed(self) -> pd.DataFrame:
        """The matched units whose concept changed (relabelled, gained or lost)."""
        m = self.matches
        return m[m["change"].isin(["relabelled", "gained", "lost"])].reset_index(drop=True)

    def units_per_concept(self) -> pd.DataFrame:
        """Concepts x (report, layer): interpretable units per concept, 0 where none."""
        table = self.concepts.pivot_table(
            index="concept", columns=["report", "layer"], values="units", aggfunc="sum"
        )
        order = list(zip(self.layers["report"], self.layers["layer"], strict=True))
        return table.reindex(columns=[c for c in order if c in table.columns]).fillna(0).astype(int)

    def summary(self, max_items: int = 20) -> str:
        """Readable text: units per concept, gains and losses, matched units, settings."""
        from dissect_report.compare.findings_text import summary

        return summary(self, max_items)

    def to_dict(self) -> dict[str, Any]:
        """The comparison as plain data (``json.dumps``-able; NaN becomes null)."""
        from dissect_report.compare.findings_text import to_dict

        return to_dict(self)


def report_names(paths: list[Path]) -> list[str]:
    """A short, unique label per report: its directory name, with parents where they clash."""
    names = [p.name or str(p) for p in paths]
    depth = 1
    while len(set(names)) < len(names) and depth < 8:
        depth += 1
        names = ["/".join(p.resolve().parts[-depth:]) for p in paths]
    if len(set(names)) < len(names):
        names = [f"{n}#{i + 1}" for i, n in enumerate(names)]
    return names


def _layer_rows(name: str, report: Report) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    layers, concepts = [], []
    for layer in report.layers:
        units = report.unit_rows(layer)
        n = len(units)
        by_concept: dict[str, list[float]] = {}
        for r in units:
            if r.interpretable:
                by_concept.setdefault(str(r.concept), []).append(r.iou)
        good = sum(len(v) for v in by_concept.values())
        layers.append(
            {
                "report": name,
                "layer": layer,
                "units": n,
                "interpretable": good,
                "share": good / n if n else float("nan"),
                "concepts": len(by_concept),
            }
        )
        for concept, ious in sorted(by_concept.items()):
            concepts.append(
                {
                    "report": name,
                    "layer": layer,
                    "concept": concept,
                    "units": len(ious),
                    "share": len(ious) / n,
                    "mean_iou": float(np.mean(ious)),
                    "max_iou": float(np.max(ious)),
                }
            )
    return layers, concepts


def _gained_lost(names: list[str], concepts: pd.DataFrame) -> list[dict[str, Any]]:
    totals = concepts.groupby(["report", "concept"])["units"].sum()
    rows = []
    for before, after in zip(names, names[1:], strict=False):
        a = totals[before].to_dict() if before in totals.index.get_level_values(0) else {}
        b = totals[after].to_dict() if after in totals.index.get_level_values(0) else {}
        for concept in sorted(set(a) | set(b)):
            if (concept in a) != (concept in b):
                rows.append(
                    {
                        "before": before,
                        "after": after,
                        "concept": concept,
                        "change": "gained" if concept in b else "lost",
                        "units_before": int(a.get(concept, 0)),
                        "units_after": int(b.get(concept, 0)),
                    }
                )
    return rows


def _ace_rows(names: list[str], reports: list[Report]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, report in zip(names, reports, strict=True):
        if not report.manifest.sections.get("interventions"):
            continue
        table = report.interventions()
        for record in table.to_dict("records"):
            rows.append(
                {
                    "report": name,
                    "concept": str(record["concept"]),
                    "layer": str(record.get("layer", "")),
                    "ace": float(record["ace"]),
                    "share": float(record.get("share", float("nan"))),
                }
            )
    seen: dict[str, int] = {}
    for row in rows:
        seen[row["concept"]] = seen.get(row["concept"], 0) + 1
    return [row for row in rows if seen[row["concept"]] >= 2]


def _artifact_rows(names: list[str], reports: list[Report]) -> list[dict[str, Any]]:
    rows = []
    for name, report in zip(names, reports, strict=True):
        if not report.manifest.sections.get("artifacts"):
            continue
        settings = report.manifest.artifacts
        units = report.artifacts()
        repaired = sorted(int(u) for u in units.loc[units["repaired"].astype(bool), "unit"])
        rows.append(
            {
                "report": name,
                "layer": str(settings.get("layer", "")),
                "verdict": str(settings.get("verdict", "")),
                "repaired": repaired,
            }
        )
    return rows


def _shapes(report: Report) -> dict[str, tuple[int, ...]]:
    return {entry.name: tuple(entry.shape or ()) for entry in report.manifest.layers}


def _change(a: UnitRow, b: UnitRow) -> str:
    ia, ib = a.interpretable, b.interpretable
    if ia and ib:
        return "same" if a.concept == b.concept else "relabelled"
    if ia or ib:
        return "gained" if ib else "lost"
    return "none"


def _refused(row: UnitRow) -> str:
    """The guard that refused an unlabelled unit's concept ("chance level"), else ""."""
    return "" if row.interpretable or row.refused_concept != row.concept else row.refused_reason


def _iou_matrix(report: Report, layer: str, units: list[int], concepts: list[str]) -> np.ndarray:
    wide = report.iou(layer).pivot_table(index="unit", columns="concept", values="iou")
    return wide.reindex(index=units, columns=concepts).fillna(0.0).to_numpy()


def _match_rows(
    before: tuple[str, Report],
    after: tuple[str, Report],
    method: MatchMethod,
    samples: int,
) -> list[dict[str, Any]]:
    from dissect_report.compare.matching import match_by_activation, match_by_iou

    (na, a), (nb, b) = before, after
    sa, sb = _shapes(a), _shapes(b)
    layers = [layer for layer in a.layers if layer in sb and sa[layer] == sb[layer]]
    if not layers:
        return []
    by_activation: dict[str, Any] = {}
    if method in ("auto", "activation"):
        by_activation = match_by_activation(a.raw, b.raw, layers, samples)
        if method == "activation" and not by_activation:
            raise ConfigError(
                f"cannot match units by activation: {na} or {nb} cannot regenerate its "
                "samples (generator not importable, weights moved or changed); use --match iou"
            )
    concepts = sorted(set(a.concepts) & set(b.concepts))
    rows = []
    for layer in layers:
        ua = {r.unit: r for r in a.unit_rows(layer)}
        ub = {r.unit: r for r in b.unit_rows(layer)}
        units_a, units_b = sorted(ua), sorted(ub)
        if layer in by_activation:
            pairs, scores = by_activation[layer]
            how = "activation"
        else:
            pairs, scores = match_by_iou(
                _iou_matrix(a, layer, units_a, concepts), _iou_matrix(b, layer, units_b, concepts)
            )
            how = "iou"
        for (i, j), score in zip(pairs, scores, strict=True):
            ra, rb = ua[units_a[i]], ub[units_b[j]]
            rows.append(
                {
                    "before": na,
                    "after": nb,
                    "layer": layer,
                    "method": how,
                    "unit_before": int(units_a[i]),
                    "unit_after": int(units_b[j]),
                    "similarity": score,
                    "concept_before": str(ra.concept),
                    "concept_after": str(rb.concept),
                    "iou_before": ra.iou,
                    "iou_after": rb.iou,
                    "change": _change(ra, rb),
                    "refused_before": _refused(ra),
                    "refused_after": _refused(rb),
                }
            )
    return rows


_COLUMNS = {
    "layers": ["report", "layer", "units", "interpretable", "share", "concepts"],
    "concepts": ["report", "layer", "concept", "units", "share", "mean_iou", "max_iou"],
    "gained_lost": ["before", "after", "concept", "change", "units_before", "units_after"],
    "ace": ["report", "concept", "layer", "ace", "share"],
    "artifacts": ["report", "layer", "verdict", "repaired"],
    "matches": [
        "before",
        "after",
        "layer",
        "method",
        "unit_before",
        "unit_after",
        "similarity",
        "concept_before",
        "concept_after",
        "iou_before",
        "iou_after",
        "change",
        "refused_before",
        "refused_after",
    ],
}


def compare_findings(
    *reports: str | os.PathLike[str],
    names: list[str] | None = None,
    match: MatchMethod = "auto",
    match_samples: int = 32,
) -> FindingsComparison:
    """Compare the findings of two or more reports, in the order given (see the module doc).

    Usage::

        found = compare_findings("ckpt-1000", "ckpt-2000", match="iou")
        found.units_per_concept()       # concepts x (report, layer) counts

    ``match``: ``"auto"`` matches units by activation correlation on ``match_samples`` shared
    samples where both reports can regenerate them, by IoU profile otherwise; ``"iou"``
    never loads a model; ``"activation"`` refuses (ConfigError) when it cannot.
    A path that is not a report is a ReportError.
    """
    import pandas as pd

    from dissect_report.reportdir.report import open_report

    if len(reports) < 2:
        raise ConfigError("compare --findings needs two or more reports")
    if match not in ("auto", "activation", "iou"):
        raise ConfigError(f"match must be auto, activation or iou, not {match!r}")
    paths = [Path(p) for p in reports]
    opened = [open_report(p) for p in paths]
    labels = list(names) if names else report_names(paths)
    if len(labels) != len(paths) or len(set(labels)) != len(labels):
        raise ConfigError(f"need {len(paths)} distinct names, got {labels}")
    layer_rows: list[dict[str, Any]] = []
    concept_rows: list[dict[str, Any]] = []
    for name, report in zip(labels, opened, strict=True):
        lr, cr = _layer_rows(name, report)
        layer_rows += lr
        concept_rows += cr
    concepts = pd.DataFrame(concept_rows, columns=_COLUMNS["concepts"])
    named = list(zip(labels, opened, strict=True))
    pairs = list(zip(named, named[1:], strict=False))
    matches = [row for a, b in pairs for row in _match_rows(a, b, match, match_samples)]
    settings = tuple((a[0], b[0], diff_settings(a[1].raw, b[1].raw)) for a, b in pairs)

    def frame(key: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=_COLUMNS[key])

    return FindingsComparison(
        names=tuple(labels),
        paths=tuple(paths),
        layers=frame("layers", layer_rows),
        concepts=concepts,
        gained_lost=frame("gained_lost", _gained_lost(labels, concepts)),
        ace=frame("ace", _ace_rows(labels, opened)),
        artifacts=frame("artifacts", _artifact_rows(labels, opened)),
        matches=frame("matches", matches),
        settings=settings,
    )

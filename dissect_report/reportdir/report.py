"""Open a report directory from Python: its tables as pandas DataFrames.

Usage::

    import dissect_report as dr
    report = dr.open_report("report")                # made by `dissect-report run --out report`
    report.layers                                    # ['layer3', 'layer4']
    units = report.units("layer3")                   # one row per unit (DataFrame)
    units[units.interpretable].groupby("concept").size()
    report.iou("layer3").pivot(index="unit", columns="concept", values="iou")
    report.ace("tree")                               # after `dissect-report intervene`
    report.unit("layer3", 42).image                  # Path of the unit's image grid

Every table goes through the one reader (:mod:`dissect_report.reportdir.read`), so a missing
or damaged file is a :class:`~dissect_report.errors.ReportError` naming it. Columns, units
and dtypes follow docs/report-format.md (:mod:`dissect_report.reportdir.schema` in code).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dissect_report.errors import ConfigError, ReportError
from dissect_report.reportdir.read import (
    layer_dir,
    read_manifest_dict,
    read_rows,
    read_state,
    read_table,
)
from dissect_report.reportdir.schema import ArtifactUnitRow, IouRow, Manifest, UnitRow, required

# What every reader of units.parquet needs; hand-made tables (tests, other tools) may stop here.
_UNITS_MIN = required(UnitRow)

if TYPE_CHECKING:
    import pandas as pd

    from dissect_report.dissection.stats import LayerState


@dataclass(frozen=True)
class UnitView:
    """One unit of one layer: its row of units.parquet and the paths of its pictures.

    ``row``: the columns of :meth:`Report.units` as Python values (``top_samples``: sample
    ids, best first; ``iou``: float in [0, 1]). ``image``: ``units/<n>.png`` (top samples
    highlighted, their segmentations below), ``strip``: ``units/<n>-strip.png``; either is
    None when the report has no such file (``--no-images``, thumbnails-only goldens).
    """

    layer: str
    unit: int
    row: dict[str, Any]
    image: Path | None
    strip: Path | None

    @property
    def concept(self) -> str:
        return str(self.row["concept"])

    @property
    def iou(self) -> float:
        return float(self.row["iou"])

    @property
    def top_samples(self) -> list[int]:
        """Sample ids of the unit's top-k samples by peak activation, best first."""
        return [int(s) for s in self.row.get("top_samples") or []]


class Report:
    """A report directory, read on demand; open one with :func:`open_report`.

    ``root``: the directory. ``manifest``: the typed ``manifest.json``
    (:class:`~dissect_report.reportdir.schema.Manifest`); ``raw``: the same as a dict with
    every key as written (for code that rewrites or diffs it).
    """

    def __init__(self, root: Path, raw: dict[str, Any]) -> None:
        self.root = root
        self.raw = raw
        self.manifest = Manifest.model_validate(raw)

    def __repr__(self) -> str:
        return f"Report({str(self.root)!r}, layers={self.layers}, concepts={len(self.concepts)})"

    @property
    def layers(self) -> list[str]:
        """Names of the dissected layers, in the order of the config (``['layer3', ...]``)."""
        return [entry.name for entry in self.manifest.layers]

    @property
    def concepts(self) -> list[str]:
        """Names of the segmenter's concepts, in its label order (label 0 first)."""
        return [entry.name for entry in self.manifest.concepts]

    @property
    def dissection_seed(self) -> int:
        """The seed of the dissection's samples; later stages derive their own seeds from it."""
        samples, config = self.manifest.samples, self.manifest.config
        return int(samples.get("seed", config.get("seed", 0)))

    def layer_dir(self, layer: str) -> Path:
        """``root/layers/<slug>``; an unknown layer is a ReportError listing the layers."""
        return layer_dir(self.root, self.manifest, layer)

    def check_layer(self, requested: str | None) -> str | None:
        """``requested`` once checked against the dissected layers (a ConfigError if absent)."""
        if not self.layers:
            raise ReportError("the report lists no dissected layers")
        if requested is not None and requested not in self.layers:
            raise ConfigError(
                f"layer {requested!r} was not dissected in this report; "
                f"layers: {', '.join(self.layers)}"
            )
        return requested

    # Arrow tables: what the stages use (no pandas on their path).

    def units_table(self, layer: str) -> pa.Table:
        """``layers/<slug>/units.parquet`` as an Arrow table, sorted by unit."""
        path = self.layer_dir(layer) / "units.parquet"
        return read_table(path, _UNITS_MIN).sort_by("unit")

    def iou_table(self, layer: str) -> pa.Table | None:
        """``layers/<slug>/iou.parquet`` as an Arrow table, or None when the layer has none."""
        path = self.layer_dir(layer) / "iou.parquet"
        return read_table(path, ("unit", "concept", "iou")) if path.is_file() else None

    # Row types: the same rows as the stages wrote them (reportdir.schema).

    def unit_rows(self, layer: str) -> list[UnitRow]:
        """``layers/<slug>/units.parquet`` as :class:`UnitRow` objects, sorted by unit."""
        rows = read_rows(self.layer_dir(layer) / "units.parquet", UnitRow)
        return sorted(rows, key=lambda r: r.unit)

    def iou_rows(self, layer: str) -> list[IouRow] | None:
        """``layers/<slug>/iou.parquet`` as :class:`IouRow` objects, or None without one."""
        path = self.layer_dir(layer) / "iou.parquet"
        return read_rows(path, IouRow) if path.is_file() else None

    def state(self, layer: str) -> LayerState | None:
        """The layer's ``stats.npz`` (raw mergeable counts), or None when the report has none."""
        path = self.layer_dir(layer) / "stats.npz"
        return read_state(path) if path.is_file() else None

    # pandas: what users use.

    def units(self, layer: str) -> pd.DataFrame:
        """One row per unit of ``layer`` (``layers/<slug>/units.parquet``), sorted by unit.

        Columns (dtype): ``unit`` (int32, channel index), ``threshold`` (float64, activation
        level of the unit's mask, in the layer's activation units), ``concept`` (str,
        best concept), ``iou`` (float64 in [0, 1], IoU of the mask with ``concept``), ``iqr``
        (float64 in [0, 1], information quality ratio), ``interpretable`` (bool, ``iou >=
        iou_floor``), ``top_samples`` (list of int, sample ids of the top-k samples by peak
        activation, best first), ``top_activations`` (list of float, their peaks),
        ``top_concepts`` / ``top_ious`` (lists: the 5 best concepts and their IoUs).

        An unknown layer or a missing/damaged table is a ReportError.
        """
        return _frame(self.units_table(layer))

    def iou(self, layer: str) -> pd.DataFrame:
        """Every unit x every concept of ``layer``, long format (``iou.parquet``).

        Columns: ``unit`` (int32), ``concept`` (str), ``iou`` (float64 in [0, 1]), ``iqr``
        (float64). Wide: ``report.iou(l).pivot(index="unit", columns="concept", values="iou")``.
        A layer without iou.parquet is a ReportError.
        """
        table = self.iou_table(layer)
        if table is None:
            raise ReportError(f"layer {layer!r} has no iou.parquet in {str(self.root)!r}")
        return _frame(table)

    def ace(self, concept: str) -> pd.DataFrame:
        """The ablation ACE curve of ``concept``: ``concepts/<slug>/ace.parquet``.

        One row per (``method``, ``n``): ``method`` (str: ``iou``, ``random``, ``optimized``),
        ``n`` (int32, units ablated), ``units`` (list of int), ``trials`` (int32),
        ``fraction_before`` / ``fraction_after`` (float64, concept pixel fraction in [0, 1]),
        ``ace`` (float64, drop in pixel fraction), ``ace_std`` (float64), ``share`` (float64,
        ``ace / fraction_before``, NaN if that is 0), ``erased`` (float64 in [0, 1]).
        A ReportError if the report has no interventions or ``concept`` was not intervened
        (``report.interventions()`` lists those that were).
        """
        entry = self.manifest.concept(concept)
        path = self.root / "concepts" / entry.slug / "ace.parquet"
        if not path.is_file():
            done = self.manifest.interventions.get("concepts") or []
            raise ReportError(
                f"no ACE curve for concept {concept!r} in {str(self.root)!r}; "
                f"intervened concepts: {', '.join(map(str, done)) or 'none (run intervene)'}"
            )
        return _frame(read_table(path, ("method", "n", "ace")))

    def interventions(self) -> pd.DataFrame:
        """One row per intervened concept (``concepts/index.parquet``; columns in
        docs/report-format.md: ``concept``, ``layer``, ``ace``, ``share``, ``ace_random``, ...).
        A ReportError if the report has no interventions."""
        return _frame(read_table(self.root / "concepts" / "index.parquet", ("concept", "ace")))

    def artifacts(self) -> pd.DataFrame:
        """Artifact scores of the artifacts layer, worst first (``artifacts/units.parquet``).

        Columns: ``unit`` (int32), ``rank`` (int32, 1 = worst), ``score`` (float64, higher =
        worse), ``fsd`` (float64, Frechet distance), ``realism`` (float64, mean discriminator
        logit, NaN without one), ``top_samples`` (list of int), ``ablation_gain``,
        ``ablation_gain_even``, ``ablation_gain_odd`` (float64, NaN if not measured),
        ``repaired`` (bool), ``concept`` (str or None), ``iou`` (float64).
        The layer is ``report.manifest.artifacts["layer"]``. A ReportError if the report has
        no artifacts section (run ``dissect-report artifacts``).
        """
        path = self.root / "artifacts" / "units.parquet"
        if not path.is_file():
            raise ReportError(
                f"report {str(self.root)!r} has no artifacts; run `dissect-report artifacts`"
            )
        return _frame(read_table(path, required(ArtifactUnitRow)))

    def unit(self, layer: str, unit: int) -> UnitView:
        """Unit ``unit`` of ``layer``: its row, its pictures' paths, its top samples.

        ``report.unit("layer3", 42).top_samples`` -> ``[812, 97, ...]``. A unit outside the
        layer is a ReportError giving the layer's unit count.
        """
        rows = self._rows(layer)
        if not 0 <= unit < len(rows) or rows[unit]["unit"] != unit:
            by_unit = {int(r["unit"]): r for r in rows}
            if unit not in by_unit:
                raise ReportError(f"layer {layer!r} has no unit {unit}; it has {len(rows)} units")
            row = by_unit[unit]
        else:
            row = rows[unit]
        base = self.layer_dir(layer) / "units"
        image, strip = base / f"{unit}.png", base / f"{unit}-strip.png"
        return UnitView(
            layer=layer,
            unit=unit,
            row=row,
            image=image if image.is_file() else None,
            strip=strip if strip.is_file() else None,
        )

    @cached_property
    def _row_cache(self) -> dict[str, list[dict[str, Any]]]:
        return {}

    def _rows(self, layer: str) -> list[dict[str, Any]]:
        if layer not in self._row_cache:
            self._row_cache[layer] = self.units_table(layer).to_pylist()
        return self._row_cache[layer]


def _frame(table: pa.Table) -> pd.DataFrame:
    # List columns become Python lists (not numpy arrays) so rows compare and print plainly.
    frame = table.to_pandas()
    for name in table.column_names:
        if pa.types.is_list(table.schema.field(name).type):
            frame[name] = table.column(name).to_pylist()
    return frame


def open_report(path: str | Path) -> Report:
    """Open the report directory ``path`` (written by ``dissect-report run``/``dissect``).

    ``dr.open_report("report").units("layer3").head()``. Reads only ``manifest.json`` now
    (migrated to the current schema and validated); tables are read when asked for. A path
    that is not a complete report is a ReportError.
    """
    root = Path(path)
    return Report(root, read_manifest_dict(root))

"""Read what the visualize step wrote for the site: band examples and sample pages' data.

Usage::

    from dissect_report.render.examples import load_examples, load_samples
    ex = load_examples(layer_dir)          # None for reports drawn before bands existed
    ex.by_unit[7]                          # (ExampleRow(unit=7, band='top', slot=0, ...), ...)
    samples = load_samples(report_root)    # None when the report has no samples/ folder
    samples.concepts[12]                   # ('sky', 'grass', ...) by area
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dissect_report.errors import ReportError
from dissect_report.reportdir.read import read_json, read_rows
from dissect_report.reportdir.schema import ExampleRow, SampleRow, SampleUnitRow


@dataclass(frozen=True)
class BandInfo:
    key: str
    label: str
    needs: int = 0  # the fewest samples at which the band can hold an example (0: unknown)


@dataclass(frozen=True)
class Examples:
    """A layer's examples.parquet + examples.json."""

    tile: tuple[int, int]
    gap: int
    per_band: int
    bands: tuple[BandInfo, ...]
    rows: tuple[str, ...]
    by_unit: dict[int, tuple[ExampleRow, ...]]
    display_factor: int | None = None  # per-band files (bandfiles.py); None: one grid per unit


@dataclass(frozen=True)
class Samples:
    """samples/index.parquet + samples/units.parquet."""

    ids: tuple[int, ...]
    concepts: dict[int, tuple[str, ...]]
    areas: dict[int, tuple[float, ...]]
    top_units: dict[int, tuple[SampleUnitRow, ...]]  # rank order


def load_examples(layer_dir: Path) -> Examples | None:
    """The layer's band examples, or None when the report has none (older reports)."""
    meta_path = layer_dir / "examples.json"
    if not meta_path.is_file():
        return None
    try:
        meta = read_json(meta_path)
        tile = (int(meta["tile"][0]), int(meta["tile"][1]))
        bands = tuple(
            BandInfo(str(b["key"]), str(b["label"]), int(b.get("needs", 0))) for b in meta["bands"]
        )
        gap, per_band, rows = int(meta["gap"]), int(meta["per_band"]), tuple(meta["rows"])
        files = meta.get("band_files")
        factor = int(files["display_factor"]) if files else None
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ReportError(f"unreadable {str(meta_path)!r}: {exc}") from exc
    by_unit: dict[int, list[ExampleRow]] = {}
    for row in read_rows(layer_dir / "examples.parquet", ExampleRow):
        by_unit.setdefault(row.unit, []).append(row)
    return Examples(
        tile=tile,
        gap=gap,
        per_band=per_band,
        bands=bands,
        rows=tuple(str(r) for r in rows),
        by_unit={u: tuple(v) for u, v in by_unit.items()},
        display_factor=factor,
    )


def load_samples(root: Path) -> Samples | None:
    """The drawn samples' concepts and top units, or None when there is no samples/ folder."""
    base = root / "samples"
    if not (base / "index.parquet").is_file():
        return None
    index = read_rows(base / "index.parquet", SampleRow)
    top: dict[int, list[SampleUnitRow]] = {}
    if (base / "units.parquet").is_file():
        for row in read_rows(base / "units.parquet", SampleUnitRow):
            top.setdefault(row.sample, []).append(row)
    return Samples(
        ids=tuple(r.sample for r in index),
        concepts={r.sample: r.concepts for r in index},
        areas={r.sample: r.areas for r in index},
        top_units={s: tuple(v) for s, v in top.items()},
    )

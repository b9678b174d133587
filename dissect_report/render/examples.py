"""Read what the visualize step wrote for the site: band examples and sample pages' data.

Usage::

    from dissect_report.render.examples import load_examples, load_samples
    ex = load_examples(layer_dir)          # None for reports drawn before bands existed
    ex.by_unit[7]                          # (Shown(band='top', slot=0, sample=12, peak=5.8), ...)
    samples = load_samples(report_root)    # None when the report has no samples/ folder
    samples.concepts[12]                   # ('sky', 'grass', ...) by area
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dissect_report.errors import ReportError
from dissect_report.reportdir.read import read_json, read_table


@dataclass(frozen=True)
class Shown:
    band: str
    slot: int
    sample: int
    peak: float


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
    by_unit: dict[int, tuple[Shown, ...]]
    display_factor: int | None = None  # per-band files (bandfiles.py); None: one grid per unit


@dataclass(frozen=True)
class TopUnit:
    layer: str
    rank: int
    unit: int
    peak: float
    ratio: float


@dataclass(frozen=True)
class Samples:
    """samples/index.parquet + samples/units.parquet."""

    ids: tuple[int, ...]
    concepts: dict[int, tuple[str, ...]]
    areas: dict[int, tuple[float, ...]]
    top_units: dict[int, tuple[TopUnit, ...]]


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
    table = read_table(
        layer_dir / "examples.parquet", ("unit", "band", "slot", "sample", "peak")
    ).to_pydict()
    by_unit: dict[int, list[Shown]] = {}
    for u, b, k, s, p in zip(
        table["unit"], table["band"], table["slot"], table["sample"], table["peak"], strict=True
    ):
        by_unit.setdefault(int(u), []).append(Shown(str(b), int(k), int(s), float(p)))
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
    index = read_table(base / "index.parquet", ("sample", "concepts", "areas")).to_pydict()
    ids = tuple(int(s) for s in index["sample"])
    concepts = {
        int(s): tuple(str(c) for c in cs or ())
        for s, cs in zip(index["sample"], index["concepts"], strict=True)
    }
    areas = {
        int(s): tuple(float(a) for a in xs or ())
        for s, xs in zip(index["sample"], index["areas"], strict=True)
    }
    top: dict[int, list[TopUnit]] = {}
    if (base / "units.parquet").is_file():
        t = read_table(
            base / "units.parquet", ("sample", "layer", "rank", "unit", "peak", "ratio")
        ).to_pydict()
        for s, lyr, r, u, p, q in zip(
            t["sample"], t["layer"], t["rank"], t["unit"], t["peak"], t["ratio"], strict=True
        ):
            top.setdefault(int(s), []).append(
                TopUnit(str(lyr), int(r), int(u), float(p), float("nan") if q is None else q)
            )
    return Samples(
        ids=ids,
        concepts=concepts,
        areas=areas,
        top_units={s: tuple(v) for s, v in top.items()},
    )

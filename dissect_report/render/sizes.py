"""What a built site weighs, by page kind: the figures a size budget is judged by.

Usage::

    from dissect_report.render.sizes import site_sizes
    sizes = site_sizes(Path("report/site"), units=448)
    sizes.kinds["unit pages"]      # bytes of the unit pages and the images they show
    sizes.per_unit                 # those bytes per unit
    print(sizes.summary())         # "38.1 MB: unit pages 20.5 MB (46 KB per unit), ..."

Every file counts once, under the first kind whose rule matches its site-relative path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("unit pages", re.compile(r"^layers/[^/]+/units/")),
    ("sample pages", re.compile(r"^samples/")),
    ("layer pages", re.compile(r"^layers/")),
    ("concept pages", re.compile(r"^concepts/")),
    ("artifacts", re.compile(r"^artifacts/")),
    ("paint", re.compile(r"^paint/")),
    ("search index", re.compile(r"^search/")),
    ("theme", re.compile(r"^assets/")),
    ("other pages", re.compile(r".")),
)


@dataclass(frozen=True)
class SiteSizes:
    total: int
    files: int
    kinds: dict[str, int]  # in KINDS order, kinds with no file left out
    units: int

    @property
    def per_unit(self) -> float:
        """Bytes of the unit pages (HTML and their images) per unit."""
        return self.kinds.get("unit pages", 0) / max(1, self.units)

    def summary(self) -> str:
        parts = []
        for kind, size in self.kinds.items():
            extra = f" ({self.per_unit / 1e3:.0f} KB per unit)" if kind == "unit pages" else ""
            parts.append(f"{kind} {_mb(size)}{extra}")
        return f"{_mb(self.total)} in {self.files} files: " + ", ".join(parts)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def kind_of(rel: str) -> str:
    """The page kind a site-relative POSIX path counts under."""
    return next(kind for kind, rule in KINDS if rule.search(rel))


def site_sizes(site_dir: Path, units: int) -> SiteSizes:
    """Bytes of every file under ``site_dir`` by page kind; ``units``: the unit page count."""
    kinds = dict.fromkeys((k for k, _ in KINDS), 0)
    total = files = 0
    for here, _dirs, names in os.walk(site_dir):
        for name in names:
            path = Path(here, name)
            size = path.stat().st_size
            kinds[kind_of(path.relative_to(site_dir).as_posix())] += size
            total += size
            files += 1
    return SiteSizes(total, files, {k: v for k, v in kinds.items() if v}, units)

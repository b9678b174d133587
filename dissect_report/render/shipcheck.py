"""Check what a site ships before it replaces the old one: images open, tables open, links land.

Usage::

    from dissect_report.render.shipcheck import check_counts, check_shipped
    check_counts(report.manifest)        # ReportError: 'samples.count is -5 ...'
    check_shipped(Path("work/site"))     # ReportError naming the first damaged file

A report is received from others and edited by tools; rendering a truncated thumbnail or a
truncated table into a site that exits 0 publishes a broken page. Each check names the
damaged file relative to the report (the site mirrors the report's layout) in one line.
"""

from __future__ import annotations

import json
import os
import posixpath
import xml.etree.ElementTree as ET
from pathlib import Path

from dissect_report.errors import ReportError
from dissect_report.render.shipping import references
from dissect_report.reportdir.schema import Manifest

_RASTER = (".png", ".jpg", ".jpeg", ".webp")


def check_counts(m: Manifest) -> None:
    """Refuse counts no run can produce (negative, or more labelled units than units)."""
    for key in ("count", "top_k"):
        value = m.samples.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ReportError(
                f"corrupt manifest: samples.{key} is {value!r}; it must be a whole number >= 0"
            )
    for e in m.layers:
        if e.units < 0 or not 0 <= e.interpretable <= e.units:
            raise ReportError(
                f"corrupt manifest: layer {e.name!r} has {e.units} units and "
                f"{e.interpretable} interpretable; counts must satisfy 0 <= interpretable <= units"
            )


def _damaged(rel: str, why: str) -> ReportError:
    return ReportError(
        f"damaged file in the report: {rel!r} ({why}); write it again (rerun the stage that "
        "made it) or remove it"
    )


def _check_file(path: Path, rel: str) -> None:
    name = path.name.lower()
    try:
        if name.endswith(_RASTER):
            from PIL import Image

            with Image.open(path) as im:
                if name.endswith(".png"):
                    im.verify()  # every chunk's CRC, without decoding
                else:
                    im.load()
        elif name.endswith(".svg"):
            ET.parse(path)
        elif name.endswith(".parquet"):
            import pyarrow.parquet as pq

            pq.read_metadata(path)
        elif name.endswith(".json"):
            json.loads(path.read_text(encoding="utf-8"))
        elif name.endswith(".csv"):
            path.read_text(encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 (any decoder's failure means the file is damaged)
        kind = name.rsplit(".", 1)[-1]
        text = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise _damaged(rel, f"cannot be read as {kind}: {text}") from None


def check_shipped(site: Path, report_files: frozenset[str]) -> int:
    """Open every image and table in ``site``; check every local link of its pages lands.

    ``report_files``: the site-relative paths that were copied from the report (their
    damage is named as the report's); returns the number of files checked.
    """
    files: set[str] = set()
    pages = []
    for here, _dirs, names in os.walk(site):
        for name in names:
            rel = Path(here, name).relative_to(site).as_posix()
            files.add(rel)
            if name.endswith(".html"):
                pages.append(rel)
    for rel in sorted(report_files & files):
        _check_file(site / rel, rel)
    for page in sorted(pages):
        base = posixpath.dirname(page)
        for ref in set(references((site / page).read_text(encoding="utf-8"))):
            if ref.endswith("/"):
                continue  # a directory index (other sites and data: URIs are not references)
            target = posixpath.normpath(posixpath.join(base, ref))
            if target not in files and not target.startswith(".."):
                raise _damaged(target, f"{page} shows it, but it is missing")
    return len(report_files & files)

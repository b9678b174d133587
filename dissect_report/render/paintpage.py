"""The site's Paint page: the report's ``paint/`` section -> a page and the files it loads.

Usage::

    from dissect_report.render.paintpage import paint_page
    page = paint_page(Path("report"))   # None when the report has no paint/ section
    page.page                           # Page("paint/index.md", "paint.md.j2", view)
    page.files                          # {"ort.js": b"...", "model.js": ..., "data.js": ...}

Reads only the report directory (render works without the model). Everything the page needs
is wrapped into classic scripts (base64 where binary) because browsers block ``fetch`` of
files from ``file://``; ``dissect_report/site/paint/paint.js`` explains how it is unwrapped.
A report whose tail could not be exported gets the page with its one-line note and no scripts.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dissect_report.errors import ReportError
from dissect_report.render.context import Page
from dissect_report.render.paintunits import unit_choices
from dissect_report.reportdir.read import read_json

log = logging.getLogger(__name__)
ORT_VERSION = "1.30.0"
ASSETS = Path(__file__).resolve().parent.parent / "site" / "paint"
PATH = "paint/index.md"
TEMPLATE = "paint.md.j2"


@dataclass(frozen=True)
class PaintPage:
    """The page and the files that go next to it (``site/paint/<name>``)."""

    page: Page  # rendered by the render stage's Jinja2 environment (autoescaping)
    available: bool
    note: str | None
    files: dict[str, bytes] = field(repr=False)


def _script(name: str, value: Any) -> bytes:
    # JSON is valid JavaScript; names from the model are data here, never markup.
    return f"window.{name} = {json.dumps(value, separators=(',', ':'))};\n".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _load_npy(path: Path, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {str(path)!r}: {exc}") from None
    if array.dtype != dtype or array.shape != shape:
        raise ReportError(
            f"{str(path)!r} holds {array.dtype} {array.shape}; paint.json says {shape}"
        )
    return array


def _ort_script() -> bytes:
    vendor = ASSETS / "vendor"
    src = (vendor / "ort.wasm.bundle.min.mjs").read_text(encoding="utf-8")
    wasm = (vendor / "ort-wasm-simd-threaded.wasm.gz").read_bytes()
    header = (
        f"/* ONNX Runtime Web {ORT_VERSION} (npm onnxruntime-web), MIT License, "
        "Copyright (c) Microsoft Corporation; see LICENSE-onnxruntime-web.txt.\n"
        " * src: the ES module ort.wasm.bundle.min.mjs as text; wasmGz: base64 of the gzipped\n"
        " * ort-wasm-simd-threaded.wasm. Embedded so the page works from file:// (paint.js). */\n"
    )
    return header.encode() + _script("DR_ORT", {"src": src, "wasmGz": _b64(wasm)})


def _brush_view(brushes: dict[str, Any] | None) -> dict[str, Any] | None:
    """How the brushes were measured, for the page's text (None: brushes not measured)."""
    if not brushes:
        return None
    return {
        "stroke": int(brushes["stroke"]),
        "measure_samples": int(brushes["measure_samples"]),
        "min_precision": f"{float(brushes['min_precision']):.0%}",
    }


def paint_page(report: Path) -> PaintPage | None:
    """The Paint page of ``report``, or None when it has no ``paint/`` section."""
    meta_path = Path(report) / "paint" / "paint.json"
    if not meta_path.is_file():
        return None
    meta = read_json(meta_path)
    if not meta.get("available"):
        note = str(meta.get("note") or "the generator's tail was not exported")
        view = {"available": False, "note": note}
        return PaintPage(Page(PATH, TEMPLATE, view), False, note, {})
    units, height, width = (int(x) for x in meta["shape"])
    samples = len(meta["samples"])
    acts = _load_npy(
        report / "paint" / "activations.npy", np.float16, (samples, units, height, width)
    )
    z = _load_npy(report / "paint" / "latents.npy", np.float32, (samples, int(meta["z_dim"])))
    model = (report / "paint" / "tail.onnx").read_bytes()
    choices = unit_choices(report, str(meta["layer"]), units)  # "your units" on the page
    data = {
        **{k: meta[k] for k in ("layer", "seed", "samples", "shape", "image", "z_dim", "inputs")},
        "concepts": meta["concepts"],
        "activations": _b64(acts.astype("<f2").tobytes()),
        "latents": _b64(z.astype("<f4").tobytes()),
        "unit_labels": list(choices.labels),
        "unit_levels": list(choices.levels),
        "unit_href": choices.href,
        "brushes": meta.get("brushes"),
    }
    files = {
        "ort.js": _ort_script(),
        "model.js": _script("DR_PAINT_MODEL", _b64(model)),
        "data.js": _script("DR_PAINT", data),
        "paint.js": (ASSETS / "paint.js").read_bytes(),
        "paint.css": (ASSETS / "paint.css").read_bytes(),
        "LICENSE-onnxruntime-web.txt": (ASSETS / "vendor" / "LICENSE").read_bytes(),
    }
    view = {
        "available": True,
        "layer": meta["layer"],
        "height": height,
        "width": width,
        "max_units": max((len(c["units"]) for c in meta["concepts"]), default=0),
        "level_note": choices.level_note,
        "brushes": _brush_view(meta.get("brushes")),
        "ort_version": ORT_VERSION,
        "mb": f"{sum(len(b) for b in files.values()) / 1e6:.1f}",
    }
    return PaintPage(Page(PATH, TEMPLATE, view), True, None, files)

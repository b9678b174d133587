"""Compare two images with a tolerance: mean absolute pixel difference, size must match.

Usage::

    from dissect_report.compare.images import image_difference
    reason, score = image_difference(Path("golden/a.png"), Path("new/a.png"), tol=4.0)
    # reason is None when the images agree within tol

The score is the mean over pixels and RGB channels of ``|golden - new|`` on a 0..255 scale,
so ``image_tol=4`` tolerates re-encoding and float noise but not a different sample or a
different highlighted region.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")

_UNIT_IMAGE = re.compile(r"^layers/(?P<layer>[^/]+)/units/(?P<unit>\d+)(?P<strip>-strip)?\.\w+$")


def classify(rel: str) -> tuple[str | None, int | None, str]:
    """``(layer slug, unit, kind)`` of a report-relative image path (kind strip/grid/other)."""
    match = _UNIT_IMAGE.match(rel)
    if not match:
        return None, None, "other"
    return match["layer"], int(match["unit"]), "strip" if match["strip"] else "grid"


def _load(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def image_difference(golden: Path, new: Path, tol: float) -> tuple[str | None, float | None]:
    """Why the two images differ (``None`` when within ``tol``) and their score."""
    try:
        g = _load(golden)
    except Exception as exc:  # PIL raises many types for a bad file
        return f"golden image unreadable ({exc})", None
    try:
        n = _load(new)
    except Exception as exc:
        return f"new image unreadable ({exc})", None
    if g.shape != n.shape:
        return f"size {g.shape[1]}x{g.shape[0]} -> {n.shape[1]}x{n.shape[0]}", None
    score = float(np.abs(g - n).mean()) if g.size else 0.0
    if score > tol:
        return f"mean |diff| {score:.2f} > {tol:g}", score
    return None, score

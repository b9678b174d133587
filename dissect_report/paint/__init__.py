"""Paint with units in the static site: GANPaint that runs in the browser, offline.

Usage::

    from dissect_report.paint import PaintConfig, build_paint
    result = build_paint(PaintConfig(), "report")   # report/paint/: tail.onnx + activations
    # then `dissect-report render report` adds the Paint page (dissect_report.render.paintpage)

:mod:`.export` exports the generator's tail to ONNX, :mod:`.stage` writes the report's
``paint/`` section; the render stage's :mod:`dissect_report.render.paintpage` turns it into
the site's Paint page (ONNX Runtime Web, vendored under ``dissect_report/site/paint``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dissect_report.lazy import lazy_exports
from dissect_report.paint.settings import PaintConfig

if TYPE_CHECKING:
    from dissect_report.paint.stage import PaintResult, build_paint

__all__ = ["PaintConfig", "PaintResult", "build_paint"]
# The stage imports torch; the CLI reads PaintConfig's defaults without it.
__getattr__, __dir__ = lazy_exports(__name__, {"build_paint": ".stage", "PaintResult": ".stage"})

"""Paint with units in the static site: GANPaint that runs in the browser, offline.

Usage::

    from dissect_report.paint import PaintConfig, build_paint
    result = build_paint(PaintConfig(), "report")   # report/paint/: tail.onnx + activations
    # then `dissect-report render report` adds the Paint page (dissect_report.paint.page)

:mod:`.export` exports the generator's tail to ONNX, :mod:`.stage` writes the report's
``paint/`` section, :mod:`.page` turns it into the site's Paint page (ONNX Runtime Web,
vendored under ``dissect_report/site/paint``).
"""

from __future__ import annotations

from dissect_report.paint.settings import PaintConfig

__all__ = ["PaintConfig", "PaintResult", "build_paint"]


def __getattr__(name: str) -> object:
    # The stage imports torch; the CLI reads PaintConfig's defaults without it.
    if name in ("build_paint", "PaintResult"):
        from dissect_report.paint import stage

        return getattr(stage, name)
    raise AttributeError(name)

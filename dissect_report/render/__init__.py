"""The render stage: a report directory -> Markdown pages (Jinja2) -> static MkDocs site.

Usage::

    from dissect_report.render import render_site
    result = render_site("report")                  # writes report/site/
    print(result.index)                             # report/site/index.html, works from file://

Names load lazily: the pytest plugin imports :mod:`dissect_report.render.portable` while
writing a golden, and must not import torch (the stage's modules do) to do so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dissect_report.lazy import lazy_exports

if TYPE_CHECKING:
    from dissect_report.render.site import RenderResult, render_site

__all__ = ["RenderResult", "render_site"]

__getattr__, __dir__ = lazy_exports(__name__, {"RenderResult": ".site", "render_site": ".site"})

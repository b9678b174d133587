"""The render stage: a report directory -> Markdown pages (Jinja2) -> static MkDocs site.

Usage::

    from dissect_report.render import render_site
    result = render_site("report")                  # writes report/site/
    print(result.index)                             # report/site/index.html, works from file://
"""

from __future__ import annotations

from dissect_report.render.site import RenderResult, render_site

__all__ = ["RenderResult", "render_site"]

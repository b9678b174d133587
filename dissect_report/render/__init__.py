"""The render stage: a report directory -> Markdown pages (Jinja2) -> static MkDocs site.

Usage::

    from dissect_report.render import render_site
    result = render_site("report")                  # writes report/site/
    print(result.index)                             # report/site/index.html, works from file://

Names load lazily: the pytest plugin imports :mod:`dissect_report.render.portable` while
writing a golden, and must not import torch (the stage's modules do) to do so.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["RenderResult", "render_site"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("dissect_report.render.site"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Render the site's Markdown pages and mkdocs.yml from view models through Jinja2 templates.

Usage::

    from dissect_report.render.pages import render_pages
    texts = render_pages(pages)        # {"index.md": "---\\ntitle: ...", ...}

The page environment autoescapes: a template that prints a plain string escapes it, and view
models hand over ``Markup`` for what is already safe HTML.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from dissect_report.render.context import Page

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@cache
def page_env() -> jinja2.Environment:
    """The Jinja2 environment for pages (autoescaping, compact output)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_pages(pages: Iterable[Page]) -> dict[str, str]:
    """Render every page to Markdown in memory: ``{docs-relative path: text}``."""
    env = page_env()
    templates: dict[str, jinja2.Template] = {}
    out: dict[str, str] = {}
    for page in pages:
        template = templates.get(page.template)
        if template is None:
            template = templates[page.template] = env.get_template(page.template)
        out[page.path] = template.render(v=page.view)
    return out


def write_mkdocs_yml(path: Path, **values: Any) -> None:
    """Render mkdocs.yml; every scalar is JSON-encoded, which YAML reads as a plain string."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,  # YAML, not HTML: values are JSON-encoded below instead
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["q"] = json.dumps
    path.write_text(env.get_template("mkdocs.yml.j2").render(**values), encoding="utf-8")

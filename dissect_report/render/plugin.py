"""An in-process MkDocs plugin that feeds the generated pages to the build from memory.

Usage::

    plugin = PagesPlugin({"index.md": "# Hi\\n"}, assets_dir)
    config.plugins["dissect-report/pages"] = plugin       # after mkdocs.config.load_config

Thousands of unit pages make the build I/O- and parser-bound, so this plugin:

- serves every page from memory (``File.generated``): no docs folder to write and re-read;
- passes pages whose front matter says ``dr_html: true`` through untouched: they are
  already HTML, and Python-Markdown's raw-HTML parser dominated the build;
- keeps pages with ``dr_search_title`` out of Material's search (which would parse each
  page again) and adds one entry per such page to the index instead: its title and its
  ``dr_search_text`` (a unit's layer, number, label, IoU, concepts, top samples);
- separates table cells with a space so that search snippets do not run them together;
- drops Material's indentation from pages without ``<pre>``/``<textarea>`` (megabytes);
- makes the 404 page's links relative, like every other page's.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files

from dissect_report.progress import bar

_INDENT = re.compile(r"\n[ \t]*(?:\n[ \t]*)*")
_CELL_END = re.compile(r"</t[dh]>")
_ROOT_LINK = re.compile(r'((?:href|src)=")/(?!/)')


def relative_404(html: str) -> str:
    """404.html lives at the site root: its root-absolute links become relative ones.

    MkDocs writes them as ``/...`` without a ``site_url``, which breaks a site opened from
    ``file://`` or served under a sub-path.
    """
    html = _ROOT_LINK.sub(r"\1./", html)
    html = html.replace('"search": "/assets/', '"search": "./assets/')  # the search worker
    return html.replace('"base": "/"', '"base": "."')


def minify_html(html: str) -> str:
    """Drop leading indentation and blank lines; pages with <pre>/<textarea> stay as they are."""
    if "<pre" in html or "<textarea" in html:
        return html
    return _INDENT.sub("\n", html)


class PagesPlugin(BasePlugin):
    """Generated pages (``src_uri -> Markdown``) and static assets for one build."""

    def __init__(self, pages: dict[str, str], assets: dict[str, Path]) -> None:
        super().__init__()
        self.pages = pages
        self.assets = assets
        self._raw: dict[str, str] = {}
        self._titles: list[dict[str, str]] = []
        self._bar: Any = None

    def on_pre_build(self, *, config: MkDocsConfig) -> None:
        self._bar = bar(total=len(self.pages), desc="build site", unit="page", leave=False)

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        for uri, content in self.pages.items():
            files.append(File.generated(config, uri, content=content))
        for uri, path in self.assets.items():
            files.append(File.generated(config, uri, abs_src_path=str(path)))
        return files

    def on_page_markdown(self, markdown: str, *, page: Any, config: Any, files: Any) -> str:
        if page.meta.get("dr_search_title"):
            self._titles.append(
                {
                    "location": page.url,
                    "title": str(page.meta["dr_search_title"]),
                    "text": str(page.meta.get("dr_search_text", "")),
                }
            )
        if page.meta.get("dr_html"):
            self._raw[page.file.src_uri] = markdown
            return ""
        return markdown

    def on_page_content(self, html: str, *, page: Any, config: Any, files: Any) -> str:
        raw = self._raw.pop(page.file.src_uri, None)
        # A space after each table cell: invisible in a table, but the search index's text of
        # a row reads "tree 13 22%" instead of "tree1322%".
        return _CELL_END.sub(r"\g<0> ", html if raw is None else raw)

    def on_post_page(self, output: str, *, page: Any, config: Any) -> str:
        if self._bar is not None:
            self._bar.update()
        return minify_html(output)

    def on_post_template(self, output_content: str, *, template_name: str, config: Any) -> str:
        return relative_404(output_content) if template_name == "404.html" else output_content

    @event_priority(-50)  # after the search plugin writes its index, before offline inlines it
    def on_post_build(self, *, config: MkDocsConfig) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        path = os.path.join(config.site_dir, "search", "search_index.json")
        if not self._titles or not os.path.isfile(path):
            return
        with open(path, encoding="utf-8") as fh:
            index = json.load(fh)
        index["docs"].extend(self._titles)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(index, fh, separators=(",", ":"), ensure_ascii=False)

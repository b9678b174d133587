"""One static site over several reports: each report's site under its own prefix, plus
comparison pages (concepts x (model, layer), units per concept across reports, links into
every unit page).

Usage::

    from dissect_report.render.collection import render_collection
    render_collection(["early", "mid", "late"], "site", ordered=True)   # site/index.html

or ``dissect-report render early mid late --out site`` (``--ordered`` for checkpoints), or
``dissect-report render collection.toml`` with::

    out = "site"          # relative to the file
    ordered = true        # the reports are training snapshots, in order
    [[reports]]
    path = "runs/early"
    name = "step 1000"    # optional; default the directory name

The comparison pages are plain HTML written here (no MkDocs), offline, with relative links
only; names are HTML-escaped. The numbers are those of
:func:`dissect_report.compare.findings.compare_findings` (units matched by IoU profile: a
site build never loads a model).
"""

from __future__ import annotations

import html
import logging
import os
import shutil
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dissect_report.errors import ConfigError
from dissect_report.render.context import unit_href

if TYPE_CHECKING:
    from dissect_report.compare.findings import FindingsComparison

log = logging.getLogger(__name__)
COMPARE_PAGE = "index.html"


@dataclass(frozen=True)
class CollectionResult:
    """What :func:`render_collection` built: the site, its index, each report's prefix."""

    site_dir: Path
    index: Path
    prefixes: dict[str, str]  # report name -> directory of its site inside site_dir
    seconds: float


@dataclass(frozen=True)
class Collection:
    """The reports of a collection (in order), their names, and where the site goes."""

    reports: tuple[Path, ...]
    names: tuple[str, ...] | None = None
    out: Path | None = None
    ordered: bool = False


def read_collection(path: Path) -> Collection:
    """A ``collection.toml`` (see the module doc); paths are relative to the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read collection {str(path)!r}: {exc}") from None
    entries = data.get("reports")
    if not isinstance(entries, list) or len(entries) < 2:
        raise ConfigError(f"{path}: a collection needs two or more [[reports]] with a path")
    base = path.parent
    reports, names = [], []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ConfigError(f'{path}: every [[reports]] entry needs path = "..."')
        reports.append(base / entry["path"])
        names.append(str(entry.get("name") or Path(entry["path"]).name))
    out = data.get("out")
    return Collection(
        reports=tuple(reports),
        names=tuple(names),
        out=base / out if isinstance(out, str) else None,
        ordered=bool(data.get("ordered", False)),
    )


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


STYLESHEET = "assets/collection.css"
_CSS_SOURCE = Path(__file__).resolve().parent.parent / "site" / "collection" / "collection.css"
HOME_LABEL = "All reports"


def _page(title: str, body: list[str], count: int) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{_e(title)}</title><link rel="stylesheet" href="{STYLESHEET}"></head><body>\n'
        f'<header class="dr-bar"><a href="{COMPARE_PAGE}">dissect-report</a>'
        f"<span>{count} reports compared</span></header>\n<main>\n"
        + "\n".join(body)
        + "\n</main></body></html>\n"
    )


def link_home(site_dir: Path, home: Path) -> int:
    """Put an "All reports" link to ``home`` in the header of every page of a report site.

    Usage::

        link_home(Path("site/reports/early"), Path("site/index.html"))   # pages changed

    The report sites are MkDocs builds of their own; the link goes in front of each page's
    header title, with a path relative to that page (the site works from ``file://``).
    """
    marker = '<div class="md-header__title"'
    changed = 0
    for page in sorted(site_dir.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        at = text.find(marker)
        if at < 0 or "dr-collection-home" in text:
            continue
        href = os.path.relpath(home, page.parent).replace(os.sep, "/")
        link = (
            f'<a class="dr-collection-home" href="{_e(href)}" '
            f'title="the comparison of every report in this collection">&larr; {HOME_LABEL}</a>'
        )
        page.write_text(text[:at] + link + text[at:], encoding="utf-8")
        changed += 1
    return changed


def _members(found: FindingsComparison) -> dict[tuple[str, str, str], list[int]]:
    """``(report, layer, concept) -> its interpretable units``, from each units table."""
    from dissect_report.reportdir.report import open_report

    members: dict[tuple[str, str, str], list[int]] = {}
    for name, path in zip(found.names, found.paths, strict=True):
        report = open_report(path)
        for layer in report.layers:
            for row in report.unit_rows(layer):
                if row.interpretable:
                    members.setdefault((name, layer, str(row.concept)), []).append(row.unit)
    return members


def _changed_table(
    found: FindingsComparison, prefixes: dict[str, str], slugs: dict[tuple[str, str], str]
) -> list[str]:
    """The table of units whose concept changed between reports ([] when none did)."""
    changed = found.changed
    if not len(changed):
        return []
    body = [
        "<h2>Units whose concept changed</h2>",
        '<div class="dr-scroll"><table id="changed"><tr><th>from</th><th>to</th><th>layer</th><th>unit</th>'
        "<th>change</th><th>concept</th></tr>",
    ]
    for r in changed.to_dict("records"):
        before, after = prefixes[r["before"]], prefixes[r["after"]]
        a = unit_href(slugs[(r["before"], r["layer"])], r["unit_before"], f"{before}/")
        b = unit_href(slugs[(r["after"], r["layer"])], r["unit_after"], f"{after}/")
        body.append(
            f"<tr><td>{_e(r['before'])}</td><td>{_e(r['after'])}</td><td>{_e(r['layer'])}</td>"
            f'<td><a href="{_e(a)}">{r["unit_before"]}</a> &rarr; '
            f'<a href="{_e(b)}">{r["unit_after"]}</a></td><td>{_e(r["change"])}</td>'
            f"<td>{_e(r['concept_before'])} &rarr; {_e(r['concept_after'])}</td></tr>"
        )
    body.append("</table></div>")
    return body


def comparison_page(
    found: FindingsComparison,
    prefixes: dict[str, str],
    slugs: dict[tuple[str, str], str],
    ordered: bool,
) -> str:
    """The collection's index: reports, concepts x (report, layer), chart, changed units."""
    from dissect_report.render.collection_chart import grouped_bars_svg, ordered_lines_svg

    body = [
        f"<h1>{_e(len(found.names))} reports compared</h1>",
        '<p class="dr-note">Each report\'s own site (every unit page, its interventions and '
        "artifacts):</p>",
        '<ul id="reports" class="dr-reports">',
    ]
    for name in found.names:
        body.append(f'<li><a href="{_e(prefixes[name])}/index.html">{_e(name)}</a></li>')
    body.append("</ul>")
    columns = list(zip(found.layers["report"], found.layers["layer"], strict=True))
    cells: dict[tuple[str, str, str], int] = {
        (r["report"], r["layer"], r["concept"]): int(r["units"])
        for r in found.concepts.to_dict("records")
    }
    members = _members(found)
    body += [
        "<h2>Interpretable units per concept</h2>",
        '<p class="dr-note">Per layer of each report: how many units are labelled with the '
        "concept (IoU over the report's floor); the numbers link to the unit pages.</p>",
        '<div class="dr-scroll"><table id="concept-table"><thead><tr><th>concept</th>',
    ]
    body += [f"<th>{_e(r)}<br>{_e(layer)}</th>" for r, layer in columns]
    body.append("</tr></thead><tbody>")
    for concept in sorted(set(found.concepts["concept"])):
        body.append(f"<tr><th>{_e(concept)}</th>")
        for report, layer in columns:
            units = sorted(members.get((report, layer, concept), []))
            links = " ".join(
                f'<a href="{_e(unit_href(slugs[(report, layer)], u, f"{prefixes[report]}/"))}">{u}</a>'
                for u in units
            )
            count = cells.get((report, layer, concept), 0)
            body.append(f'<td class="n">{count}<div class="units">{links}</div></td>')
        body.append("</tr>")
    body.append("</tbody></table></div>")
    totals = found.concepts.groupby(["report", "concept"])["units"].sum().to_dict()
    concepts = sorted(set(found.concepts["concept"]))
    counts = {c: [int(totals.get((n, c), 0)) for n in found.names] for c in concepts}
    if ordered:
        body += [
            "<h2>Training dynamics: interpretable units per concept</h2>",
            '<p class="dr-note">The reports in the order given (<code>--ordered</code>); a line '
            "per concept, named at its end; y: interpretable units over all layers.</p>",
            '<div id="units-chart" class="dr-scroll">',
            ordered_lines_svg(counts, list(found.names)),
            "</div>",
        ]
    else:
        body += [
            "<h2>Interpretable units per concept, by report</h2>",
            '<p class="dr-note">A bar per report (no order between them: give '
            "<code>--ordered</code> for training snapshots, drawn as lines); x: interpretable "
            "units over all layers.</p>",
            '<div id="units-chart" class="dr-scroll">',
            grouped_bars_svg(counts, list(found.names)),
            "</div>",
        ]
    body += _changed_table(found, prefixes, slugs)
    body += [
        "<h2>As text</h2>",
        "<details><summary>What <code>dissect-report compare --findings</code> prints</summary>"
        f"<pre>{_e(found.summary())}</pre></details>",
    ]
    return _page("dissect-report: reports compared", body, len(found.names))


def render_collection(
    reports: list[Path] | list[str],
    out: Path | str,
    names: list[str] | None = None,
    ordered: bool = False,
) -> CollectionResult:
    """Build one site over ``reports``: ``out/<prefix>/`` per report, ``out/index.html``."""
    from dissect_report.compare.findings import compare_findings
    from dissect_report.render.site import MARKER, _check_out, _swap_in, render_site
    from dissect_report.slug import unique_slugs

    start = time.perf_counter()
    paths = [Path(p) for p in reports]
    found = compare_findings(*paths, names=names, match="iou")
    prefixes = {name: f"reports/{slug}" for name, slug in unique_slugs(list(found.names)).items()}
    out = Path(out).resolve()
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        slugs: dict[tuple[str, str], str] = {}
        from dissect_report.reportdir.report import open_report

        for name, path in zip(found.names, paths, strict=True):
            render_site(path, out=work / prefixes[name])
            for entry in open_report(path).manifest.layers:
                slugs[(name, entry.name)] = entry.slug
        for prefix in prefixes.values():
            link_home(work / prefix, work / COMPARE_PAGE)
        page = comparison_page(found, prefixes, slugs, ordered)
        (work / COMPARE_PAGE).write_text(page, encoding="utf-8")
        (work / STYLESHEET).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_CSS_SOURCE, work / STYLESHEET)
        (work / MARKER).write_text("dissect-report collection\n", encoding="utf-8")
        _swap_in(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    seconds = time.perf_counter() - start
    log.debug("rendered a collection of %d reports into %s", len(paths), out)
    return CollectionResult(out, out / COMPARE_PAGE, prefixes, seconds)

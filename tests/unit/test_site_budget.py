"""The site carries only what it shows, says what it weighs, and keeps to a size budget.

On the report that ``dissect-report run`` makes (``real_report``, shared with other tests):
a crawl lists every file of the site and finds each referenced by a page, a stylesheet or a
script; the band images are WebP (photos) and exact palette PNG (masks); ``--max-site-mb``
leaves out bands from the weakest up, with their sample pages, and the unit pages say so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
from PIL import Image

from dissect_report.cli import main
from dissect_report.render.shipping import page_references
from dissect_report.render.sizes import site_sizes

# Files no page needs to name: the renderer's own marker, and the 404 page web servers serve.
UNNAMED = {".dissect-report-site", "404.html"}
_CSS_URL = re.compile(r"url\(\s*['\"]?([^)'\"]+)")


def _all_files(site: Path) -> set[str]:
    return {
        Path(here, name).relative_to(site).as_posix()
        for here, _dirs, names in os.walk(site)
        for name in names
    }


def unreferenced(site: Path) -> list[str]:
    """Every file of ``site`` that no page, stylesheet or script references."""
    files = _all_files(site)
    refs = page_references(site)
    scripts = ""
    for rel in files:
        text_file = rel.endswith((".css", ".js"))
        if not text_file:
            continue
        text = (site / rel).read_text(encoding="utf-8", errors="replace")
        if rel.endswith(".css"):
            for url in _CSS_URL.findall(text):
                if not url.startswith("data:"):
                    target = os.path.normpath(site / Path(rel).parent / unquote(url))
                    refs.add(Path(os.path.relpath(target, site)).as_posix())
        else:
            scripts += text
    for page in site.rglob("*.html"):  # the theme's config names its search worker
        scripts += page.read_text(encoding="utf-8", errors="replace")
    named = {rel for rel in files if Path(rel).name in scripts and "/" in rel}
    return sorted(files - refs - named - UNNAMED)


def test_every_file_of_the_site_is_referenced(real_report: Path) -> None:
    site = real_report / "site"
    files = _all_files(site)
    assert len(files) > 200  # the crawl saw the whole site
    assert unreferenced(site) == []
    assert not any(f.endswith("-strip.png") for f in files)  # the report keeps them (goldens)
    assert (real_report / "layers" / "layer4" / "units" / "0-strip.png").is_file()


def test_band_files_are_webp_photos_and_exact_palette_pngs(real_report: Path) -> None:
    units = real_report / "site" / "layers" / "layer4" / "units"
    html = (units / "0" / "index.html").read_text()
    assert 'src="../0-top.webp"' in html and 'src="../0-top.png"' in html
    with Image.open(units / "0-top.webp") as im:
        assert im.format == "WEBP" and im.size == (5 * 64 + 4 * 2, 64)
    # The gallery card shows that same row (it fits the card): no second copy as a thumbnail.
    assert 'src="units/0-top.webp"' in (units.parent / "index.html").read_text()
    assert not list(units.glob("*-thumb.webp"))
    with Image.open(units / "0-top.png") as im:
        assert im.format == "PNG" and im.mode == "P" and im.size == (5 * 64 + 4 * 2, 2 * 64 + 2)
    # Exact colours: the masks' PNG equals the full grid's segmentation and mask rows.
    with Image.open(real_report / "layers/layer4/units/0.png") as grid:
        rows = np.asarray(grid.convert("RGB").crop((0, 66, 5 * 64 + 8, 66 + 130)))
    with Image.open(units / "0-top.png") as masks:
        assert np.array_equal(np.asarray(masks.convert("RGB")), rows)


def test_a_budget_leaves_out_weak_bands_and_their_samples_and_says_so(
    real_report: Path, tmp_path: Path, capsys
) -> None:
    full = site_sizes(real_report / "site", 64)  # what `run` rendered, with no budget
    assert full.kinds["unit pages"] > 0 and full.total == sum(full.kinds.values())
    args = ["render", str(real_report), "--out", str(tmp_path / "small")]
    assert main([*args, "--max-site-mb", "0.5"]) == 0  # too small: every step is taken
    out = capsys.readouterr().out
    assert "unit pages" in out and "KB per unit" in out and "budget: " in out
    small = tmp_path / "small"
    assert sum(1 for _ in small.glob("layers/layer4/units/*-typical.webp")) == 0
    assert sum(1 for _ in small.glob("layers/layer4/units/*-top.webp")) > 0
    assert site_sizes(small, 64).total < full.total
    page = (small / "layers/layer4/units/0/index.html").read_text()
    assert "data-dr-budget" in page and "typical" in page and "only the top band" in page
    # 0.5 MB cannot be met (Paint alone is larger): no page claims it was
    assert "over its 0.5 MB budget" in page and "built within" not in page
    assert page.count('class="dr-tile-cap"') == 5  # the top band's tiles, each linked
    assert page.count('<a href="../../../../samples/') == 5
    pages = lambda root: sum(1 for _ in root.glob("samples/*/index.html"))  # noqa: E731
    assert 0 < pages(small) <= pages(real_report / "site")
    assert unreferenced(small) == []
    assert main([*args, "--max-site-mb", "0"]) == 2
    assert "must be a size above 0 MB" in capsys.readouterr().err

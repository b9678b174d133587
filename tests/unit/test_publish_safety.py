"""Safe to publish, safe to receive: what a site ships and what `serve` answers.

A report is received from others (zip and tar keep symbolic links) and its site is published;
nothing outside the report may reach the site, the site carries no absolute path of the
machine that made it, a damaged file is named instead of published, and `serve` answers only
regular files under the site to a local Host.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dissect_report.cli import main
from dissect_report.commands.serve import make_server
from dissect_report.render import render_site
from dissect_report.render.portable import portable_command, portable_path
from dissect_report.testing import SyntheticSpec, write_synthetic_report

SECRET = b"TOP-SECRET-OUTSIDE-THE-REPORT"


def _report(tmp_path: Path, **fields) -> Path:
    spec = SyntheticSpec(layers=("a",), units=3, concepts=("sky", "tree", "door"), **fields)
    return write_synthetic_report(tmp_path / "r", spec)


def _outside(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    for name in ("secret.png", "secret.csv", "deep/secret.png", "index.html"):
        (outside / name).write_bytes(SECRET)
    return outside


def _get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": host if host is not None else f"127.0.0.1:{port}"}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


@pytest.fixture
def serving() -> Iterator:
    servers = []

    def start(site: Path) -> int:
        server = make_server(site, 0)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _crawl(port: int) -> dict[str, bytes]:
    """Every page and file reachable by links from the index (local links only)."""
    seen: dict[str, bytes] = {}
    todo = ["/index.html"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        status, body = _get(port, path)
        seen[path] = body if status == 200 else b""
        if status != 200 or not path.endswith(".html"):
            continue
        base = path.rsplit("/", 1)[0]
        for ref in re.findall(rb'(?:src|href)="([^"#?:]+)', body):
            ref = ref.decode()
            target = os.path.normpath(f"{base}/{ref}" if not ref.startswith("/") else ref)
            if target.endswith("/"):
                target += "index.html"
            if os.path.isabs(target) and target not in seen and len(seen) < 400:
                todo.append(target)
    return seen


# --- 16: nothing from outside the report reaches the site ----------------------------------


def test_linked_directories_deep_in_a_report_are_skipped_and_a_crawl_finds_nothing_outside(
    tmp_path: Path, serving, caplog: pytest.LogCaptureFixture
) -> None:
    root, outside = _report(tmp_path), _outside(tmp_path)
    units = root / "layers" / "a" / "units"
    (units / "extra").symlink_to(outside, target_is_directory=True)
    (units / "leak.png").symlink_to(outside / "secret.png")
    (root / "samples").mkdir(exist_ok=True)
    (root / "samples" / "deep").mkdir()
    (root / "samples" / "deep" / "more").symlink_to(outside / "deep", target_is_directory=True)
    with caplog.at_level(logging.WARNING, logger="dissect_report.render.files"):
        site = render_site(root).site_dir
    warned = sorted(r.getMessage() for r in caplog.records)
    assert warned == [
        "not published: layers/a/units/extra is a symbolic link to outside the report",
        "not published: layers/a/units/leak.png is a symbolic link to outside the report",
        "not published: samples/deep/more is a symbolic link to outside the report",
    ]
    for path in site.rglob("*"):
        assert not path.is_symlink()
        if path.is_file():
            assert SECRET not in path.read_bytes(), path
    pages = _crawl(serving(site))
    assert len(pages) > 10 and not any(SECRET in body for body in pages.values())
    assert "leak.png" not in (site / "layers" / "a" / "index.html").read_text()


@pytest.mark.parametrize(
    "linked", ["samples", "layers/a", "layers/a/units", "layers/a/units.parquet", "manifest.json"]
)
def test_a_linked_directory_or_table_the_site_is_built_from_is_refused(
    tmp_path: Path, linked: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root, outside = _report(tmp_path), tmp_path / "elsewhere"
    (root / "samples").mkdir(exist_ok=True)
    path = root / linked
    os.replace(path, outside)  # the real thing moves out; the report keeps a link to it
    path.symlink_to(outside, target_is_directory=outside.is_dir())
    assert main(["-q", "render", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: report path {linked!r} is a symbolic link to outside the report; render "
        "publishes only files inside the report: copy the files in place of the link"
    ]
    assert not (root / "site").exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".site")]


def test_site_files_are_copies_so_editing_the_site_never_changes_the_report(
    tmp_path: Path,
) -> None:
    root = _report(tmp_path)
    site = render_site(root).site_dir
    report_png = root / "layers" / "a" / "units" / "1.png"
    site_png = site / "layers" / "a" / "units" / "1.png"
    assert site_png.read_bytes() == report_png.read_bytes()
    assert site_png.stat().st_ino != report_png.stat().st_ino
    before = (root / "manifest.json").read_bytes()
    with open(site / "manifest.json", "r+b") as f:  # an in-place edit, as a tool would do
        f.write(b"X")
    with open(site_png, "r+b") as f:
        f.write(b"X")
    assert (root / "manifest.json").read_bytes() == before
    assert report_png.read_bytes()[:1] != b"X"


# --- 18: no absolute path of the making machine in the site --------------------------------


def test_the_site_carries_paths_relative_to_the_report_or_file_names(tmp_path: Path) -> None:
    root = _report(tmp_path)
    home = "/home/alice/.venvs/gan/lib/python3.12/site-packages"
    m = json.loads((root / "manifest.json").read_text())
    m["command"] = f"dissect-report run --out {root} --weights={home}/w.safetensors -q"
    m["config"] |= {"weights": f"{home}/w.safetensors", "out": str(root)}
    m["model"] |= {"factory_file": f"{home}/gan/models.py", "weights": "/data/w.safetensors"}
    m["segmenter"] |= {"path": "C:\\Users\\alice\\seg", "factory_file": f"{root}/seg/x.py"}
    (root / "manifest.json").write_text(json.dumps(m))
    site = render_site(root).site_dir
    shipped = json.loads((site / "manifest.json").read_text())
    assert shipped["command"] == "dissect-report run --out . --weights=w.safetensors -q"
    assert shipped["model"]["factory_file"] == "models.py"
    assert shipped["model"]["weights"] == "w.safetensors"
    assert shipped["model"]["weights_sha256"] == m["model"]["weights_sha256"]
    assert shipped["config"]["out"] == "." and shipped["config"]["weights"] == "w.safetensors"
    assert shipped["segmenter"]["path"] == "seg"
    assert shipped["segmenter"]["factory_file"] == "seg/x.py"
    assert shipped["layers"] == m["layers"] and shipped["concepts"] == m["concepts"]
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".js", ".csv", ".xml"):
            text = path.read_text(encoding="utf-8", errors="replace")
            for needle in ("/home/alice", "/data/", "C:\\\\Users", str(tmp_path)):
                assert needle not in text, (path, needle)
    # The report itself keeps its paths: only what is published is made portable.
    assert json.loads((root / "manifest.json").read_text())["config"]["out"] == str(root)


def test_portable_paths() -> None:
    root = Path("/r/report")
    assert portable_path("/r/report/layers/a", root) == "layers/a"
    assert portable_path("/x/y/z.pt", root) == "z.pt" and portable_path("rel/p", root) == "rel/p"
    assert portable_path("~/w.pt", root) == "w.pt" and portable_path("/", root) == "/"
    assert portable_path("//cdn", root) == "//cdn"
    assert portable_command("run --out '/a b/c' x", root) == "run --out c x"


# --- 19: render checks what it ships -------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda r: _truncate(r / "layers" / "a" / "units" / "1-thumb.webp"),
            "damaged file in the report: 'layers/a/units/1-thumb.webp' (cannot be read as webp",
        ),
        (
            lambda r: _truncate(r / "layers" / "a" / "units" / "2.png"),
            "damaged file in the report: 'layers/a/units/2.png' (cannot be read as png",
        ),
        (
            lambda r: _truncate(r / "concepts" / "sky" / "ace.parquet"),
            "damaged file in the report: 'concepts/sky/ace.parquet' (cannot be read as parquet",
        ),
        (
            lambda r: _edit(r, samples={"count": -5, "seed": 1, "top_k": 3}),
            "corrupt manifest: samples.count is -5; it must be a whole number >= 0",
        ),
        (
            lambda r: _edit(r, layers=[{**_m(r)["layers"][0], "interpretable": 9}]),
            "corrupt manifest: layer 'a' has 3 units and 9 interpretable",
        ),
    ],
)
def test_render_names_a_damaged_file_instead_of_publishing_it(
    tmp_path: Path, damage, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _report(tmp_path, interventions=True)
    (root / "concepts" / "sky" / "ace.parquet").parent.mkdir(parents=True, exist_ok=True)
    damage(root)
    assert main(["-q", "render", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (root / "site").exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".site")]


def _m(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def _edit(root: Path, **values) -> None:
    (root / "manifest.json").write_text(json.dumps(_m(root) | values))


# --- 17: serve ------------------------------------------------------------------------------


def test_serve_answers_only_local_hosts_regular_files_inside_and_never_lists(
    tmp_path: Path, serving
) -> None:
    site, outside = tmp_path / "site", _outside(tmp_path)
    (site / "pages" / "empty").mkdir(parents=True)
    (site / "index.html").write_text("<p>hello</p>")
    (site / "pages" / "index.html").write_text("<p>page</p>")
    (site / "leak.png").symlink_to(outside / "secret.png")
    (site / "out").symlink_to(outside, target_is_directory=True)
    port = serving(site)
    assert _get(port, "/index.html") == (200, b"<p>hello</p>")
    assert _get(port, "/pages/") == (200, b"<p>page</p>")
    assert _get(port, "/index.html", host=f"localhost:{port}")[0] == 200
    for path in (
        "/leak.png",
        "/out/",
        "/out/secret.csv",
        "/out/deep/secret.png",
        "/pages/empty/",
        "/../outside/secret.png",
        "/%2e%2e/outside/secret.png",
        "/nothing",
    ):
        status, body = _get(port, path)
        assert status == 404 and SECRET not in body, path
    assert b"Directory listing" not in _get(port, "/pages/empty/")[1]
    for host in (
        "evil.example:80",
        f"evil.example:{port}",
        "127.0.0.1",
        "",
        f"127.0.0.1:{port + 1}",
    ):
        status, body = _get(port, "/index.html", host=host)
        assert status == 403 and b"hello" not in body, host

"""``dissect-report serve REPORT``: serve the report's site on localhost.

Usage::

    dissect-report serve report                      # http://127.0.0.1:8000/
    dissect-report serve report --port 8080
"""

from __future__ import annotations

import argparse
import functools
import io
import logging
import os
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

from dissect_report.errors import UserError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a report's site on 127.0.0.1",
        description="Serve REPORT/site over HTTP on 127.0.0.1 only (never other interfaces), "
        "rendering it first when it is missing. Stop with Ctrl-C.",
    )
    p.add_argument("report", type=Path, help="report directory (must have manifest.json)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 = any free)")
    p.set_defaults(func=handler)


class _SiteHandler(SimpleHTTPRequestHandler):
    """Regular files under the resolved site, to a local Host only; no listings, no links out.

    A page in another tab can point a name at 127.0.0.1 (DNS rebinding): only requests whose
    ``Host`` is ``127.0.0.1:PORT`` or ``localhost:PORT`` are answered. A path that resolves
    outside the site (a symbolic link), a directory without ``index.html``, or anything that
    is not a regular file is a 404.
    """

    root: Path = Path()
    hosts: frozenset[str] = frozenset()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        log.debug("%s " + format, self.address_string(), *args)

    def send_head(self) -> io.BytesIO | BinaryIO | None:  # the stdlib's signature
        """Refuse a foreign Host and any path that is not a regular file inside the site."""
        if (self.headers.get("Host") or "").lower() not in self.hosts:
            self.send_error(HTTPStatus.FORBIDDEN, "unknown Host (serve answers 127.0.0.1 only)")
            return None
        target = Path(self.translate_path(self.path))
        if target.is_dir() and target.resolve().is_relative_to(self.root):
            if not self.path.split("?", 1)[0].split("#", 1)[0].endswith("/"):
                return super().send_head()  # the stdlib's redirect to the trailing slash
            target = target / "index.html"
        if not _served(self.root, target):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        return super().send_head()

    def list_directory(self, path: str | os.PathLike[str]) -> io.BytesIO | None:
        """Never list a directory."""
        self.send_error(HTTPStatus.NOT_FOUND, "File not found")
        return None


def _served(root: Path, target: Path) -> bool:
    """True when ``target`` is a regular file whose resolved path lies inside ``root``."""
    try:
        real = target.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return real.is_relative_to(root) and real.is_file()


def make_server(site: Path, port: int) -> ThreadingHTTPServer:
    """An HTTP server for ``site`` bound to 127.0.0.1:``port`` (not started)."""
    root = Path(site).resolve()
    handler_class: type[_SiteHandler] = type("SiteHandler", (_SiteHandler,), {"root": root})
    handler = functools.partial(handler_class, directory=str(root))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
    bound = server.server_address[1]
    handler_class.hosts = frozenset(f"{name}:{bound}" for name in ("127.0.0.1", "localhost"))
    return server


def handler(args: argparse.Namespace) -> int:
    from dissect_report.render import render_site
    from dissect_report.reportdir.read import read_manifest

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a TCP port (0..65535)")
    read_manifest(args.report)  # a clear error before anything else
    site = args.report / "site"
    if not (site / "index.html").is_file():
        log.info("no site yet; rendering %s", site)
        render_site(args.report)
    server = make_server(site, args.port)
    port = server.server_address[1]  # bound to 127.0.0.1 (make_server)
    print(f"serving {site} at http://127.0.0.1:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

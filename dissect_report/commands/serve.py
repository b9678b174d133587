"""``dissect-report serve REPORT``: serve the report's site on localhost.

Usage::

    dissect-report serve report                      # http://127.0.0.1:8000/
    dissect-report serve report --port 8080
"""

from __future__ import annotations

import argparse
import functools
import logging
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        log.debug("%s " + format, self.address_string(), *args)


def make_server(site: Path, port: int) -> ThreadingHTTPServer:
    """An HTTP server for ``site`` bound to 127.0.0.1:``port`` (not started)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    try:
        return ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc


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
    host, port = server.server_address[:2]
    print(f"serving {site} at http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

"""Browser fixtures: Debian's Chromium driven by Playwright, offline, watching every request.

Locally these tests skip when Debian's chromium is missing; in CI (CI=true) they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _require_chromium() -> None:
    if Path(CHROMIUM).is_file() and shutil.which(CHROMIUM):
        return
    message = f"headless Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


class Watch:
    """Everything the page did that a test must look at: requests, errors, dialogs."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser) -> Iterator[tuple[object, Watch]]:
    watch = Watch()
    context = browser.new_context(offline=True)

    def route(r) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            watch.blocked.append(url)
            r.abort()

    context.route("**/*", route)
    p = context.new_page()
    p.on("request", lambda req: watch.requests.append(req.url))
    p.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda exc: watch.errors.append(str(exc)))

    def on_dialog(d) -> None:
        watch.dialogs.append(d.message)
        d.dismiss()

    p.on("dialog", on_dialog)
    try:
        yield p, watch
    finally:
        context.close()
    assert not watch.blocked, f"requests left the machine: {watch.blocked}"
    assert all(u.startswith(("file:", "data:", "blob:", "about:")) for u in watch.requests)
    assert not watch.errors, f"console errors: {watch.errors}"
    assert not watch.dialogs, f"a script ran: {watch.dialogs}"

"""Fixtures shared by the test tiers."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report (and its site) made by ``dissect-report run`` on the built-in world."""
    from realreport import make_real_report  # tests/ is on sys.path (this conftest)

    return make_real_report(tmp_path_factory.mktemp("real") / "report")

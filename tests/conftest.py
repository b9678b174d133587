"""Fixtures shared by the test tiers."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Under ``-n N`` (xdist's default ``--dist load``), keep each ``xdist_group`` on one
    worker (``loadgroup``): tests/integration/test_ray_cluster.py's tests share one Ray
    cluster, and two workers each starting one would double the load for nothing."""
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"


@pytest.fixture(scope="session")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report (and its site) made by ``dissect-report run`` on the built-in world."""
    from realreport import make_real_report  # tests/ is on sys.path (this conftest)

    return make_real_report(tmp_path_factory.mktemp("real") / "report")

"""Fixtures shared by the test tiers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Under ``-n N`` (xdist's default ``--dist load``), keep each ``xdist_group`` on one
    worker (``loadgroup``): tests/integration/test_ray_cluster.py's tests share one Ray
    cluster, and two workers each starting one would double the load for nothing."""
    if getattr(config.option, "dist", "no") == "load":  # the controller: its scheduler
        config.option.dist = "loadgroup"
    if getattr(config, "workerinput", {}).get("loadgroup"):  # a worker: the group in test ids
        config.option.loadgroup = True


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each xdist worker that the controller switched to ``loadgroup``."""
    node.workerinput["loadgroup"] = node.config.getoption("dist") == "loadgroup"


@pytest.fixture(scope="session")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report (and its site) made by ``dissect-report run`` on the built-in world."""
    from realreport import make_real_report  # tests/ is on sys.path (this conftest)

    return make_real_report(tmp_path_factory.mktemp("real") / "report")

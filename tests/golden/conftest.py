"""Golden-report tests: make the ``dissect_golden`` fixture, ``--update-golden`` and the
golden summary available even where dissect-report is not pip-installed (installed, its
pytest11 plugin provides them; the hooks are idempotent, so both may run).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/dissect_toys.py

from dissect_report.pytest_plugin import (  # noqa: E402, F401
    dissect_golden,  # noqa: E402, F401
    pytest_collection_modifyitems,
    pytest_configure,
)
from dissect_report.pytest_plugin import pytest_addoption as _plugin_addoption  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    with contextlib.suppress(ValueError):  # the installed plugin added --update-golden
        _plugin_addoption(parser)

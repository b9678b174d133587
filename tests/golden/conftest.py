"""Golden-report tests: make the ``dissect_golden`` fixture and ``--update-golden`` available
even where dissect-report is not pip-installed (installed, its pytest11 plugin provides both).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/dissect_toys.py

from dissect_report.pytest_plugin import dissect_golden  # noqa: E402, F401
from dissect_report.pytest_plugin import pytest_addoption as _plugin_addoption  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    with contextlib.suppress(ValueError):  # the installed plugin added --update-golden
        _plugin_addoption(parser)

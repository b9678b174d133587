"""The report lock: a lock file that cannot be made is no other writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from dissect_report.errors import ReportError, ReportLocked
from dissect_report.outlock import locked


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_uncreatable_lock_file_is_not_called_another_writer() -> None:
    # /proc refuses new files even to root, so filelock only ever times out there
    with pytest.raises(ReportError) as info, locked("/proc/dissect-report-test-out", "test"):
        pass
    assert not isinstance(info.value, ReportLocked)
    message = str(info.value)
    assert "cannot create its lock file" in message and "another process" not in message
    assert "\n" not in message


def test_second_holder_is_refused(tmp_path: Path) -> None:
    refused = pytest.raises(ReportLocked, match="is being written by pid")
    with locked(tmp_path / "report", "first"), refused, locked(tmp_path / "report", "second"):
        pass
    with locked(tmp_path / "report", "third"):  # released: free again
        pass

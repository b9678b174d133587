"""The collection site's command line: what it refuses, in one line, before building anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from dissect_report.cli import main
from dissect_report.render.collection import read_collection
from dissect_report.testing import write_synthetic_report


def test_collection_needs_an_out_and_no_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_synthetic_report(tmp_path / "a", layers={"l": 2})
    b = write_synthetic_report(tmp_path / "b", layers={"l": 2})
    assert main(["render", str(a), str(b)]) == 2
    assert "needs --out" in capsys.readouterr().err
    out = ["--out", str(tmp_path / "site")]
    assert main(["render", str(a), str(b), *out, "--baseline", str(a)]) == 2
    assert "--baseline renders one report" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


def test_collection_toml_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    toml = tmp_path / "sub" / "collection.toml"
    toml.parent.mkdir()
    toml.write_text(
        'out = "site"\nordered = true\n[[reports]]\npath = "../a"\n'
        '[[reports]]\npath = "b"\nname = "late"\n'
    )
    found = read_collection(toml)
    assert found.reports == (toml.parent / "../a", toml.parent / "b")
    assert found.names == ("a", "late") and found.ordered and found.out == toml.parent / "site"
    toml.write_text('[[reports]]\npath = "a"\n')
    with pytest.raises(Exception, match="two or more"):
        read_collection(toml)

"""The public Python API: lazy, cheap to import, and its verbs are functions."""

from __future__ import annotations

import subprocess
import sys
import types

import dissect_report as dr


def test_verbs_stay_functions_after_their_modules_are_imported():
    import dissect_report.artifacts
    import dissect_report.dissection.stage
    import dissect_report.interventions
    import dissect_report.render  # noqa: F401

    for name in (
        "dissect",
        "merge_shards",
        "intervene",
        "find_artifacts",
        "render_site",
        "compare_reports",
        "build_paint",
    ):
        assert isinstance(getattr(dr, name), types.FunctionType), name
    assert dr.DissectConfig().samples > 0


def test_import_does_not_load_torch():
    code = "import sys, dissect_report; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


LAZY_PACKAGES = ("dissect_report", "dissect_report.dissection", "dissect_report.interventions")
LAZY_PACKAGES += ("dissect_report.artifacts", "dissect_report.paint", "dissect_report.world")
LAZY_PACKAGES += ("dissect_report.render",)


def test_dir_lists_the_public_api_and_every_name_resolves():
    import importlib

    for name in LAZY_PACKAGES:
        package = importlib.import_module(name)
        assert dir(package) == sorted(package.__all__), name
        for public in package.__all__:
            assert getattr(package, public) is not None, f"{name}.{public}"
    assert "open_report" in dir(dr) and "importlib" not in dir(dr) and "Any" not in dir(dr)
    assert isinstance(dr.world, types.ModuleType)


def test_type_checkers_see_the_lazy_names():
    """Every lazily exported name is also imported under TYPE_CHECKING (so it is not Any)."""
    import ast
    import importlib
    from pathlib import Path

    for name in LAZY_PACKAGES:
        path = Path(importlib.import_module(name).__file__)
        tree = ast.parse(path.read_text())
        seen = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                seen.update(a.asname or a.name for a in node.names)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                seen.update(t.id for t in targets if isinstance(t, ast.Name))
        missing = set(importlib.import_module(name).__all__) - seen
        assert not missing, f"{name}: {sorted(missing)} not imported under TYPE_CHECKING"


def test_one_lazy_import_helper():
    """No package __init__ keeps its own import machinery: dissect_report.lazy serves them all."""
    from pathlib import Path

    root = Path(dr.__file__).parent
    for init in root.rglob("__init__.py"):
        assert "importlib" not in init.read_text(), init

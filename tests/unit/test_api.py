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

"""Test support: synthetic report directories for tests and benchmarks (not used by any stage).

Usage::

    from dissect_report.testing import SyntheticSpec, edit_units, write_synthetic_report
    golden = write_synthetic_report(tmp_path / "golden", layers={"layer1": 4, "layer2": 6})
    site_report = write_synthetic_report(tmp_path / "r", SyntheticSpec(units=16, artifacts=True))
    edit_units(golden, "layer2", 3, concept="door", iou=0.31)   # plant a label change

Every file goes through the real writer (:mod:`dissect_report.reportdir`), with the table
columns of :mod:`dissect_report.reportdir.schema` and a manifest validated against its model,
so a synthetic report cannot drift from what the pipeline writes.
"""

from dissect_report.testing.edits import drop_units, edit_iou, edit_manifest, edit_units
from dissect_report.testing.synthetic import SyntheticSpec, unit_images, write_synthetic_report

__all__ = [
    "SyntheticSpec",
    "drop_units",
    "edit_iou",
    "edit_manifest",
    "edit_units",
    "unit_images",
    "write_synthetic_report",
]

"""Each labelled unit's own ablation effect, on the planted world (tests/unit/test_intervene_toys.py).

There grass, building and door each come from one unit only (so switching it off removes all
of its concept), tree from two (unit 3 alone removes only what unit 4 does not also cover),
and unit 5 is not interpretable (IoU 0.01), so it gets no row.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_intervene_stage import SMALL
from test_intervene_toys import (
    CONCEPTS,
    REGIONS,
    PaletteSegmenter,
    PlantedGenerator,
    write_report,
)

from dissect_report.interventions import InterventionConfig, intervene
from dissect_report.models import Models
from dissect_report.sampler import latents


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_report(tmp_path_factory.mktemp("own"))
    models = Models.from_modules(generator=PlantedGenerator(), segmenter=PaletteSegmenter())
    config = InterventionConfig(**{**SMALL, "optimize_steps": 0, "unit_samples": 24})
    intervene(config, root, models=models)
    return root


def test_each_labelled_unit_ablated_alone(report: Path) -> None:
    rows = {r["unit"]: r for r in pq.read_table(report / "concepts/units.parquet").to_pylist()}
    assert sorted(rows) == [0, 1, 2, 3, 4]  # unit 5 (IoU 0.01) is not labelled
    assert {u: rows[u]["concept"] for u in rows} == {
        0: "grass", 1: "building", 2: "door", 3: "tree", 4: "tree"
    }  # fmt: skip
    for u in (0, 1, 2):  # the only unit drawing its concept: all of it goes
        assert rows[u]["share"] == pytest.approx(1.0) and rows[u]["erased"] == pytest.approx(1.0)
        assert rows[u]["fraction_after"] == 0.0 and rows[u]["samples"] == 24

    # Tree by hand: unit 3 draws image columns 10-13, unit 4 columns 14-15 (layer columns x2);
    # switching unit 3 off leaves exactly the tree pixels of columns 14-15.
    z = latents(2, range(24), 6)  # the held-out seed (dissection seed 1 + 1), first 24 samples
    labels = PaletteSegmenter().segment(PlantedGenerator()(z))
    tree = CONCEPTS.index("tree")
    before = int((labels == tree).sum())
    cols4 = REGIONS[4][1]
    kept = int((labels[:, :, 2 * cols4.start : 2 * cols4.stop] == tree).sum())
    assert before > kept > 0
    assert rows[3]["share"] == pytest.approx((before - kept) / before)
    assert rows[3]["fraction_before"] == pytest.approx(before / labels.numel())
    # Unit 4 (column 7) never overlaps unit 3 (columns 5-6): it removes exactly its own pixels.
    assert rows[4]["share"] == pytest.approx(kept / before)

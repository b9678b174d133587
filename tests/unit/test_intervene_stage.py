"""The intervention stage on the planted world, where every number can be worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from test_intervene_toys import (
    CONCEPTS,
    REGIONS,
    PaletteSegmenter,
    PlantedGenerator,
    write_report,
)

from dissect_report.errors import ConfigError
from dissect_report.interventions import InterventionConfig, intervene
from dissect_report.interventions.heldout import heldout_pass
from dissect_report.interventions.insertion import SUCCESS, insertion_sites
from dissect_report.models import Models
from dissect_report.sampler import latents

SMALL = dict(
    max_concepts=4,
    samples=40,
    max_units=2,
    random_trials=2,
    insert_samples=12,
    grid=4,
    patch=2,
    compare_samples=2,
    optimize_steps=25,
    optimize_batch=8,
    lr=0.1,
)


def _models() -> Models:
    return Models.from_modules(generator=PlantedGenerator(), segmenter=PaletteSegmenter())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    report = write_report(tmp_path_factory.mktemp("planted"))
    result = intervene(InterventionConfig(**SMALL, batch_size=7), report, models=_models())
    return report, result


def _original_labels(seed: int, count: int) -> torch.Tensor:
    gen, seg = PlantedGenerator(), PaletteSegmenter()
    return seg.segment(gen(latents(seed, range(count), 6)))


def test_ablating_the_planted_unit_removes_its_concept_exactly(run: tuple[Path, object]) -> None:
    report, result = run
    assert result.layer == "layer" and result.seed == 2  # dissection seed 1 + 1
    labels = _original_labels(2, 40)
    pixels = labels[0].numel() * 40
    tree, door = CONCEPTS.index("tree"), CONCEPTS.index("door")
    ace = pq.read_table(report / "concepts" / "tree" / "ace.parquet").to_pylist()
    iou = {r["n"]: r for r in ace if r["method"] == "iou"}
    assert iou[1]["units"] == [3] and iou[2]["units"] == [3, 4]
    rows, cols = REGIONS[3]
    region3 = labels[:, rows.start * 2 : rows.stop * 2, cols.start * 2 : cols.stop * 2]
    assert iou[1]["ace"] * pixels == pytest.approx(float((region3 == tree).sum()))
    # Nothing new shows tree, so the erased share is the net share.
    assert iou[1]["erased"] == pytest.approx(
        float((region3 == tree).sum() / (labels == tree).sum())
    )
    assert iou[1]["erased"] == pytest.approx(iou[1]["share"])
    assert iou[2]["fraction_after"] == 0.0  # both tree units off: no tree at all
    assert iou[2]["share"] == 1.0
    assert iou[2]["fraction_before"] == pytest.approx(float((labels == tree).sum()) / pixels)
    door_rows = pq.read_table(report / "concepts" / "door" / "ace.parquet").to_pylist()
    assert [r["fraction_after"] for r in door_rows if r["method"] == "iou"] == [0.0]
    assert door_rows[0]["fraction_before"] == pytest.approx(float((labels == door).sum()) / pixels)


def test_random_control_and_index(run: tuple[Path, object]) -> None:
    report, result = run
    index = {
        r["concept"]: r for r in pq.read_table(report / "concepts" / "index.parquet").to_pylist()
    }
    assert set(index) == {"grass", "building", "door", "tree"}  # sky's unit is not interpretable
    for row in index.values():
        assert row["share"] == 1.0  # every planted concept disappears with its units
        assert row["erased"] == 1.0
        assert row["share_random"] < row["share"]
        assert row["erased_random"] < row["erased"]
        assert row["share_all"] == 1.0  # the layer off: only the background is left
    assert (
        json.loads((report / "concepts" / "tree" / "ace.json").read_text())["all"]
        == (index["tree"]["ace_all"])
    )
    assert index["tree"]["top_units"] == [3, 4] and index["tree"]["n_max"] == 2
    assert (report / "concepts" / "index.csv").read_text().startswith('"concept","slug","layer"')


def test_insertion_adds_doors_on_buildings_only(run: tuple[Path, object]) -> None:
    report, _ = run
    index = {
        r["concept"]: r for r in pq.read_table(report / "concepts" / "index.parquet").to_pylist()
    }
    method = index["door"]["insert_method"]
    rows = {
        r["context"]: r
        for r in pq.read_table(report / "concepts" / "door" / "insertion.parquet").to_pylist()
        if r["method"] == method
    }
    assert rows["building"]["added"] == pytest.approx(1.0)  # the whole patch becomes door
    assert rows["building"]["success"] == 1.0
    assert rows["sky"]["added"] == 0.0 and rows["sky"]["success"] == 0.0
    assert rows["sky"]["sites"] > rows["building"]["sites"]
    sites = pq.read_table(report / "concepts" / "door" / "insertion_sites.parquet").to_pylist()
    sites = [s for s in sites if s["method"] == method]
    assert sum(s["context"] == "building" for s in sites) == rows["building"]["sites"]
    assert {(s["row"], s["col"]) for s in sites if s["context"] == "building"} <= {
        (2, 0),
        (2, 2),
        (4, 0),
        (4, 2),
    }  # building


def test_the_inserted_set_is_the_measured_set(run: tuple[Path, object]) -> None:
    """Insertion forces on the candidate that measured best on the selection samples, and the
    held-out numbers are that set's and the IoU-top set's, at the same sites."""
    report, result = run
    models = _models()
    held = heldout_pass(models, "layer", 2, 40, 7)
    index = {
        r["concept"]: r for r in pq.read_table(report / "concepts" / "index.parquet").to_pylist()
    }
    for c in result.concepts:
        choice = c.choice
        assert choice is not None and choice.tried  # every candidate was measured
        mine = [t for t in choice.tried if (t[0], t[1]) == (choice.method, len(choice.units))]
        assert mine and mine[0][2] == max(t[2] for t in choice.tried)  # the best success
        row = index[c.concept]
        assert tuple(row["insert_units"]) == choice.units and row["insert_method"] == choice.method
        if choice.method == "optimized":
            alpha = c.alpha
            assert alpha is not None
            assert (
                list(choice.units)
                == sorted(range(len(alpha)), key=lambda u: (-alpha[u], u))[: len(choice.units)]
            )
        else:
            assert choice.units == tuple(row["top_units"])
        k = CONCEPTS.index(c.concept)
        level = held.levels("quantile", k)
        for units, success in ((choice.units, row["insert_success"]),
                               (row["top_units"], row["insert_success_iou"])):  # fmt: skip
            sites = insertion_sites(models, "layer", held, k, units, level, 12, 4, 2, 7)
            assert success == pytest.approx(np.mean([s.added >= SUCCESS for s in sites]))


def test_optimized_alpha_finds_the_planted_units(run: tuple[Path, object]) -> None:
    report, _ = run
    opt = pq.read_table(report / "concepts" / "tree" / "optimized.parquet").to_pylist()
    assert {opt[0]["unit"], opt[1]["unit"]} == {3, 4}
    assert opt[0]["rank"] == 1 and all(0.0 <= r["alpha"] <= 1.0 for r in opt)
    assert opt[2]["alpha"] < opt[1]["alpha"]
    index = {
        r["concept"]: r for r in pq.read_table(report / "concepts" / "index.parquet").to_pylist()
    }
    assert index["tree"]["share_optimized"] == 1.0


def test_files_pictures_and_manifest(run: tuple[Path, object]) -> None:
    report, _ = run
    d = report / "concepts" / "tree"
    for name in ("ace.parquet", "ace.json", "ace.svg", "insertion.parquet", "compare.png"):
        assert (d / name).is_file(), name
    curve = json.loads((d / "ace.json").read_text())
    assert curve["n"] == [1, 2] and curve["iou"][-1] == pytest.approx(curve["fraction"])
    assert (d / "ace.svg").read_text().startswith("<svg")
    with Image.open(d / "compare.png") as im:
        assert im.size == (3 * 32 + 2 * 4, 2 * 32 + 4)  # 2 samples x (original|ablated|inserted)
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["sections"]["interventions"] is True
    assert manifest["interventions"]["layer"] == "layer" and manifest["interventions"]["seed"] == 2
    assert (
        manifest["interventions"]["concepts"] == ["building", "door", "grass", "tree"][:0]
        or len(manifest["interventions"]["concepts"]) == 4
    )
    assert "intervene_s" in manifest["timings"]
    assert not list(report.rglob("*.tmp"))


def test_results_do_not_depend_on_batch_size(run: tuple[Path, object], tmp_path: Path) -> None:
    report, _ = run
    other = write_report(tmp_path / "b")
    intervene(InterventionConfig(**SMALL, batch_size=64), other, models=_models())
    for rel in (
        "index.parquet",
        "tree/ace.parquet",
        "door/insertion_sites.parquet",
        "tree/optimized.parquet",
    ):
        a = (report / "concepts" / rel).read_bytes()
        assert a == (other / "concepts" / rel).read_bytes(), rel
    assert (report / "concepts/tree/compare.png").read_bytes() == (
        other / "concepts/tree/compare.png"
    ).read_bytes()


def test_bad_settings_are_user_errors(tmp_path: Path) -> None:
    report = write_report(tmp_path)
    zero_sky = write_report(tmp_path / "zero-sky", units={5: ("sky", 0.0), 3: ("tree", 0.5)})
    with pytest.raises(ConfigError, match="'sky' has no unit with IoU > 0 in layer 'layer'"):
        intervene(InterventionConfig(concepts=("sky",)), zero_sky, models=_models())
    with pytest.raises(ConfigError, match="unknown concept 'cat'"):
        intervene(InterventionConfig(concepts=("cat",)), report, models=_models())
    with pytest.raises(ConfigError, match="'layer9' was not dissected"):
        intervene(InterventionConfig(layer="layer9"), report, models=_models())
    with pytest.raises(ConfigError, match="seed 1 equals the dissection seed"):
        intervene(InterventionConfig(seed=1), report, models=_models())
    with pytest.raises(ConfigError, match="insert level 'max'"):
        InterventionConfig(insert_level="max")


def test_levels_are_per_unit_quantiles_of_held_out_activations() -> None:
    from dissect_report.interventions.heldout import heldout_pass

    held = heldout_pass(_models(), "layer", seed=5, count=30, batch_size=8, quantile=0.5)
    acts = PlantedGenerator().layer(latents(5, range(30), 6))
    expect = np.quantile(acts.permute(1, 0, 2, 3).reshape(6, -1).double().numpy(), 0.5, axis=1)
    assert np.allclose(held.quantile, expect)
    door, building = CONCEPTS.index("door"), CONCEPTS.index("building")
    assert held.concept_mean[door, 2] > 0.5  # the door unit is high where doors are
    assert held.levels("concept_mean", building)[1] == pytest.approx(held.concept_mean[building, 1])


def test_top_units_rank_every_unit_by_iou_with_the_concept(tmp_path: Path) -> None:
    from dissect_report.interventions.stage import ranked_units, unit_ious
    from dissect_report.reportdir.report import open_report

    report = write_report(
        tmp_path, units={0: ("sky", 0.30), 1: ("tree", 0.2), 2: ("sky", 0.5), 3: ("sky", 0.2)}
    )
    ious, source = unit_ious(open_report(report), "layer", CONCEPTS, 6)  # no stats.npz here
    assert source == "iou.parquet"
    tree, sky = CONCEPTS.index("tree"), CONCEPTS.index("sky")
    ious[0, tree] = 0.10  # unit 0 is labeled sky (its best concept) but has tree IoU 0.10
    assert ranked_units(ious[:, tree], [(1, 0.2)]) == [1, 0]
    assert ranked_units(ious[:, sky], []) == [2, 0, 3]
    none = np.full(6, np.nan)  # no IoU at all: the units labeled with the concept
    assert ranked_units(none, [(1, 0.2)]) == [1]


def test_top_units_rank_by_each_concepts_own_threshold_from_stats(tmp_path: Path) -> None:
    """With stats.npz, a unit covering a large concept at a low level outranks a sparse one.

    Unit 0 is high (2.0) on a small corner of sky only; unit 1 is moderate (1.0) on all of
    sky; at each unit's own best threshold for sky, unit 1 covers the whole sky (IoU 1).
    """
    from dissect_report.dissection.stats import LayerStats, calibrate_edges
    from dissect_report.dissection.thresholds import score_units, tied
    from dissect_report.interventions.stage import ranked_units, unit_ious
    from dissect_report.reportdir.report import open_report
    from dissect_report.reportdir.write import write_stats

    sky = CONCEPTS.index("sky")
    labels = torch.full((4, 8, 8), CONCEPTS.index("grass"), dtype=torch.int64)
    labels[:, :4] = sky  # the top half is sky
    acts = torch.zeros(4, 6, 8, 8)
    acts[:, 0, :1, :2] = 2.0
    acts[:, 1, :4] = 1.0
    acts[:, 2:] = torch.rand(4, 4, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.1
    acc = LayerStats(calibrate_edges(acts, 64, 0.0), len(CONCEPTS), 2)
    acc.add(acts, labels, torch.arange(4))
    report = write_report(tmp_path)
    write_stats(report / "layers" / "layer" / "stats.npz", acc.state())
    single = score_units(acc.state(), "quantile", 0.9)
    # Unit 1 is tied at 1.0 over all of sky: its top-10% edge would hold no pixel, so the
    # quantile keeps its tied bin (thresholds.tied; before, an empty mask gave it IoU 0 and
    # the sparse unit 0 ranked first). The ranking below uses each unit's own threshold.
    assert tied(acc.state().unit_hist, single.bin, 0.9)[1]
    ious, source = unit_ious(open_report(report), "layer", CONCEPTS, 6)
    assert source == "stats"
    assert ious[1, sky] == pytest.approx(1.0)
    assert ranked_units(ious[:, sky], [])[0] == 1

"""Artifact units on the planted world: unit 5 writes a checkerboard into the sky when active."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from test_intervene_toys import (
    PaletteSegmenter,
    PlantedGenerator,
    RoughnessDiscriminator,
    toy_features,
    write_report,
)

from dissect_report.artifacts import ArtifactConfig, find_artifacts
from dissect_report.errors import ConfigError
from dissect_report.interventions import ModelBundle
from dissect_report.metrics import frechet_distance
from dissect_report.sampler import latents


def clean_reference(seed: int, ids: Sequence[int]) -> torch.Tensor:
    """'Real' images: the planted world without the noise unit."""
    with torch.no_grad():
        return PlantedGenerator(noise=False)(latents(seed + 1000, list(ids), 6))


def _models(discriminator: bool = True) -> ModelBundle:
    return ModelBundle(
        generator=PlantedGenerator(noise=True),
        segmenter=PaletteSegmenter(),
        discriminator=RoughnessDiscriminator() if discriminator else None,
        features=toy_features,
        reference=clean_reference,
    )


SMALL = dict(
    samples=48,
    repair_samples=40,
    reference_samples=64,
    top_k=6,
    repair_units=1,
    show_units=3,
    worst_samples=3,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    report = write_report(tmp_path_factory.mktemp("artifacts"))
    return report, find_artifacts(ArtifactConfig(**SMALL, batch_size=5), report, models=_models())


def test_the_noise_unit_ranks_worst_and_is_repaired(run: tuple[Path, object]) -> None:
    report, result = run
    assert result.layer == "layer"
    rows = pq.read_table(report / "artifacts" / "units.parquet").to_pylist()
    assert rows[0]["unit"] == 5 and rows[0]["rank"] == 1 and rows[0]["repaired"]
    assert [r["rank"] for r in rows] == list(range(1, 7))
    assert rows[0]["realism"] == min(r["realism"] for r in rows)
    assert rows[0]["fsd"] == max(r["fsd"] for r in rows)
    assert rows[0]["concept"] == "sky" and not any(r["repaired"] for r in rows[1:])
    repair = {
        r["metric"]: r for r in pq.read_table(report / "artifacts" / "repair.parquet").to_pylist()
    }
    z = latents(4, range(40), 6)  # repair seed = dissection seed 1 + 3
    z[:, 5] = 0.0  # ablating unit 5 = its latent switched off
    with torch.no_grad():
        clean = RoughnessDiscriminator()(PlantedGenerator(noise=True)(z))
    assert repair["realism"]["improved"]
    assert repair["realism"]["after"] == pytest.approx(float(clean.double().mean()), rel=1e-6)
    assert repair["fsd"]["improved"] and repair["fsd"]["after"] < 0.5 * repair["fsd"]["before"]
    # FSD of the 40 repair samples against reference_samples (64) real images of the repair seed.
    with torch.no_grad():
        unedited = toy_features(PlantedGenerator(noise=True)(latents(4, range(40), 6)))
    real = toy_features(clean_reference(4, range(64)))
    expect = frechet_distance(unedited.double().numpy(), real.double().numpy())
    assert repair["fsd"]["before"] == pytest.approx(expect, rel=1e-9)


def test_only_units_whose_ablation_helps_are_repaired(tmp_path: Path) -> None:
    # Every unit is screened (ablated alone); the repair keeps only units whose ablation makes
    # the scoring samples closer to the real (clean) images, on both halves of them.
    report = write_report(tmp_path)
    config = ArtifactConfig(**{**SMALL, "repair_units": 6}, candidates=6)
    result = find_artifacts(config, report, models=_models())
    assert result.metric == "fsd"  # the planted world has real images
    rows = {r["unit"]: r for r in pq.read_table(report / "artifacts" / "units.parquet").to_pylist()}
    gains = {
        u: r["ablation_gain"] for u, r in rows.items() if r["ablation_gain"] == r["ablation_gain"]
    }
    assert max(gains, key=gains.get) == 5  # the noise unit's ablation helps most
    assert result.repair.units[0] == 5
    saved = json.loads((report / "artifacts" / "repair.json").read_text())
    for u, r in rows.items():
        halves = (r["ablation_gain"], r["ablation_gain_even"], r["ablation_gain_odd"])
        if not r["ablation_gain_even"] > 0.0:  # failed the first half: measured no further
            assert np.isnan(r["ablation_gain"]) and np.isnan(r["ablation_gain_odd"])
        assert (u in saved["confirmed"]) == (min(halves) > 0.0)
        assert r["repaired"] == (u in result.repair.units)
    assert saved["metric"] == "fsd" and len(saved["candidates"]) == 6
    steps = saved["greedy"]
    assert steps[0]["unit"] == 5 and steps[0]["kept"]
    # While the noise unit is on, removing trees or buildings also smooths the images, so they
    # pass the screen alone; with unit 5 off they only hurt, and the greedy set rejects them.
    assert {3, 1} <= set(saved["confirmed"])
    assert all(not st["kept"] for st in steps if st["unit"] in (1, 3))
    kept = [st["fsd"] for st in steps if st["kept"]]
    assert kept == sorted(kept, reverse=True)  # every kept unit lowers the FSD further
    # The greedy step's FSD is the screen's measurement of unit 5 alone, on the scoring samples.
    clean = clean_reference(3, range(64))  # reference_samples real images of the score seed
    z = latents(3, range(48), 6)
    z[:, 5] = 0.0  # ablating unit 5 = its latent switched off
    with torch.no_grad():
        ablated = PlantedGenerator(noise=True)(z)
    expect = frechet_distance(
        toy_features(ablated).double().numpy(), toy_features(clean).double().numpy()
    )
    assert saved["greedy"][0]["fsd"] == pytest.approx(expect, rel=1e-9)


def test_the_realism_metric_repairs_by_the_discriminator(tmp_path: Path) -> None:
    report = write_report(tmp_path)
    result = find_artifacts(ArtifactConfig(**SMALL, metric="realism"), report, models=_models())
    assert result.metric == "realism" and result.repair.units == [5]
    assert result.repair.realism_after > result.repair.realism_before
    assert json.loads((report / "manifest.json").read_text())["artifacts"]["metric"] == "realism"
    bare = ModelBundle(generator=PlantedGenerator(noise=True), segmenter=PaletteSegmenter())
    with pytest.raises(ConfigError, match="metric 'fsd' needs real images"):
        find_artifacts(ArtifactConfig(**SMALL, metric="fsd"), report, models=bare)
    with pytest.raises(ConfigError, match="unknown metric 'fid'"):
        ArtifactConfig(metric="fid")


def test_no_unit_is_repaired_when_no_ablation_helps_enough(tmp_path: Path) -> None:
    report = write_report(tmp_path)
    config = ArtifactConfig(**SMALL, min_gain=1e6)
    result = find_artifacts(config, report, models=_models())
    assert result.repair.units == []
    assert result.repair.realism_after == result.repair.realism_before
    rows = pq.read_table(report / "artifacts" / "units.parquet").to_pylist()
    assert not any(r["repaired"] for r in rows)


def test_scores_match_a_direct_computation(run: tuple[Path, object]) -> None:
    report, _ = run
    gen = PlantedGenerator(noise=True)
    z = latents(3, range(48), 6)  # score seed = dissection seed 1 + 2
    with torch.no_grad():
        acts = gen.layer(z)
        images = gen(z)
    peaks = acts.flatten(2).amax(2).numpy()
    feats = toy_features(images).double().numpy()
    row5 = next(
        r
        for r in pq.read_table(report / "artifacts" / "units.parquet").to_pylist()
        if r["unit"] == 5
    )
    top = sorted(range(48), key=lambda i: (-peaks[i, 5], i))[:6]
    assert row5["top_samples"] == top
    assert row5["fsd"] == pytest.approx(frechet_distance(feats[top], feats))
    real = RoughnessDiscriminator()(images).double().numpy()
    assert row5["realism"] == pytest.approx(real[top].mean())


def test_files_and_manifest(run: tuple[Path, object]) -> None:
    report, _ = run
    out = report / "artifacts"
    info = json.loads((out / "repair.json").read_text())
    assert info["units"] == [5] and len(info["worst_samples"]) == 3
    assert info["metrics"]["realism"]["after"] > info["metrics"]["realism"]["before"]
    with Image.open(out / "before_after.png") as im:
        assert im.size == (2 * 32 + 4, 3 * 32 + 2 * 4)  # 3 worst samples x (before | after)
        pixels = np.asarray(im.convert("RGB"))
    before, after = pixels[:32, :32].astype(int), pixels[:32, 36:68].astype(int)
    assert np.abs(np.diff(before, axis=1)).mean() > np.abs(np.diff(after, axis=1)).mean()
    assert sorted(p.name for p in (out / "units").iterdir()) == sorted(
        f"{r['unit']}.png" for r in pq.read_table(out / "units.parquet").to_pylist()[:3]
    )
    assert (out / "scores.svg").read_text().startswith("<svg") and (out / "units.csv").is_file()
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["sections"]["artifacts"] is True
    settings = manifest["artifacts"]
    assert (
        settings["layer"] == "layer"
        and settings["score_seed"] == 3
        and settings["repair_seed"] == 4
    )
    assert settings["features"] == "user" and settings["discriminator"] is True
    assert "artifacts_s" in manifest["timings"]


def test_independent_of_batch_size(run: tuple[Path, object], tmp_path: Path) -> None:
    report, _ = run
    other = write_report(tmp_path)
    find_artifacts(ArtifactConfig(**SMALL, batch_size=64), other, models=_models())
    for rel in ("units.parquet", "repair.parquet", "repair.json", "before_after.png"):
        assert (report / "artifacts" / rel).read_bytes() == (
            other / "artifacts" / rel
        ).read_bytes(), rel


def test_without_discriminator_fsd_alone_still_finds_the_unit(tmp_path: Path) -> None:
    report = write_report(tmp_path)
    result = find_artifacts(ArtifactConfig(**SMALL), report, models=_models(discriminator=False))
    assert result.units[0].unit == 5 and np.isnan(result.units[0].realism)
    repair = pq.read_table(report / "artifacts" / "repair.parquet").to_pylist()
    assert [r["metric"] for r in repair] == ["fsd"] and repair[0]["improved"]


def test_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="top_k \\(50\\) cannot exceed"):
        ArtifactConfig(samples=10, top_k=50)
    report = write_report(tmp_path)
    with pytest.raises(ConfigError, match="both 7"):
        find_artifacts(ArtifactConfig(score_seed=7, repair_seed=7), report, models=_models())
    with pytest.raises(ConfigError, match="'layer2' was not dissected"):
        find_artifacts(ArtifactConfig(layer="layer2"), report, models=_models())


def test_frechet_distance_of_known_gaussians() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([1.0, 0.0, 0.0])
    b = a * 2 + shift  # C_b = 4 C_a: |mu_a + shift|^2 + tr(C_a) + tr(4 C_a) - 2 tr(2 C_a)
    expect = float(np.sum((a.mean(0) + shift) ** 2) + np.trace(np.cov(a, rowvar=False)))
    assert frechet_distance(a, b) == pytest.approx(expect, rel=1e-9)
    assert expect == pytest.approx(4.0, rel=0.05)  # 1 + tr(I)

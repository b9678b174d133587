"""Artifact units on the planted world: unit 5 writes a checkerboard into the sky when active."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from test_intervene_toys import (
    PALETTE,
    PaletteSegmenter,
    PlantedGenerator,
    RoughnessDiscriminator,
    roughness,
    toy_features,
    write_report,
)
from torch import nn

from dissect_report.artifacts import ArtifactConfig, find_artifacts
from dissect_report.artifacts.guard import decide, metric_row
from dissect_report.artifacts.real_images import load_real_images
from dissect_report.artifacts.realism import detect_sigmoid
from dissect_report.artifacts.score import Scan
from dissect_report.artifacts.stage import repair_doc
from dissect_report.commands.artifacts import print_summary
from dissect_report.errors import ConfigError, ModelError
from dissect_report.images import to_uint8
from dissect_report.metrics import frechet_distance
from dissect_report.models import Models
from dissect_report.reportdir.read import read_rows
from dissect_report.reportdir.schema import ArtifactUnitRow, RepairDoc, RepairRow
from dissect_report.sampler import latents


def clean_reference(seed: int, ids: Sequence[int]) -> torch.Tensor:
    """'Real' images: the planted world without the noise unit."""
    with torch.no_grad():
        return PlantedGenerator(noise=False)(latents(seed + 1000, list(ids), 6))


def _models(discriminator: bool = True) -> Models:
    return Models.from_modules(
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
    assert result.verdict.units == (5,)
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
    # FSD chose the set; realism (the discriminator) and the segmenter's labels are the checks.
    assert [(r["metric"], r["role"]) for r in repair.values()] == [
        ("fsd", "metric"),
        ("realism", "check"),
        ("labels", "check"),
    ]
    assert all(r["passed"] for r in repair.values()) and result.verdict.status == "repaired"
    assert repair["fsd"]["lower_is_better"] and not repair["realism"]["lower_is_better"]
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
    assert result.verdict.units[0] == 5
    saved = json.loads((report / "artifacts" / "repair.json").read_text())
    for u, r in rows.items():
        halves = (r["ablation_gain"], r["ablation_gain_even"], r["ablation_gain_odd"])
        if not r["ablation_gain_even"] > 0.0:  # failed the first half: measured no further
            assert np.isnan(r["ablation_gain"]) and np.isnan(r["ablation_gain_odd"])
        assert (u in saved["confirmed"]) == (min(halves) > 0.0)
        assert r["repaired"] == (u in result.verdict.units)
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
    assert result.metric == "realism" and result.verdict.units == (5,)
    realism = result.repair.value("realism")
    assert realism.role == "metric" and realism.after > realism.before
    # Realism chose the set, so the segmenter's labels are the one independent check.
    assert [r.metric for r in result.repair.rows] == ["realism", "labels"]
    assert json.loads((report / "manifest.json").read_text())["artifacts"]["metric"] == "realism"
    bare = Models.from_modules(generator=PlantedGenerator(noise=True), segmenter=PaletteSegmenter())
    with pytest.raises(ConfigError, match="metric 'fsd' needs real images; give --real-images"):
        find_artifacts(ArtifactConfig(**SMALL, metric="fsd"), report, models=bare)
    with pytest.raises(ConfigError, match="metric 'realism' needs a discriminator; give"):
        find_artifacts(ArtifactConfig(**SMALL, metric="realism"), report, models=bare)
    # Refused before anything was written: the realism run's section is still there.
    assert json.loads((report / "artifacts" / "repair.json").read_text())["metric"] == "realism"
    with pytest.raises(ConfigError, match="unknown metric 'fid'"):
        ArtifactConfig(metric="fid")
    with pytest.raises(ConfigError, match="unknown metric 'feature-distance'"):
        ArtifactConfig(metric="feature-distance")  # a diversity proxy, not a quality metric


def test_no_unit_is_repaired_when_no_ablation_helps_enough(tmp_path: Path) -> None:
    report = write_report(tmp_path)
    config = ArtifactConfig(**SMALL, min_gain=1e6)
    result = find_artifacts(config, report, models=_models())
    assert result.repair is None and result.verdict.status == "none-confirmed"
    assert not result.verdict.repaired and "none of the 6 screened units" in result.verdict.reason
    rows = pq.read_table(report / "artifacts" / "units.parquet").to_pylist()
    assert not any(r["repaired"] for r in rows)
    assert not (report / "artifacts" / "before.png").exists()


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
    assert info["verdict"]["status"] == "repaired" and info["verdict"]["repaired"]
    assert info["metrics"]["realism"]["after"] > info["metrics"]["realism"]["before"]
    assert info["metrics"]["fsd"]["direction"] == "lower is better"
    pictures = {}
    for name in ("before", "after"):
        with Image.open(out / f"{name}.png") as im:
            assert im.size == (3 * 16 + 2 * 4, 16)  # the 3 worst samples at native scale
            pictures[name] = np.asarray(im.convert("RGB"))[:, :16].astype(int)
    rough = {k: np.abs(np.diff(v, axis=1)).mean() for k, v in pictures.items()}
    assert rough["before"] > rough["after"]  # the checkerboard is gone
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
    for rel in ("units.parquet", "repair.parquet", "repair.json", "before.png", "after.png"):
        assert (report / "artifacts" / rel).read_bytes() == (
            other / "artifacts" / rel
        ).read_bytes(), rel


def test_without_discriminator_fsd_alone_still_finds_the_unit(tmp_path: Path) -> None:
    report = write_report(tmp_path)
    result = find_artifacts(ArtifactConfig(**SMALL), report, models=_models(discriminator=False))
    assert result.units[0].unit == 5 and np.isnan(result.units[0].realism)
    repair = pq.read_table(report / "artifacts" / "repair.parquet").to_pylist()
    assert [r["metric"] for r in repair] == ["fsd", "labels"] and repair[0]["improved"]
    assert result.verdict.units == (5,)


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


# --- real images, no quality metric, the damage guard, sigmoid discriminators ----------------


def _bare() -> Models:
    """The planted generator as a user's model: no discriminator, no renderer of real images."""
    return Models.from_modules(
        generator=PlantedGenerator(noise=True), segmenter=PaletteSegmenter(), features=toy_features
    )


def _write_pngs(folder: Path, images: torch.Tensor) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(to_uint8(images)):
        Image.fromarray(im).save(folder / f"real_{i:03d}.png")
    return folder


def test_real_images_find_and_repair_the_planted_unit(tmp_path: Path) -> None:
    # The user's real images (a folder of PNGs of the planted world without its noise unit) are
    # the only reference: FSD chooses the set on half of them and measures it on the other half.
    real = _write_pngs(tmp_path / "real", clean_reference(50, range(64)))
    report = write_report(tmp_path / "report")
    config = ArtifactConfig(**SMALL, real_images=str(real))
    result = find_artifacts(config, report, models=_bare())
    assert result.metric == "fsd" and result.units[0].unit == 5
    assert result.verdict.status == "repaired" and result.verdict.units == (5,)
    fsd = result.repair.value("fsd")
    assert fsd.role == "metric" and fsd.after < 0.5 * fsd.before  # on held-out samples
    ref = json.loads((report / "manifest.json").read_text())["artifacts"]["reference"]
    assert ref["kind"] == "real-images" and ref["count"] == 64 and ref["size"] == [16, 16]
    assert ref["source"] == str(real) and len(ref["sha256"]) == 64
    # The measurement's reference is the odd half of the real images, exactly.
    loaded = load_real_images(real, (16, 16))
    z = latents(4, range(40), 6)
    with torch.no_grad():
        unedited = toy_features(PlantedGenerator(noise=True)(z)).double().numpy()
    odd = toy_features(loaded.tensor(range(1, 64, 2))).double().numpy()
    assert fsd.before == pytest.approx(frechet_distance(unedited, odd), rel=1e-9)


def test_real_images_from_a_folder_an_npz_and_a_parquet_agree(tmp_path: Path) -> None:
    images = to_uint8(clean_reference(50, range(8)))
    folder = _write_pngs(tmp_path / "png", clean_reference(50, range(8)))
    np.savez(tmp_path / "real.npz", images=images)
    blobs = [(folder / f"real_{i:03d}.png").read_bytes() for i in range(8)]
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    rows = [{"bytes": b, "path": f"{i}.png"} for i, b in enumerate(blobs)]
    pq.write_table(pa.table({"image": pa.array(rows, image_type)}), tmp_path / "real.parquet")
    loads = [
        load_real_images(p, (16, 16))
        for p in (folder, tmp_path / "real.npz", tmp_path / "real.parquet")
    ]
    for real in loads:
        assert real.images.shape == (8, 16, 16, 3) and np.array_equal(real.images, images)
    assert [r.kind for r in loads] == ["folder", "npz", "parquet"]
    assert load_real_images(folder, (16, 16)).sha256 == loads[0].sha256  # deterministic
    # A larger, wider photo is center-cropped to the generator's square, then resized.
    wide = np.zeros((32, 64, 3), np.uint8)
    wide[:, 16:48] = 200  # the central square is bright, the sides black
    Image.fromarray(wide).save(folder / "wide.png")
    fitted = load_real_images(folder, (16, 16)).images[-1]
    assert fitted.shape == (16, 16, 3) and fitted.min() == 200 == fitted.max()
    assert load_real_images(folder, (16, 16), limit=4).count == 4  # evenly spaced subset


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing", None, "do not exist"),
        ("notes.txt", b"hello", "give a folder of PNG/JPEG, an .npz or a .parquet"),
        ("empty", "dir", "no PNG/JPEG images"),
        ("bad.npz", "npz-float", "must lie in \\[0, 1\\]"),
        ("few", "two-pngs", "has 2 real images; FSD needs at least 4"),
        ("broken", "broken-png", "is not a readable PNG/JPEG"),
    ],
)
def test_bad_real_images_are_one_clear_error(
    tmp_path: Path, name: str, content: object, message: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "dir":
        path.mkdir()
    elif content == "npz-float":
        np.savez(path, images=np.full((4, 8, 8, 3), 2.0))
    elif content == "two-pngs":
        _write_pngs(path, clean_reference(1, range(2)))
    elif content == "broken-png":
        _write_pngs(path, clean_reference(1, range(4)))
        (path / "real_002.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ConfigError, match=message):
        load_real_images(path, (16, 16))


def test_without_a_quality_metric_nothing_is_called_a_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = write_report(tmp_path)
    result = find_artifacts(ArtifactConfig(**SMALL), report, models=_bare())
    # Units are still scored, ranked and drawn, but nothing is screened or repaired.
    assert result.metric == "none" and result.repair is None and not result.gains
    assert result.verdict.status == "no-metric" and result.verdict.units == ()
    assert "no quality metric" in result.verdict.reason
    assert "--real-images" in result.verdict.enable and "--discriminator" in result.verdict.enable
    out = report / "artifacts"
    rows = pq.read_table(out / "units.parquet").to_pylist()
    assert len(rows) == 6 and not any(r["repaired"] for r in rows)
    assert len(list((out / "units").iterdir())) == 3
    assert not (out / "before.png").exists() and pq.read_table(out / "repair.parquet").num_rows == 0
    doc = json.loads((out / "repair.json").read_text())
    assert doc["verdict"]["status"] == "no-metric" and not doc["verdict"]["repaired"]
    assert doc["units"] == [] and doc["metric"] == "none"
    print_summary(result)
    printed = capsys.readouterr().out
    assert "verdict: NOT REPAIRED" in printed and "no quality metric" in printed
    assert "--real-images DIR" in printed and printed.count("REPAIRED") == 1


def test_the_guard_rejects_a_set_that_degrades_an_independent_check(tmp_path: Path) -> None:
    # A discriminator that likes the checkerboard: FSD (to clean real images) still picks unit 5,
    # but on the held-out samples realism drops significantly, so the set is not kept.
    class LikesNoise(nn.Module):
        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return 10 * roughness(images)

    report = write_report(tmp_path)
    models = Models.from_modules(
        generator=PlantedGenerator(noise=True),
        segmenter=PaletteSegmenter(),
        discriminator=LikesNoise(),
        features=toy_features,
        reference=clean_reference,
    )
    result = find_artifacts(ArtifactConfig(**SMALL), report, models=models)
    assert result.metric == "fsd" and result.verdict.tried == (5,)
    assert result.verdict.status == "rejected" and result.verdict.units == ()
    realism = result.repair.value("realism")
    assert (
        realism.role == "check" and not realism.passed and "significantly lower" in realism.detail
    )
    assert result.repair.value("fsd").passed  # it did improve the metric
    assert "failed the independent check" in result.verdict.reason
    rows = pq.read_table(report / "artifacts" / "units.parquet").to_pylist()
    assert not any(r["repaired"] for r in rows)
    assert (report / "artifacts" / "after.png").is_file()  # the rejected set is still shown


def test_the_label_check_rejects_a_repair_that_changes_the_scene(tmp_path: Path) -> None:
    # Ablating the building unit (forced as the only candidate, realism as the metric through a
    # discriminator that dislikes buildings) repaints many pixels: the label check rejects it.
    class HatesBuildings(nn.Module):
        def forward(self, images: torch.Tensor) -> torch.Tensor:
            building = torch.tensor(PALETTE["building"]).view(1, 3, 1, 1)
            return -((images - building) ** 2).sum(1).lt(0.05).float().mean(dim=(1, 2))

    report = write_report(tmp_path)
    models = Models.from_modules(
        generator=PlantedGenerator(noise=False),
        segmenter=PaletteSegmenter(),
        discriminator=HatesBuildings(),
        features=toy_features,
    )
    config = ArtifactConfig(**{**SMALL, "repair_units": 6}, candidates=6, max_label_change=0.02)
    result = find_artifacts(config, report, models=models)
    assert result.metric == "realism" and 1 in result.verdict.tried
    labels = result.repair.value("labels")
    assert labels.after > 0.02 and not labels.passed and "building" in labels.detail
    assert result.verdict.status == "rejected"


def test_a_sigmoid_discriminator_is_detected_and_converted(tmp_path: Path) -> None:
    images = PlantedGenerator(noise=True)(latents(3, range(8), 6)).detach()
    assert not detect_sigmoid(RoughnessDiscriminator(), images)
    assert detect_sigmoid(nn.Sequential(RoughnessDiscriminator(), nn.Sigmoid()), images)

    class Functional(nn.Module):  # torch.sigmoid then a reshape, as DCGAN code does
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(RoughnessDiscriminator()(x)).view(-1, 1).squeeze(1)

    assert detect_sigmoid(Functional(), images)
    assert not detect_sigmoid(lambda x: 0.5 + 0.1 * torch.tanh(roughness(x)), images)
    # The stage undoes it: realism values are the logits, the manifest says what was done.
    report = write_report(tmp_path)
    models = Models.from_modules(
        generator=PlantedGenerator(noise=True),
        segmenter=PaletteSegmenter(),
        discriminator=Functional(),
        features=toy_features,
        reference=clean_reference,
    )
    result = find_artifacts(ArtifactConfig(**SMALL), report, models=models)
    assert result.settings["discriminator_output"] == "sigmoid converted to logits"
    row5 = next(
        r for r in pq.read_table(report / "artifacts/units.parquet").to_pylist() if r["unit"] == 5
    )
    z = latents(3, range(48), 6)
    with torch.no_grad():
        logits = RoughnessDiscriminator()(PlantedGenerator(noise=True)(z)).double().numpy()
    assert row5["realism"] == pytest.approx(logits[row5["top_samples"]].mean(), rel=1e-5)
    # A saturated sigmoid has lost its logits: refused, before anything is written.
    saturated = nn.Sequential(RoughnessDiscriminator(), Scale(1e4), nn.Sigmoid())
    with pytest.raises(ModelError, match="sigmoid that saturates"):
        find_artifacts(
            ArtifactConfig(**SMALL),
            write_report(tmp_path / "sat"),
            models=Models.from_modules(
                generator=PlantedGenerator(noise=True),
                segmenter=PaletteSegmenter(),
                discriminator=saturated,
                reference=clean_reference,
            ),
        )
    assert not (tmp_path / "sat" / "artifacts").exists()


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def test_the_dcgan_discriminator_from_pypi_is_detected() -> None:
    # The DCGAN faces tutorial's discriminator (as shipped by gan-face-generate) ends in
    # nn.Sigmoid; its untrained weights are enough to read the graph.
    models = pytest.importorskip("gan_face_generate.models")
    torch.manual_seed(0)
    d = models.Discriminator(0, 3, 8)
    assert detect_sigmoid(d, torch.rand(2, 3, 64, 64) * 2 - 1)
    assert d.training  # its mode is restored


def test_run_refuses_missing_real_images_before_dissecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dissect_report.cli import main

    out = tmp_path / "out"
    assert main(["-q", "run", "--out", str(out), "--real-images", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "do not exist" in err and "\n" not in err and not out.exists()


def test_a_realism_gain_inside_the_noise_is_not_a_repair() -> None:
    # The case: 0.5 -> 0.5004 through a sigmoid. A held-out gain smaller than two
    # standard errors of the paired per-sample change demonstrates nothing.
    rng = np.random.default_rng(0)
    n = 128
    base = rng.normal(size=n)

    def scan(realism: np.ndarray) -> Scan:
        return Scan(0, list(range(n)), np.zeros((n, 1)), np.zeros((n, 2)), realism)

    noise = rng.normal(0.0, 0.01, n)
    tiny = metric_row("realism", scan(base), scan(base + 0.0004 - noise.mean() + noise), None)
    assert tiny.after > tiny.before and not tiny.passed and "within the noise" in tiny.detail
    verdict = decide("layer", [3], tiny, [])
    assert verdict.status == "rejected" and "within the noise" in verdict.reason
    clear = metric_row("realism", scan(base), scan(base + 0.01 + noise), None)
    assert clear.passed and "significant" in clear.detail
    assert decide("layer", [3], clear, []).units == (3,)


def test_constant_units_get_no_artifact_score_and_rank_last():
    # Units 1 (dead: the same peak everywhere) and 2 (NaN everywhere) have no top images of
    # their own; unit 0 fires on the odd samples, whose features sit far from the rest.
    from dissect_report.artifacts.score import score_units

    n = 12
    odd = np.arange(n) % 2 == 1
    peaks = np.stack([odd * 5.0 + 0.1 * np.arange(n), np.full(n, 0.3), np.full(n, np.nan)], 1)
    features = np.random.default_rng(0).normal(size=(n, 3)) + odd[:, None] * 4.0
    scan = Scan(seed=0, ids=list(range(n)), peaks=peaks, features=features, realism=None)
    scores = score_units(scan, top_k=4)
    assert [s.unit for s in scores] == [0, 1, 2]
    assert np.isfinite(scores[0].score)
    assert np.isnan(scores[1].score) and np.isnan(scores[2].score)
    assert sorted(scores[0].top_samples) == [5, 7, 9, 11]


def test_the_section_reads_back_as_the_stages_own_types(run: tuple[Path, object]) -> None:
    # repair.json and repair.parquet have one type each (reportdir.schema): what the stage
    # wrote is what the site, compare and testing read back.
    report, result = run
    path = report / "artifacts" / "repair.json"
    doc = RepairDoc.from_json(json.loads(path.read_text()), str(path))
    assert doc == repair_doc(result)
    assert doc.verdict.repaired and doc.verdict.units == (5,) and doc.metric == "fsd"
    assert [r.metric for r in doc.metrics] == ["fsd", "realism", "labels"]
    assert read_rows(report / "artifacts" / "repair.parquet", RepairRow) == result.repair.rows
    rows = read_rows(report / "artifacts" / "units.parquet", ArtifactUnitRow)
    assert [(r.unit, r.rank, r.repaired) for r in rows][0] == (5, 1, True)


def test_the_summary_prints_the_greedy_steps_as_repair_json_has_them(
    run: tuple[Path, object], capsys: pytest.CaptureFixture[str]
) -> None:
    report, result = run
    print_summary(result)
    out = capsys.readouterr().out
    first = json.loads((report / "artifacts" / "repair.json").read_text())["greedy"][0]
    assert first["unit"] == 5 and first["kept"]
    assert f"greedy: + unit 5: fsd {first['fsd']:.4g} (kept)" in out
    assert "verdict: REPAIRED" in out

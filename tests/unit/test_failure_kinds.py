"""Off the happy path (issue 24): each kind of silent or misleading result handled right.

Each test builds the smallest input that used to give a wrong answer with exit 0 and asserts
the right value (or the one-line refusal naming the cause).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dissect_report.artifacts.real_images import load_real_images
from dissect_report.cli import main


def _png16(a: np.ndarray) -> bytes:
    """A 16-bit-per-channel PNG of ``a`` ((H, W) gray or (H, W, 3) RGB, uint16)."""
    h, w = a.shape[:2]
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    head = struct.pack(">IIBBBBB", w, h, 16, 0 if a.ndim == 2 else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw))
        + (chunk(b"IEND", b""))
    )


# --- 2: 16-bit PNGs and EXIF orientation in --real-images -----------------------------------


def test_16_bit_pngs_load_as_the_same_pixels_as_their_8_bit_versions(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (6, 16, 16)).astype(np.uint8)
    rgb = rng.integers(0, 256, (6, 16, 16, 3)).astype(np.uint8)
    for name, images in (("gray", gray), ("rgb", rgb)):
        (tmp_path / f"{name}8").mkdir()
        (tmp_path / f"{name}16").mkdir()
        for i, x in enumerate(images):
            Image.fromarray(x).save(tmp_path / f"{name}8" / f"{i}.png")
            wide = x.astype(np.uint16) * 257  # the same values at 16 bits
            (tmp_path / f"{name}16" / f"{i}.png").write_bytes(_png16(wide))
        eight = load_real_images(tmp_path / f"{name}8", (16, 16)).images
        sixteen = load_real_images(tmp_path / f"{name}16", (16, 16)).images
        assert sixteen.shape == (6, 16, 16, 3) and sixteen.mean() < 200  # not all white
        assert np.array_equal(sixteen, eight), name
    assert np.array_equal(eight[..., 0], rgb[..., 0])


def test_exif_orientation_is_applied_as_a_viewer_shows_the_photo(tmp_path: Path) -> None:
    stored = np.zeros((16, 32, 3), np.uint8)
    stored[:, :16] = 255  # left half white, as stored (landscape)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the camera was held upright
    (tmp_path / "photos").mkdir()
    for i in range(4):  # FSD needs four
        Image.fromarray(stored).save(tmp_path / "photos" / f"{i}.png", exif=exif)
    loaded = load_real_images(tmp_path / "photos", (32, 16)).images[0]
    assert np.array_equal(loaded, np.rot90(stored, k=-1))  # portrait, white half on top
    assert loaded[:16].min() == 255 and loaded[16:].max() == 0


# --- 5: concept names a CSV reader could take for missing values ----------------------------


def test_concept_names_na_none_nan_round_trip_through_the_tables(tmp_path: Path) -> None:
    import pandas as pd

    import dissect_report as dr
    from dissect_report.testing import SyntheticSpec, edit_units, write_synthetic_report

    names = ("NA", "None", "nan")
    root = write_synthetic_report(tmp_path / "r", SyntheticSpec(layers=("a",), units=3))
    for unit, name in enumerate(names):
        edit_units(root, "a", unit, concept=name)
    csv = pd.read_csv(root / "layers" / "a" / "units.csv", keep_default_na=False)
    assert tuple(csv["concept"]) == names  # as docs/report-format.md says to read it
    assert tuple(dr.open_report(root).units("a")["concept"]) == names
    assert (
        "keep_default_na=False"
        in (Path(__file__).parents[2] / "docs" / "report-format.md").read_text()
    )


# --- 6: absurd --samples; --resume into a folder that is not a report -----------------------


def test_absurd_samples_are_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    code = main(
        ["-q", "dissect", "--samples", str(10**30), "--layers", "layer3", "--out", str(out)]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "samples = " + str(10**30) in err[0] and "less than or equal to 1000000000" in err[0]
    assert not out.exists()


@pytest.mark.parametrize("command", ["dissect", "run"])
def test_resume_into_a_folder_that_is_not_a_report_is_refused_and_writes_nothing(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    args = ["-q", command, "--resume", "--samples", "8", "--layers", "layer3", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: refusing to --resume into {str(out)!r}: it is not an interrupted report "
        "(no .partial/ checkpoint, no layers/); choose a new --out"
    ]
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    assert (out / "thesis.tex").read_text() == "keep me"


# --- 6: a unit with no finite activation gets no concept, threshold or grid -----------------

MODELS = Path(__file__).parents[1] / "models"


def test_a_never_finite_unit_has_no_label_threshold_or_grid_and_its_page_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    from dissect_report.render import render_site

    monkeypatch.syspath_prepend(str(MODELS))
    out = tmp_path / "nan"
    args = ["-q", "dissect", "--generator", "contract_toys:nan_unit", "--segmenter",
            "stylegan_like:make_segmenter", "--layers", "body", "--samples", "16",
            "--calibration-samples", "8", "--top-k", "2", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    units = pq.read_table(out / "layers" / "body" / "units.parquet").to_pylist()
    nan_unit = units[0]
    assert nan_unit["concept"] == "" and not nan_unit["interpretable"]
    assert np.isnan(nan_unit["threshold"]) and np.isnan(nan_unit["iou"])
    assert nan_unit["top_samples"] == [] and nan_unit["top_concepts"] == []
    assert units[1]["concept"] != "" and np.isfinite(units[1]["threshold"])  # the others stay
    assert not (out / "layers" / "body" / "units" / "0.png").exists()  # no grid of -inf
    assert (out / "layers" / "body" / "units" / "1.png").exists()
    site = render_site(out).site_dir
    page = (site / "layers" / "body" / "units" / "0" / "index.html").read_text()
    assert "No finite activations" in page and "unlabelled (best" not in page
    assert "0.png" not in page
    gallery = (site / "layers" / "body" / "index.html").read_text()
    assert "no finite activations" in gallery


# --- 3: intervene with no interpretable unit; paint with no brush ---------------------------

PLANTED = ["--generator", "dissect_toys:planted_generator", "--segmenter",
           "dissect_toys:planted_segmenter", "--layers", "features",
           "--calibration-samples", "8", "--no-images"]  # fmt: skip


def test_intervene_on_a_layer_without_interpretable_units_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    args = ["-q", "dissect", *PLANTED, "--samples", "16", "--iou-floor", "1.0", "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["-q", "intervene", str(out), "--samples", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: layer 'features' has no interpretable unit (1 of 4 reach the IoU floor 1.0 but "
        "a label guard refuses each (mask too broad, chance level or position alone; the layer "
        "page gives each reason)), so no concept has units to ablate; fix: name concepts with "
        "'dissect-report intervene --concepts' (units ranked by IoU)"
    ]  # iqr is the default already, and a lower floor would not lift a guard: neither is offered
    assert not (out / "concepts").exists()


def test_run_skips_interventions_and_paint_when_no_unit_is_labelled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing to ablate is a finding about the model: run still finishes (exit 0) and says why.
    out = tmp_path / "r"
    args = ["-q", "run", *PLANTED, "--samples", "16", "--iou-floor", "1.0", "--no-artifacts"]
    assert main([*args, "--paint", "--no-site", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "interventions: skipped: layer 'features' has no interpretable unit (1 of 4" in printed
    assert not (out / "concepts").exists() and not (out / "paint").exists()


def test_paint_refuses_brushes_without_units(tmp_path: Path) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from dissect_report.errors import ReportError
    from dissect_report.paint.stage import read_concepts
    from dissect_report.testing import SyntheticSpec, write_synthetic_report

    root = write_synthetic_report(tmp_path / "r", SyntheticSpec(layers=("a",), interventions=True))
    index = root / "concepts" / "index.parquet"
    table = pq.read_table(index)
    assert all(table.column("top_units").to_pylist())  # as written: every brush has units
    kind = table.schema.field("top_units").type
    empty = pa.array([[] for _ in range(table.num_rows)], kind)
    pq.write_table(
        table.set_column(table.schema.get_field_index("top_units"), "top_units", empty), index
    )
    manifest = json.loads((root / "manifest.json").read_text())
    with pytest.raises(
        ReportError, match="^Paint has no brush: the interventions found no concept"
    ):
        read_concepts(root, manifest)


# --- 4: a segmenter that labels at a lower resolution -----------------------------------------


def test_quarter_resolution_labels_are_upsampled_to_the_image_and_give_its_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from dissect_toys import assert_same_tables

    planted = [a for a in PLANTED if a != "dissect_toys:planted_segmenter"]
    seg = planted.index("--segmenter") + 1
    common = ["--samples", "16", "--batch-size", "8"]
    full, quarter = tmp_path / "full", tmp_path / "quarter"
    args = planted[:seg] + ["dissect_toys:planted_segmenter"] + planted[seg:]
    assert main(["-q", "dissect", *args, *common, "--out", str(full)]) == 0
    args = planted[:seg] + ["dissect_toys:quarter_segmenter"] + planted[seg:]
    assert main(["-q", "dissect", *args, *common, "--out", str(quarter)]) == 0
    assert_same_tables(full, quarter)  # the planted squares sit on 4-pixel cells: exact
    assert "segmenter labels are 8x8 for 32x32 images: upsampled x4 (nearest)" in caplog.text
    capsys.readouterr()
    args = planted[:seg] + ["dissect_toys:cropped_segmenter"] + planted[seg:]
    assert main(["-q", "dissect", *args, *common, "--out", str(tmp_path / "no")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: segmenter returned labels of size 32x29 for 32x32 images; labels must be at the "
        "image size (or a whole fraction of it, upsampled): resize its logits to 32x32 before "
        "the argmax"
    ]
    assert not (tmp_path / "no").exists()

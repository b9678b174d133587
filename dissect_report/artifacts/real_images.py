"""Real images for the FSD reference: a folder of PNG/JPEG, an ``.npz`` or a Parquet of images.

Usage::

    real = load_real_images("faces/", size=(64, 64), limit=1024)
    real.images.shape, real.images.dtype        # (N, 64, 64, 3) uint8
    real.tensor(range(8))                       # (8, 3, 64, 64) float32 in [-1, 1]
    real.sha256, real.count, real.total         # content hash of the images used; used / found

Every image is converted to RGB, center-cropped to the generator's aspect ratio and resized to
its output size (PIL bicubic, antialiased when shrinking), then mapped to [-1, 1] like the
generator's output (the model contract: float images in [-1, 1]). Sources:

- a folder: every ``*.png``, ``*.jpg``, ``*.jpeg`` below it (any case), in path order;
- ``.npz``: the array ``images`` (or the only array), ``(N, H, W, 3)`` or ``(N, 3, H, W)``,
  ``uint8`` in 0..255 or float in [0, 1]; ``(N, H, W)`` is gray;
- ``.parquet``: a column ``image`` (or the only binary column) of encoded PNG/JPEG bytes,
  either raw binary or a struct with a ``bytes`` field (the Hugging Face datasets layout).

With more than ``limit`` images, ``limit`` of them are taken evenly spaced in that order, so a
folder sorted by class is sampled across its classes. The hash covers the images actually used
(their source bytes, and for a folder their relative paths), so it names the reference exactly.
Errors are :class:`~dissect_report.errors.ConfigError` naming the file.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from dissect_report.errors import ConfigError
from dissect_report.progress import bar

SUFFIXES = (".png", ".jpg", ".jpeg")
MIN_IMAGES = 4  # two per half: the screen's reference and the held-out one (see stage.py)


@dataclass(frozen=True)
class RealImages:
    """Real images at the generator's size, ``(N, H, W, 3)`` uint8, with where they came from."""

    images: np.ndarray
    source: str  # the path given
    kind: str  # "folder", "npz" or "parquet"
    total: int  # images found at the source
    sha256: str  # of the images used (see the module docstring)

    @property
    def count(self) -> int:
        return int(self.images.shape[0])

    def tensor(self, positions: Sequence[int]) -> torch.Tensor:
        """Images at ``positions`` as ``(n, 3, H, W)`` float32 in [-1, 1] (the generator's range)."""
        x = torch.from_numpy(self.images[list(positions)]).permute(0, 3, 1, 2).float()
        return x / 127.5 - 1.0

    def describe(self) -> dict[str, object]:
        """What the manifest records about the reference."""
        return {
            "kind": "real-images",
            "source": self.source,
            "format": self.kind,
            "count": self.count,
            "found": self.total,
            "size": [int(self.images.shape[1]), int(self.images.shape[2])],
            "sha256": self.sha256,
        }


def _eight_bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit gray scaled to 8 bits (``convert("RGB")`` clips them: all white)."""
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        a = np.asarray(image, dtype=np.float64)
        if image.mode == "F":
            top = 1.0 if a.size and np.nanmax(a) <= 1.0 else 255.0
        elif image.mode.startswith("I;16"):
            top = 65535.0
        else:  # "I": a 16-bit PNG on some Pillow versions, or 8-bit values widened
            top = 65535.0 if a.size and a.max() > 255 else 255.0
        return Image.fromarray(np.clip(np.rint(a / top * 255.0), 0, 255).astype(np.uint8), "L")
    return image


def _fit(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """RGB, center-cropped to the aspect ratio of ``size`` (H, W), resized: (H, W, 3) uint8."""
    h, w = size
    image = _eight_bit(ImageOps.exif_transpose(image)).convert("RGB")  # as a viewer shows it
    iw, ih = image.size
    if iw * h != ih * w:  # crop the longer side so nothing is stretched
        cw, ch = (ih * w // h, ih) if iw * h > ih * w else (iw, iw * h // w)
        left, top = (iw - cw) // 2, (ih - ch) // 2
        image = image.crop((left, top, left + cw, top + ch))
    if image.size != (w, h):
        image = image.resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


def _decode(data: bytes, name: str, size: tuple[int, int]) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return _fit(im, size)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ConfigError(f"real image {name} is not a readable PNG/JPEG: {exc}") from None


def _pick(n: int, limit: int) -> list[int]:
    """``limit`` positions of ``n``, evenly spaced (all of them when ``n <= limit``)."""
    if n <= limit:
        return list(range(n))
    return [i * n // limit for i in range(limit)]


def _folder(path: Path, size: tuple[int, int], limit: int) -> tuple[list[np.ndarray], str, int]:
    files = sorted(
        (p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()),
        key=lambda p: p.relative_to(path).as_posix(),
    )
    if not files:
        raise ConfigError(f"no PNG/JPEG images in the real-images folder {str(path)!r}")
    h = hashlib.sha256()
    out = []
    chosen = [files[i] for i in _pick(len(files), limit)]
    for f in bar(chosen, desc="real images: load", unit="image", leave=False):
        data = f.read_bytes()
        h.update(f.relative_to(path).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(data).digest())
        out.append(_decode(data, repr(str(f)), size))
    return out, h.hexdigest(), len(files)


def _npz_array(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            key = "images" if "images" in names else names[0] if len(names) == 1 else None
            if key is None:
                raise ConfigError(
                    f"{str(path)!r} holds arrays {', '.join(names)}; name the images 'images'"
                )
            return np.asarray(npz[key])
    except ConfigError:
        raise
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read real images from {str(path)!r}: {exc}") from None


def _npz(path: Path, size: tuple[int, int], limit: int) -> tuple[list[np.ndarray], str, int]:
    a = _npz_array(path)
    if a.ndim == 3:
        a = np.repeat(a[..., None], 3, axis=3)
    if a.ndim != 4 or (a.shape[3] != 3 and a.shape[1] != 3) or a.shape[0] == 0:
        raise ConfigError(
            f"real images in {str(path)!r} must be (N, H, W, 3) or (N, 3, H, W); got {a.shape}"
        )
    if a.shape[3] != 3:
        a = a.transpose(0, 2, 3, 1)
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a).all():
            raise ConfigError(
                f"real images in {str(path)!r} must be uint8 (0..255) or float in [0, 1]; "
                f"got {a.dtype}"
            )
        lo, hi = float(a.min()), float(a.max())
        if lo < 0 or hi > 1:
            raise ConfigError(
                f"float real images in {str(path)!r} must lie in [0, 1]; got [{lo:.3g}, {hi:.3g}]"
            )
        a = np.round(a * 255).astype(np.uint8)
    picked = a[_pick(len(a), limit)]
    h = hashlib.sha256(np.ascontiguousarray(picked).tobytes())
    h.update(repr(picked.shape).encode())
    images = bar(picked, desc="real images: resize", unit="image", leave=False)
    return [_fit(Image.fromarray(x), size) for x in images], h.hexdigest(), len(a)


def _parquet_blobs(path: Path) -> Iterator[bytes | None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(f"cannot read real images from {str(path)!r}: {exc}") from None

    def is_blob(t: pa.DataType) -> bool:
        if pa.types.is_struct(t):
            return t.get_field_index("bytes") >= 0
        return pa.types.is_binary(t) or pa.types.is_large_binary(t)

    names = [f.name for f in table.schema if is_blob(f.type)]
    name = "image" if "image" in names else names[0] if len(names) == 1 else None
    if name is None:
        raise ConfigError(
            f"{str(path)!r} needs one column 'image' of PNG/JPEG bytes; "
            f"image-like columns: {', '.join(names) or 'none'}"
        )
    for value in table.column(name).to_pylist():
        yield value.get("bytes") if isinstance(value, dict) else value


def _parquet(path: Path, size: tuple[int, int], limit: int) -> tuple[list[np.ndarray], str, int]:
    blobs = list(_parquet_blobs(path))
    if not blobs:
        raise ConfigError(f"no images in {str(path)!r}")
    h = hashlib.sha256()
    out = []
    positions = _pick(len(blobs), limit)
    for i in bar(positions, desc="real images: load", unit="image", leave=False):
        data = blobs[i]
        if not data:
            raise ConfigError(f"row {i} of {str(path)!r} has no image bytes")
        h.update(hashlib.sha256(data).digest())
        out.append(_decode(data, f"row {i} of {str(path)!r}", size))
    return out, h.hexdigest(), len(blobs)


def source_kind(path: str | Path) -> str:
    """``"folder"``, ``"npz"`` or ``"parquet"``; ConfigError if missing or of another kind.

    Cheap (reads nothing): ``run`` calls it before the dissection so a typo fails at once.
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"real images {str(p)!r} do not exist")
    if p.is_dir():
        return "folder"
    if p.suffix.lower() == ".npz":
        return "npz"
    if p.suffix.lower() in (".parquet", ".pq"):
        return "parquet"
    raise ConfigError(
        f"real images {str(p)!r}: give a folder of PNG/JPEG, an .npz or a .parquet file"
    )


def load_real_images(path: str | Path, size: tuple[int, int], limit: int = 1024) -> RealImages:
    """Up to ``limit`` real images from ``path``, fitted to ``size`` = (H, W) of the generator.

    Raises ConfigError for a missing path, an unknown format, an unreadable image or fewer
    than 4 images (FSD needs two per half: the screen's and the held-out measurement's).
    """
    if limit < MIN_IMAGES:
        raise ConfigError(f"the real-images limit must be >= {MIN_IMAGES}; got {limit}")
    kind = source_kind(path)
    loader = {"folder": _folder, "npz": _npz, "parquet": _parquet}[kind]
    images, sha, total = loader(Path(path), size, limit)
    if len(images) < MIN_IMAGES:
        raise ConfigError(
            f"{str(path)!r} has {len(images)} real images; FSD needs at least {MIN_IMAGES}"
        )
    return RealImages(np.stack(images), str(path), kind, total, sha)

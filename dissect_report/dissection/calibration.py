"""Per-unit bin edges from the calibration samples, streamed in bounded memory.

Usage::

    from dissect_report.dissection.calibration import EdgeCalibrator, calibrate_edges
    cal = EdgeCalibrator(units=512, act_size=(32, 32), seg_size=(128, 128), samples=128,
                         bins=256, resolve_level=0.97, budget_bytes=256 * 2**20)
    cal.plan.bytes                       # float32 bytes it will hold: known before any sample
    for acts in batches:                 # (n, U, h, w) float, any device, samples 0..M-1 in order
        cal.add(acts)
    edges = cal.edges()                  # (U, bins+1) float64, the same in every shard
    edges = calibrate_edges(acts, bins=256, resolve_level=0.9)   # all at once (tests, tools)

``e1`` (the lowest resolved edge) is the ``resolve_level`` quantile of a unit's activations
as the pass sees them: bilinearly upsampled to the labels' size, every ``stride``-th pixel
(4 when upsampling, 1 otherwise). Only those values are kept, as float32, plus a running
minimum and maximum of the raw activations; when ``samples x pixels x units x 4`` bytes would
exceed ``budget_bytes`` the stride grows until they fit. Under the budget the values are
exactly those of the unbounded computation, so the edges (and the tables) do not change.
Every shard calibrates on samples ``0..M-1`` with the same plan, so every shard bins alike.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from dissect_report.trace import TraceDict

if TYPE_CHECKING:
    from dissect_report.config import DissectConfig
    from dissect_report.models import Models

log = logging.getLogger(__name__)
UPSAMPLED_STRIDE = 4  # every 4th upsampled pixel: the peaks survive, 1/16 of the values
_QUANTILE_CHUNK = 1 << 24  # values per np.nanquantile call: bounds its float32 copy


@dataclass(frozen=True)
class CalibrationPlan:
    """How many values per unit calibration keeps, and what they cost."""

    units: int
    samples: int
    grid: tuple[int, int]  # (rows, cols) of kept pixels per sample
    stride: int  # every stride-th pixel of the (upsampled) map
    upsampled: bool

    @property
    def values_per_unit(self) -> int:
        return self.samples * self.grid[0] * self.grid[1]

    @property
    def bytes(self) -> int:
        """float32 bytes of the kept values (the running min / max add 8 bytes per unit)."""
        return 4 * self.units * self.values_per_unit


def plan_calibration(
    units: int,
    act_size: tuple[int, int],
    seg_size: tuple[int, int] | None,
    samples: int,
    budget_bytes: int | None,
) -> CalibrationPlan:
    """The stride that keeps ``samples`` calibration samples of a layer within ``budget_bytes``.

    ``seg_size`` is the labels' size (None: the pass sees the activations at their own size).
    The base stride is 4 when the activations are upsampled (as always before budgets) and 1
    otherwise; it grows by its base until the kept values fit (``None``: no budget).
    """
    upsampled = seg_size is not None and tuple(seg_size) != tuple(act_size)
    size = tuple(seg_size) if upsampled else tuple(act_size)  # type: ignore[arg-type]
    base = UPSAMPLED_STRIDE if upsampled else 1
    stride = base
    while True:
        grid = (len(range(0, size[0], stride)), len(range(0, size[1], stride)))
        plan = CalibrationPlan(units, samples, grid, stride, upsampled)
        if budget_bytes is None or plan.bytes <= budget_bytes or grid == (1, 1):
            return plan
        stride += base


def _interp_matrix(n: int, size: int) -> torch.Tensor:
    """``(size, n)``: row ``Y`` holds the weights of 1-D linear upsampling at pixel ``Y``."""
    eye = torch.eye(n).unsqueeze(1)  # (n, 1, n): one impulse per row
    return F.interpolate(eye, size=size, mode="linear", align_corners=False)[:, 0].T


def _exact_pow2(x: float) -> float:
    return math.ldexp(1.0, math.ceil(math.log2(x)))


class EdgeCalibrator:
    """Streams calibration batches of one layer into per-unit edges (see the module docstring)."""

    def __init__(
        self,
        units: int,
        act_size: tuple[int, int],
        seg_size: tuple[int, int] | None,
        samples: int,
        bins: int,
        resolve_level: float,
        budget_bytes: int | None = None,
    ) -> None:
        self.plan = plan_calibration(units, act_size, seg_size, samples, budget_bytes)
        self.act_size, self.seg_size = tuple(act_size), seg_size
        self.bins, self.resolve_level = bins, resolve_level
        self._values = np.empty((units, self.plan.values_per_unit), dtype=np.float32)
        self._filled = 0
        self._lo = torch.full((units,), math.inf, dtype=torch.float64)
        self._hi = torch.full((units,), -math.inf, dtype=torch.float64)
        self._wy: torch.Tensor | None = None
        self._wx: torch.Tensor | None = None

    @torch.no_grad()
    def add(self, acts: torch.Tensor) -> None:
        """Add the next calibration samples' activations ``(n, U, h, w)``."""
        acts = acts.detach().float()
        n, units, h, w = acts.shape
        assert units == self.plan.units and (h, w) == self.act_size
        per = self.plan.grid[0] * self.plan.grid[1]
        if self._filled + n * per > self._values.shape[1]:
            raise ValueError(f"more calibration samples than the {self.plan.samples} planned")
        finite = torch.isfinite(acts)
        lo = torch.where(finite, acts, math.inf).amin(dim=(0, 2, 3))
        hi = torch.where(finite, acts, -math.inf).amax(dim=(0, 2, 3))
        self._lo = torch.minimum(self._lo, lo.double().cpu())
        self._hi = torch.maximum(self._hi, hi.double().cpu())
        stride = self.plan.stride
        # Chunks of units keep the upsampled temporary small whatever the layer's width.
        step = max(1, _QUANTILE_CHUNK // max(1, n * per))
        for u in range(0, units, step):
            a = acts[:, u : u + step]
            if self.plan.upsampled:
                assert self.seg_size is not None
                if self._wy is None:  # every stride-th pixel of the bilinear upsampling
                    self._wy = _interp_matrix(h, self.seg_size[0])[::stride].to(acts.device)
                    self._wx = _interp_matrix(w, self.seg_size[1])[::stride].to(acts.device)
                assert self._wx is not None
                seen = torch.matmul(torch.matmul(self._wy, a), self._wx.T)
            else:
                seen = a[..., ::stride, ::stride]
            rows = seen.transpose(0, 1).reshape(seen.shape[1], -1)
            kept = torch.where(torch.isfinite(rows), rows, math.nan).cpu().numpy()
            self._values[u : u + step, self._filled : self._filled + n * per] = kept
        self._filled += n * per

    def edges(self) -> np.ndarray:
        """Per-unit bin edges ``(U, bins+1)`` float64 (see :func:`edges_from_range`)."""
        values = self._values[:, : self._filled]
        units = values.shape[0]
        q = np.empty(units, dtype=np.float64)
        step = max(1, _QUANTILE_CHUNK // max(1, values.shape[1]))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN units
            for u in range(0, units, step):
                part = values[u : u + step]
                q[u : u + step] = np.nanquantile(part, self.resolve_level, axis=1, method="lower")
        lo = self._lo.numpy().copy()
        hi = self._hi.numpy().copy()
        lo[~np.isfinite(lo)] = np.nan  # no finite value at all
        hi[~np.isfinite(hi)] = np.nan
        return edges_from_range(q, lo, hi, self.bins)


def edges_from_range(q: np.ndarray, lo: np.ndarray, hi: np.ndarray, bins: int) -> np.ndarray:
    """Edges ``(U, bins+1)`` from each unit's ``e1`` candidate ``q``, minimum and maximum.

    Bin 0 is ``(-inf, e1)``; bins ``1..bins-2`` are uniform with a power-of-two width aligned to
    a multiple of it, so each edge is exact in float32 and a value's bin is found by one
    multiplication; bin ``bins-1`` is ``[top, inf)``.
    """
    units = len(q)
    edges = np.empty((units, bins + 1), dtype=np.float64)
    for u in range(units):
        e1, low, high = float(q[u]), float(lo[u]), float(hi[u])
        if not math.isfinite(e1):
            e1, low, high = 0.0, 0.0, 1.0
        if e1 <= low:  # a spike at the minimum (ReLU zeros): keep it out of the resolved bins
            e1 = float(np.nextafter(np.float32(low), np.float32(np.inf)))
        span = high - e1
        if not span > 0:
            span = max(abs(e1), 1.0) * 1e-3
        width = _exact_pow2(span * 1.1 / (bins - 2))
        if e1 != 0.0:  # keep |e1| / width < 2**15 so every edge has an exact float32
            width = max(width, math.ldexp(1.0, math.frexp(abs(e1))[1] - 15))
        width = max(width, math.ldexp(1.0, -100))
        start = math.ceil(e1 / width) * width
        edges[u, 0] = -np.inf
        edges[u, 1:bins] = start + width * np.arange(bins - 1)
        edges[u, bins] = np.inf
    assert np.array_equal(edges.astype(np.float32).astype(np.float64), edges)
    return edges


def calibrate_edges(
    acts: torch.Tensor,
    bins: int,
    resolve_level: float,
    size: tuple[int, int] | None = None,
    budget_bytes: int | None = None,
) -> np.ndarray:
    """Per-unit bin edges ``(U, bins+1)`` from all calibration activations ``(M, U, h, w)``.

    One :class:`EdgeCalibrator` fed with ``acts`` at once; ``size`` is the labels' size.
    """
    m, units, h, w = acts.shape
    cal = EdgeCalibrator(units, (h, w), size, m, bins, resolve_level, budget_bytes)
    cal.add(acts)
    return cal.edges()


def forward_traced(
    models: Models, layers: list[str], ids: range
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Images ``(n, 3, H, W)`` of samples ``ids`` and each layer's output ``(n, U, h, w)``."""
    with torch.no_grad(), TraceDict(models.generator, layers) as td:
        images = models.sample(ids)
    return {name: td[name] for name in layers}, images


def calibrate(
    models: Models, config: DissectConfig
) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, int, int]]]:
    """Bin edges per layer from samples ``0..calibration_samples-1`` (the same for every shard).

    Streams batch by batch: memory is the plan's float32 values per layer (logged before the
    second batch), never the calibration activations themselves.
    """
    count = min(config.calibration_samples, config.samples)
    layers = list(config.layers)
    budget = config.calibration_mb * 2**20
    cals: dict[str, EdgeCalibrator] = {}
    shapes: dict[str, tuple[int, int, int]] = {}
    for start in range(0, count, config.batch_size):
        ids = range(start, min(start + config.batch_size, count))
        acts, images = forward_traced(models, layers, ids)
        if not cals:
            # Edges follow the activations as the pass sees them: at the labels' size.
            seg_size = None
            if not config.downsample_segmentation:
                seg_size = tuple(models.segment(images[:1]).shape[1:])
            for name, a in acts.items():
                units, h, w = (int(d) for d in a.shape[1:])
                shapes[name] = (units, h, w)
                cals[name] = EdgeCalibrator(
                    units,
                    (h, w),
                    seg_size,  # type: ignore[arg-type]
                    count,
                    config.bins,
                    config.effective_resolve_level,
                    budget,
                )
            _log_plans(cals)
        for name, a in acts.items():
            cals[name].add(a)
    return {name: cal.edges() for name, cal in cals.items()}, shapes


def _log_plans(cals: dict[str, EdgeCalibrator]) -> None:
    for name, cal in cals.items():
        plan = cal.plan
        log.info(
            "calibration of %s: %d samples x %d units x %d values (stride %d%s) = %.1f MiB",
            name,
            plan.samples,
            plan.units,
            plan.grid[0] * plan.grid[1],
            plan.stride,
            " on the upsampled map" if plan.upsampled else "",
            plan.bytes / 2**20,
        )

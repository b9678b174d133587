"""Paint brushes: a concept's units chosen for their causal effect, measured before offering.

Usage::

    from dissect_report.paint.brushes import BrushSettings, make_brush
    brush = make_brush(models, "layer2", "tree", levels, fallback=iou_top_units,
                       select=(dissect_seed, range(16)), measure=(heldout_seed, range(256, 288)))
    brush.units[: brush.n]          # the units the brush sets by default, strongest first
    brush.precision, brush.offered  # measured on held-out strokes; offered if >= 70%
    brush.place                     # measured where the concept belongs (cloud: in the sky)

What a brush is measured by (GANPaint's test, run here before the page offers it): on each
sample a stroke of ``stroke`` x ``stroke`` cells of the layer on the ground (cells the
segmenter labels ``ground``, grass for the built-in world, at least 75%; a concept that is
itself ground is stroked where it is not), the brush's units forced to their insertion
levels there, the image regenerated through the interventions' own edit hook and segmented.
Of the image pixels inside the stroke whose label changes, ``precision`` is the share that
become the concept; ``others`` says what the rest became; ``coverage`` is the share of the
whole stroke that became the concept. The same brush is measured where its concept belongs
(``place``): one held-out stroke per sample at the window where the concept occurs most often
in the dissection's selection samples (without it in that sample), so a cloud or mountain
brush is measured in the sky, chosen from the data rather than a list of concepts. A brush is
offered when either measurement reaches ``min_precision``.

How the units are chosen (GANPaint's optimized sets): a per-unit alpha in [0, 1] is learned
with Adam to make the segmenter see the concept inside the strokes (``-mean log p(concept)``
there, the segmenter's differentiable ``class_probs``), starting from the interventions' top
units by IoU (where the concept is represented in the layer); units rank by alpha. How many
the brush sets (``n``) is chosen by measurement on the selection samples (the dissection's,
never the held-out ones): among the ``n`` that paint at least ``min_coverage`` of the stroke
and come within 2 points of the best precision, the one that paints most of the stroke.
Without ``class_probs`` (or without gradients) the interventions' top units by IoU keep
their order and the same measurement picks ``n``.
A one-step linear estimate (each unit's gradient at alpha = 0) was tried and ranks badly
(15-39% precision on the built-in world): from grass, anything that lowers grass raises
log p(concept), so it picks units that paint roads and buildings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from dissect_report.interventions.optimize import gradient_problem, projected_step
from dissect_report.models import Models, to_numpy
from dissect_report.modeltools.batches import batches
from dissect_report.modeltools.edit import blend, edit, insert, trace
from dissect_report.modeltools.frozen import frozen

PRECISION_SLACK = 0.02  # n may give up this much precision to paint more of the stroke
GROUND = ("grass",)  # the built-in world's ground; a segmenter without it strokes anywhere low


@dataclass(frozen=True)
class BrushSettings:
    """How brushes are chosen and measured (PaintConfig carries the user-facing ones)."""

    stroke: int = 2  # stroke side in cells of the layer
    max_units: int = 32  # the most units a brush lists (the page's how-many control)
    sizes: tuple[int, ...] = (4, 8, 12, 16, 20, 24, 32)  # n tried on the selection samples
    min_coverage: float = 0.25  # n must paint at least this share of the stroke
    min_precision: float = 0.7  # offered only at or above this precision
    ground: tuple[str, ...] = GROUND
    select_samples: int = 16  # the dissection's samples 0.. (n is chosen on them)
    measure_samples: int = 32  # held-out samples the precision is measured on
    measure_first: int = 10_000  # their first id (clear of the ACE and Paint samples)
    batch_size: int = 16

    def measure_ids(self) -> range:
        return range(self.measure_first, self.measure_first + self.measure_samples)


@dataclass(frozen=True)
class Stroke:
    sample: int  # index into the latents it was found on
    row: int  # top-left cell on the layer
    col: int
    on_ground: bool


@dataclass(frozen=True)
class Score:
    """What a unit set painted over strokes: pixels counted in image pixels."""

    strokes: int
    region: int  # pixels inside the strokes
    changed: int  # of those, pixels whose label changed
    became: tuple[int, ...]  # (C,) what the changed pixels became

    def precision(self, concept: int) -> float:
        return self.became[concept] / self.changed if self.changed else math.nan

    def coverage(self, concept: int) -> float:
        return self.became[concept] / self.region if self.region else math.nan

    def others(self, concept: int, names: Sequence[str], top: int = 3) -> list[tuple[str, float]]:
        """The other concepts the changed pixels became, largest share first."""
        rows = [
            (names[k], v / self.changed)
            for k, v in enumerate(self.became)
            if k != concept and v > 0 and self.changed
        ]
        return sorted(rows, key=lambda t: (-t[1], t[0]))[:top]


@dataclass(frozen=True)
class Brush:
    """One concept's brush: ranked units, the default count and its measured precision."""

    concept: str
    method: str  # "optimized" (ranked by learned alpha) or "iou" (the interventions' top units)
    units: tuple[int, ...]  # strongest first; the page offers the first 1..len(units)
    n: int  # the default count (chosen on the selection samples)
    effects: tuple[float, ...]  # each listed unit's learned alpha (NaN under "iou")
    precision: float  # on the held-out strokes at n
    coverage: float
    others: tuple[tuple[str, float], ...]
    strokes: int  # held-out strokes measured
    on_ground: bool  # False when the concept had to be stroked elsewhere
    offered: bool
    selection: tuple[tuple[int, float, float], ...] = field(default=())  # (n, precision, coverage)
    place: Placed | None = None  # the same brush measured where the concept belongs


@dataclass(frozen=True)
class Placed:
    """A brush measured where its concept belongs: held-out strokes at the windows where the
    concept occurs most often in the dissection's samples (without it there), ``context`` the
    concept those strokes covered most before."""

    context: str
    precision: float
    coverage: float
    others: tuple[tuple[str, float], ...]
    strokes: int


def concept_prior(
    labels: torch.Tensor, concept: int, layer_hw: tuple[int, int], size: int
) -> np.ndarray:
    """(H - size + 1, W - size + 1): the concept's mean share of each stroke window over the
    samples ``labels`` (N, Hi, Wi): where in the image it naturally appears."""
    h, w = layer_hw
    present = (labels == concept).float().mean(0)  # (Hi, Wi)
    sy, sx = labels.shape[1] / h, labels.shape[2] / w
    out = np.zeros((h - size + 1, w - size + 1))
    for r in range(h - size + 1):
        for c in range(w - size + 1):
            out[r, c] = float(
                present[
                    int(r * sy) : int(math.ceil((r + size) * sy)),
                    int(c * sx) : int(math.ceil((c + size) * sx)),
                ].mean()
            )
    return out


def place_strokes(
    labels: torch.Tensor, concept: int, prior: np.ndarray, layer_hw: tuple[int, int], size: int
) -> tuple[list[Stroke], int | None]:
    """One stroke per sample where the concept is (nearly) absent, at the window where it is
    most often found (``prior``; ties: lowest, then left; never a window where it was never
    found: such a sample gets no stroke), and the concept those strokes covered most before
    (None without strokes). Deterministic."""
    h, w = layer_hw
    image_hw = (int(labels.shape[1]), int(labels.shape[2]))
    sy, sx = image_hw[0] / h, image_hw[1] / w
    order = sorted(
        ((r, c) for r in range(h - size + 1) for c in range(w - size + 1) if prior[r, c] > 0),
        key=lambda rc: (-prior[rc], -rc[0], rc[1]),
    )
    out, covered = [], []
    for j in range(labels.shape[0]):
        for r, c in order:
            box = labels[
                j,
                int(r * sy) : int(math.ceil((r + size) * sy)),
                int(c * sx) : int(math.ceil((c + size) * sx)),
            ]
            if float((box == concept).float().mean()) <= 0.05:
                out.append(Stroke(j, r, c, False))
                covered.append(box[box != concept].flatten())
                break
    if not out:
        return [], None
    counts = torch.bincount(torch.cat(covered))
    return out, int(counts.argmax())


def _region_cells(strokes: Sequence[Stroke], size: int, hw: tuple[int, int]) -> torch.Tensor:
    masks = torch.zeros(len(strokes), 1, *hw)
    for k, s in enumerate(strokes):
        masks[k, 0, s.row : s.row + size, s.col : s.col + size] = 1.0
    return masks


def _image_region(cells: torch.Tensor, image_hw: tuple[int, int]) -> torch.Tensor:
    """(N, Hi, Wi) bool: the image pixels a cell mask covers (nearest upsampling)."""
    return F.interpolate(cells, size=image_hw, mode="nearest")[:, 0] > 0.5


def find_strokes(
    labels: torch.Tensor,
    concept: int,
    layer_hw: tuple[int, int],
    size: int,
    ground: Sequence[int],
) -> list[Stroke]:
    """One stroke per sample where the concept is (nearly) absent: on the ground if there is
    ground (at least 75% of the stroke), else the lowest such window. Deterministic."""
    h, w = layer_hw
    image_hw = (int(labels.shape[1]), int(labels.shape[2]))
    sy, sx = image_hw[0] / h, image_hw[1] / w
    ground_set = torch.tensor(sorted(set(ground)), dtype=torch.long)
    out = []
    for j in range(labels.shape[0]):
        best: tuple[float, int, int, bool] | None = None
        for r in range(h - size + 1):
            for c in range(w - size + 1):
                box = labels[
                    j,
                    int(r * sy) : int(math.ceil((r + size) * sy)),
                    int(c * sx) : int(math.ceil((c + size) * sx)),
                ]
                if float((box == concept).float().mean()) > 0.05:
                    continue
                share = float(torch.isin(box, ground_set).float().mean()) if len(ground) else 0.0
                on = share >= 0.75
                key = (share if on else -1.0, r, -c, on)  # most ground, then lowest, then left
                if best is None or key[:3] > best[:3]:
                    best = key
        if best is not None:
            out.append(Stroke(j, best[1], -best[2], best[3]))
    if any(s.on_ground for s in out):
        out = [s for s in out if s.on_ground]
    return out


def score(
    models: Models,
    layer: str,
    z: torch.Tensor,
    before: torch.Tensor,
    strokes: Sequence[Stroke],
    size: int,
    layer_hw: tuple[int, int],
    units: Sequence[int],
    levels: torch.Tensor,
    batch_size: int = 16,
) -> Score:
    """Paint ``units`` at ``levels`` over each stroke (the page's add edit) and count labels."""
    n_concepts = len(models.concepts)
    image_hw = (int(before.shape[1]), int(before.shape[2]))
    became = np.zeros(n_concepts, np.int64)
    region_total = changed_total = 0
    with frozen(models.generator):
        for chunk in batches(range(len(strokes)), batch_size):
            picked = [strokes[k] for k in chunk]
            cells = models.place(_region_cells(picked, size, layer_hw))
            ids = [s.sample for s in picked]
            level = models.place(levels)
            with edit(models.generator, layer, insert(list(units), level, region=cells)):
                after = models.segment(models.generate(z[ids])).cpu()
            region = _image_region(cells.cpu(), image_hw)
            changed = region & (after != before[ids])
            region_total += int(region.sum())
            changed_total += int(changed.sum())
            became += torch.bincount(after[changed], minlength=n_concepts).numpy()
    return Score(len(strokes), region_total, changed_total, tuple(int(v) for v in became))


def optimize_brush(
    models: Models,
    layer: str,
    z: torch.Tensor,
    strokes: Sequence[Stroke],
    size: int,
    layer_hw: tuple[int, int],
    concept: int,
    levels: torch.Tensor,
    start: Sequence[int],
    steps: int = 12,
    lr: float = 0.1,
    batch: int = 8,
) -> np.ndarray:
    """(U,) alpha in [0, 1] learned to paint the concept inside the strokes (GANPaint's sets).

    Adam on ``-mean log p(concept)`` over the stroke's pixels with the units blended toward
    their levels by alpha there; starts from 0.5 on ``start`` (the IoU-ranked units) and 0.05
    elsewhere; ``batch`` strokes per step in a fixed rotation.
    """
    init = torch.full((len(levels),), 0.05)
    init[torch.as_tensor(list(start), dtype=torch.long)] = 0.5
    alpha = models.place(init).requires_grad_(True)
    target = models.place(levels)
    opt = torch.optim.Adam([alpha], lr=lr)
    seg_module = models.segmenter if isinstance(models.segmenter, torch.nn.Module) else None
    net = getattr(models.segmenter, "net", None)
    with frozen(models.generator, seg_module, net if isinstance(net, torch.nn.Module) else None):
        for step in range(steps):
            picked = [
                strokes[(step * batch + i) % len(strokes)] for i in range(min(batch, len(strokes)))
            ]
            cells = models.place(_region_cells(picked, size, layer_hw))
            with torch.enable_grad(), edit(models.generator, layer, blend(alpha, target, cells)):
                images = models.generate(z[[s.sample for s in picked]], grad=True)
                probs = models.class_probs(images)
                region = _image_region(cells, (int(probs.shape[2]), int(probs.shape[3])))
                logp = torch.log(probs[:, concept] + 1e-30)  # no clamp: it kills gradients
                loss = -(logp * region).sum() / region.sum().clamp_min(1)
                (grad,) = torch.autograd.grad(loss, [alpha])
            projected_step(opt, alpha, grad)
    return to_numpy(alpha.double())


def make_brush(
    models: Models,
    layer: str,
    concept: str,
    levels: torch.Tensor,
    fallback: Sequence[int],
    select: tuple[int, Sequence[int]],
    measure: tuple[int, Sequence[int]],
    settings: BrushSettings | None = None,
) -> Brush:
    """The brush for ``concept``: units ranked by effect, n chosen on ``select`` samples
    (seed, ids), precision measured on ``measure`` samples (seed, ids); see the module doc."""
    s = settings or BrushSettings()
    names = models.concepts
    c = names.index(concept)
    ground = [names.index(g) for g in s.ground if g in names and g != concept]
    sel_z = models.latents(select[1], seed=select[0])
    mea_z = models.latents(measure[1], seed=measure[0])
    with frozen(models.generator):
        sel_before = _labels(models, sel_z, s.batch_size)
        mea_before = _labels(models, mea_z, s.batch_size)
        probe = _layer_hw(models, layer, sel_z[:1])
    sel_strokes = find_strokes(sel_before, c, probe, s.stroke, ground)
    mea_strokes = find_strokes(mea_before, c, probe, s.stroke, ground)
    method, effects = "iou", np.full(len(levels), math.nan)
    ranked = [int(u) for u in fallback]
    if sel_strokes and gradient_problem(models, layer, sel_z) is None:
        start = ranked[: s.max_units]
        effects = optimize_brush(
            models, layer, sel_z, sel_strokes, s.stroke, probe, c, levels, start
        )
        ranked = [int(u) for u in sorted(range(len(effects)), key=lambda u: (-effects[u], u))]
        method = "optimized"
    ranked = ranked[: s.max_units]
    tried: list[tuple[int, float, float]] = []
    for n in sorted({min(k, len(ranked)) for k in s.sizes if k >= 1} - {0}):
        got = score(
            models, layer, sel_z, sel_before, sel_strokes, s.stroke, probe, ranked[:n], levels
        )
        tried.append((n, got.precision(c), got.coverage(c)))
    n = _choose(tried, s.min_coverage, len(ranked))
    held = score(models, layer, mea_z, mea_before, mea_strokes, s.stroke, probe, ranked[:n], levels)
    precision = held.precision(c)
    place = None
    prior = concept_prior(sel_before, c, probe, s.stroke)
    if prior.max() > 0:  # the concept occurs in the dissection's samples: measure it there too
        strokes, context = place_strokes(mea_before, c, prior, probe, s.stroke)
        if strokes and context is not None:
            got = score(
                models, layer, mea_z, mea_before, strokes, s.stroke, probe, ranked[:n], levels
            )
            place = Placed(
                names[context], got.precision(c), got.coverage(c), tuple(got.others(c, names)),
                got.strokes,
            )  # fmt: skip
    return Brush(
        concept=concept,
        method=method,
        units=tuple(ranked),
        n=n,
        effects=tuple(float(effects[u]) for u in ranked),
        precision=precision,
        coverage=held.coverage(c),
        others=tuple(held.others(c, names)),
        strokes=held.strokes,
        on_ground=bool(mea_strokes) and all(st.on_ground for st in mea_strokes),
        # Offered where it works: on the ground, or where its concept belongs (the page says which).
        offered=bool(precision >= s.min_precision)
        or (place is not None and bool(place.precision >= s.min_precision)),
        selection=tuple(tried),
        place=place,
    )


def _choose(tried: Sequence[tuple[int, float, float]], min_coverage: float, most: int) -> int:
    """The n that paints most of the stroke among those within ``PRECISION_SLACK`` of the best
    precision (of the n covering ``min_coverage``); else the n with the best coverage."""
    good = [t for t in tried if t[2] >= min_coverage and not math.isnan(t[1])]
    if good:
        best = max(t[1] for t in good)
        near = [t for t in good if t[1] >= best - PRECISION_SLACK]
        return max(near, key=lambda t: (t[2], -t[0]))[0]
    finite = [t for t in tried if not math.isnan(t[2])]
    return max(finite, key=lambda t: (t[2], -t[0]))[0] if finite else most


def _labels(models: Models, z: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat(
        [models.segment(models.generate(z[b])).cpu() for b in batches(range(len(z)), batch_size)]
    )


def _layer_hw(models: Models, layer: str, z: torch.Tensor) -> tuple[int, int]:
    with trace(models.generator, layer) as t:
        models.generate(z)
    assert t.output is not None
    return int(t.output.shape[2]), int(t.output.shape[3])

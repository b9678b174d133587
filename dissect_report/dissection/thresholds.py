"""Thresholds, IoU and IQR from a :class:`~dissect_report.dissection.stats.LayerState`, exact at bin edges.

Usage::

    from dissect_report.dissection.thresholds import score_units
    scores = score_units(state, policy="iqr")   # or "quantile" (at level=0.99), "max-iou"
    scores.threshold      # (U,) the unit's threshold: its mask is ``activation >= threshold``
    scores.iou            # (U, C) IoU of every unit x concept at the unit's threshold (iqr:
                          # at the pair's own IQR-maximizing threshold, as GAN Dissection)
    scores.iqr            # (U, C) information quality ratio (mutual information / joint entropy)
    best = concept_ious(state)
    best.iou              # (U, C) IoU of unit u with concept c at its best threshold for c
    labelled = interpretable(state, scores, iou_floor=0.04)   # (U,) bool, with the guards

Every candidate threshold is a bin edge ``edges[u, b]`` with ``b >= 1``; the pixels at or
above it are exactly the bins ``b..B-1``, so the counts give IoU and IQR without rounding.
Non-finite activations count as below every threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dissect_report.dissection.stats import LayerState

POLICIES = ("quantile", "iqr", "max-iou")
_CHUNK_CELLS = 1 << 18  # unit x bin x concept cells scored at a time


@dataclass(frozen=True)
class UnitScores:
    """Per-unit threshold and unit x concept scores at it."""

    bin: np.ndarray  # (U,) int64, index of the threshold edge
    threshold: np.ndarray  # (U,) float64
    iou: np.ndarray  # (U, C) float64
    iqr: np.ndarray  # (U, C) float64
    # (U, C) float64: the threshold each iou / iqr was taken at (iqr: the pair's own; other
    # policies: the unit's one threshold in every column). None means ``threshold``.
    concept_threshold: np.ndarray | None = None
    concept_bin: np.ndarray | None = None  # (U, C) int64: the edge of ``concept_threshold``
    # (U,) int64: the concept each unit is reported with when it is not its top concept by
    # IoU (a guard refused that one: see dissection.labels); None means ``top``.
    label: np.ndarray | None = None

    def at(self, unit: int, concept: int) -> float:
        """The threshold at which ``iou[unit, concept]`` was measured."""
        if self.concept_threshold is None:
            return float(self.threshold[unit])
        return float(self.concept_threshold[unit, concept])

    @property
    def top(self) -> np.ndarray:
        """(U,) index of the best concept by IoU (ties: lowest index)."""
        return np.argmax(self.iou, axis=1)

    @property
    def best(self) -> np.ndarray:
        """(U,) the unit's concept: its :attr:`top` one, or, where a label guard refused that,
        the best-scoring concept that passes every guard (``label``); ``bin``/``threshold``
        are that concept's."""
        return self.top if self.label is None else self.label

    def bins(self) -> np.ndarray:
        """(U, C) the threshold edge of every unit x concept score (``bin`` in every column
        for the policies with one threshold per unit)."""
        if self.concept_bin is not None:
            return self.concept_bin
        return np.repeat(self.bin[:, None], self.iou.shape[1], axis=1)

    def relabel(self, label: np.ndarray, edges: np.ndarray) -> UnitScores:
        """These scores with unit ``u`` reported as concept ``label[u]``: its threshold (and
        so its mask) becomes that pair's own; ``edges`` is the state's ``(U, B+1)`` edges."""
        rows = np.arange(len(label))
        bins = self.bins()[rows, label]
        return replace(self, bin=bins, threshold=edges[rows, bins], label=label)


def tails(state: LayerState) -> tuple[np.ndarray, np.ndarray]:
    """Pixels at or above each edge: ``(U, B, C)`` by concept and ``(U, B)`` in all."""
    return _tails(state.counts, state.unit_hist)


def _xlogx_ratio(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / np.where(q > 0, q, 1)), 0.0)


def iou_iqr(
    inter: np.ndarray, mask: np.ndarray, concept: np.ndarray, total: float
) -> tuple[np.ndarray, np.ndarray]:
    """IoU and IQR from pixel counts (broadcasting): intersection, mask size, concept size.

    IQR = I(M; L) / H(M, L) of the binary unit mask ``M`` and concept mask ``L`` over all
    ``total`` pixels, as in GAN Dissection; 0 where the joint entropy is 0.
    """
    inter = inter.astype(np.float64)
    mask = np.broadcast_to(mask, inter.shape).astype(np.float64)
    concept = np.broadcast_to(concept, inter.shape).astype(np.float64)
    union = mask + concept - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    p11 = inter / total
    p10 = (mask - inter) / total
    p01 = (concept - inter) / total
    p00 = (total - mask - concept + inter) / total
    pm1, pl1 = mask / total, concept / total
    pm0, pl0 = 1.0 - pm1, 1.0 - pl1
    mi = (
        _xlogx_ratio(p11, pm1 * pl1)
        + _xlogx_ratio(p10, pm1 * pl0)
        + _xlogx_ratio(p01, pm0 * pl1)
        + _xlogx_ratio(p00, pm0 * pl0)
    )
    one = np.ones_like(p11)
    joint = -(
        _xlogx_ratio(p11, one)
        + _xlogx_ratio(p10, one)
        + _xlogx_ratio(p01, one)
        + _xlogx_ratio(p00, one)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        iqr = np.where(joint > 1e-15, mi / np.where(joint > 1e-15, joint, 1), 0.0)
    return iou, np.clip(iqr, 0.0, 1.0)


def choose_bins(state: LayerState, policy: str, level: float = 0.99) -> np.ndarray:
    """The threshold edge index ``b >= 1`` per unit under ``policy``.

    ``iqr`` here is one threshold per unit, the edge maximizing its best concept's IQR;
    :func:`score_units` gives the ``iqr`` policy per unit x concept thresholds instead.
    ``quantile``: the lowest edge whose mask holds at most ``1 - level`` of the unit's finite
    pixels, unless that mask is empty: when the quantile falls inside the unit's top occupied
    bin (a tie: a 0/1 detector, a unit saturating at a ReLU6 or hardtanh ceiling) that bin is
    kept, so the threshold is never above the unit's maximum and the mask holds somewhat more
    than ``1 - level`` (:func:`tied` says which units). ``max-iou``: the edge maximizing the
    best concept's IoU. Ties go to the lowest edge. Scored a few units
    at a time (see :func:`unit_chunks`).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}")
    if policy == "quantile":
        mask = np.flip(np.cumsum(np.flip(state.unit_hist, 1), axis=1), 1)
        finite = state.unit_hist.sum(axis=1, keepdims=True).astype(np.float64)
        ok = mask[:, 1:] <= (1.0 - level) * finite
        ok[:, -1] = True  # the top bin is the last resort
        bins = (np.argmax(ok, axis=1) + 1).astype(np.int64)
        every = np.arange(state.units)
        occupied = state.unit_hist[:, 1:] > 0  # resolved bins holding a pixel
        top = state.unit_hist.shape[1] - 1 - np.argmax(occupied[:, ::-1], axis=1)
        empty = (mask[every, bins] == 0) & occupied.any(axis=1)
        bins[empty] = top[empty]  # keep the tied top bin rather than an empty mask
        return bins
    total = float(state.concept_totals.sum())
    bins = np.empty(state.units, dtype=np.int64)
    for rows in unit_chunks(state):
        inter, mask = _tails(state.counts[rows], state.unit_hist[rows])
        args = (inter[:, 1:], mask[:, 1:, None], state.concept_totals[None, None, :], total)
        score = (iou_iqr(*args)[1] if policy == "iqr" else _iou(*args[:3])).max(axis=2)
        bins[rows] = np.argmax(score, axis=1) + 1  # (U, B-1) -> edge index
    return bins


def score_units(state: LayerState, policy: str = "iqr", level: float = 0.99) -> UnitScores:
    """Thresholds by ``policy`` and every unit x concept IoU / IQR at them.

    ``iqr`` follows GAN Dissection: each unit x concept pair gets its own threshold
    ``t_{u,c}`` maximizing their IQR, ``iou[u, c]`` / ``iqr[u, c]`` are taken there, and the
    unit's threshold (its mask) is ``t_{u,c}`` of its best concept by that IoU. The other
    policies choose one threshold per unit (:func:`choose_bins`) and score every concept at it.
    """
    if policy == "iqr":
        return _per_concept_iqr(state)
    bins = choose_bins(state, policy, level)
    rows = np.arange(state.units)
    # Pixels at or above each unit's threshold edge, without the (U, B, C) tails.
    above = np.arange(state.counts.shape[1])[None, :] >= bins[:, None]  # (U, B)
    inter = np.einsum("ubc,ub->uc", state.counts, above.astype(state.counts.dtype))
    mask = (state.unit_hist * above).sum(axis=1)
    total = float(state.concept_totals.sum())
    iou, iqr = iou_iqr(inter, mask[:, None], state.concept_totals[None, :], total)
    return UnitScores(bin=bins, threshold=state.edges[rows, bins], iou=iou, iqr=iqr)


def mask_share(unit_hist: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """(U,) share of each unit's finite pixels at or above its threshold edge ``bins``."""
    mask = np.flip(np.cumsum(np.flip(unit_hist, 1), axis=1), 1)
    finite = unit_hist.sum(axis=1).astype(np.float64)
    held = mask[np.arange(len(bins)), bins].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(finite > 0, held / np.where(finite > 0, finite, 1), 0.0)


def tied(unit_hist: np.ndarray, bins: np.ndarray, level: float) -> np.ndarray:
    """(U,) bool: the quantile fell inside a tie, so the mask holds more than ``1 - level``.

    Only the quantile policy aims at a share; :func:`choose_bins` keeps a tied top bin (and
    a quantile edge never holds more than ``1 - level`` otherwise), so this is exactly the
    units whose threshold was lowered to their top occupied bin.
    """
    return mask_share(unit_hist, bins) > (1.0 - level) * (1 + 1e-12)


def _per_concept_iqr(state: LayerState) -> UnitScores:
    """The ``iqr`` policy: per unit x concept IQR-maximizing thresholds (ties: lowest edge)."""
    units, _, concepts = state.counts.shape
    total = float(state.concept_totals.sum())
    iou = np.zeros((units, concepts), dtype=np.float64)
    iqr = np.zeros((units, concepts), dtype=np.float64)
    cbin = np.ones((units, concepts), dtype=np.int64)
    for rows in unit_chunks(state):
        inter, mask = _tails(state.counts[rows], state.unit_hist[rows])
        args = (inter[:, 1:], mask[:, 1:, None], state.concept_totals[None, None, :], total)
        i, q = iou_iqr(*args)  # (u, B-1, C)
        arg = np.argmax(q, axis=1)  # (u, C)
        cbin[rows] = arg + 1
        iou[rows] = np.take_along_axis(i, arg[:, None, :], axis=1)[:, 0, :]
        iqr[rows] = np.take_along_axis(q, arg[:, None, :], axis=1)[:, 0, :]
    best = np.argmax(iou, axis=1)
    bins = cbin[np.arange(units), best]
    return UnitScores(
        bin=bins,
        threshold=state.edges[np.arange(units), bins],
        iou=iou,
        iqr=iqr,
        concept_threshold=state.edges[np.arange(units)[:, None], cbin],
        concept_bin=cbin,
    )


@dataclass(frozen=True)
class ConceptIous:
    """Per unit and concept, the IoU at the threshold that is best for that concept."""

    bin: np.ndarray  # (U, C) int64, index of the threshold edge
    threshold: np.ndarray  # (U, C) float64
    iou: np.ndarray  # (U, C) float64


def concept_ious(state: LayerState) -> ConceptIous:
    """IoU of every unit x concept at its own threshold ``t_{u,c}`` (max over the bin edges).

    GAN Dissection thresholds each unit per concept; the unit's single threshold of
    :func:`score_units` (a 1% quantile, say) caps the IoU of a large concept such as sky. Here
    the candidates are the resolved edges (``b >= 1``), so the threshold never falls below the
    dissection's resolve level. Ties go to the lowest edge.
    """
    units, _, concepts = state.counts.shape
    bins = np.empty((units, concepts), dtype=np.int64)
    best = np.empty((units, concepts), dtype=np.float64)
    for rows in unit_chunks(state):
        inter, mask = _tails(state.counts[rows], state.unit_hist[rows])
        iou = _iou(inter[:, 1:], mask[:, 1:, None], state.concept_totals[None, None, :])
        arg = np.argmax(iou, axis=1)  # (u, C)
        bins[rows] = arg + 1
        best[rows] = np.take_along_axis(iou, arg[:, None, :], axis=1)[:, 0, :]
    return ConceptIous(
        bin=bins,
        threshold=state.edges[np.arange(units)[:, None], bins],
        iou=best,
    )


# Guards of the "interpretable" label, for every policy (see interpretable()).
MAX_COVERAGE = 0.9  # a mask over more of all pixels marks the image, not a region in it
MIN_LIFT = 1.5  # IoU over the IoU of a concept-blind mask of the same size


def chance_iou(coverage: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Expected IoU of a mask covering ``coverage`` of the pixels, placed blind to a concept
    covering ``share``: ``m p / (m + p - m p)``. At ``m = 1`` it is the IoU of the constant
    all-ones mask (``p``), at ``m = 0`` that of the all-zeros mask (0).
    """
    m, p = np.asarray(coverage, np.float64), np.asarray(share, np.float64)
    union = m + p - m * p
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, m * p / np.where(union > 0, union, 1), 0.0)


BELOW_FLOOR = "below the floor"
TOO_BROAD = "mask too broad"
CHANCE = "chance level"


def pair_guards(state: LayerState, scores: UnitScores, iou_floor: float) -> np.ndarray:
    """(U, C) str: ``""`` where unit x concept passes the label guards of :func:`interpretable`
    at the pair's own threshold, else the first one it fails (:data:`BELOW_FLOOR`,
    :data:`TOO_BROAD`, :data:`CHANCE`)."""
    units, concepts = scores.iou.shape
    out = np.full((units, concepts), "", dtype=object)
    total = float(state.concept_totals.sum())
    if total <= 0:
        out[:] = BELOW_FLOOR
        return out
    # pixels at or above each threshold: the unit histogram's tail (not the (U, B, C) counts)
    mask = state.unit_hist[:, ::-1].cumsum(axis=1)[:, ::-1]
    coverage = np.take_along_axis(mask, scores.bins(), axis=1) / total  # (U, C)
    share = state.concept_totals[None, :] / total
    chance = scores.iou < MIN_LIFT * chance_iou(coverage, share)
    out[chance] = CHANCE
    out[coverage > MAX_COVERAGE] = TOO_BROAD
    out[scores.iou < iou_floor] = BELOW_FLOOR
    return out


def interpretable(state: LayerState, scores: UnitScores, iou_floor: float) -> np.ndarray:
    """(U,) bool: the unit gets its concept (``scores.best``) as label.

    Three conditions, whatever the threshold policy: its IoU reaches ``iou_floor``; its mask
    covers at most :data:`MAX_COVERAGE` of all pixels (a unit that fires nearly everywhere
    draws no region); and its IoU is at least :data:`MIN_LIFT` times the IoU a mask of the
    same size would get by chance, which at full coverage is the constant mask's IoU (the
    concept's share). Without the last two, ``max-iou`` labels pure-noise units with the
    dominant concept (IoU 0.98 for a 98% background, at a threshold that keeps every pixel).
    The quantile policy's 1% masks are far from both guards. :func:`pair_guards` gives the
    same verdict for every unit x concept.
    """
    rows = np.arange(state.units)
    verdict: np.ndarray = pair_guards(state, scores, iou_floor)[rows, scores.best] == ""
    return verdict


def unit_chunks(state: LayerState) -> list[slice]:
    """Slices of units whose ``(u, B, C)`` score arrays hold about ``_CHUNK_CELLS`` cells.

    Scoring every edge makes ~20 float64 temporaries of the counts' shape: chunking keeps
    them at a few MB whatever the units and concepts (512 x 256 x 150 would be 3 GB at once).
    """
    units, bins, concepts = state.counts.shape
    step = max(1, _CHUNK_CELLS // max(1, bins * concepts))
    return [slice(u, min(units, u + step)) for u in range(0, units, step)]


def _tails(counts: np.ndarray, unit_hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inter = np.flip(np.cumsum(np.flip(counts, 1), axis=1), 1)
    mask = np.flip(np.cumsum(np.flip(unit_hist, 1), axis=1), 1)
    return inter, mask


def _iou(inter: np.ndarray, mask: np.ndarray, concept: np.ndarray) -> np.ndarray:
    """IoU alone, exactly as :func:`iou_iqr` computes it (broadcasting)."""
    inter = inter.astype(np.float64)
    union = mask.astype(np.float64) + concept.astype(np.float64) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)

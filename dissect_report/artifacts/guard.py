"""The damage guard: a repair set is kept only if the held-out samples say it helps and harms nothing.

Usage::

    checks = independent_checks(before, after, metric="fsd", max_label_change=0.1)
    verdict = decide(metric_row, checks, units=[5, 7], layer="layer4")
    verdict.status, verdict.repaired, verdict.reason

The quality metric (FSD to real images, or the discriminator's realism) chose the repair set on
the scoring samples. On separate held-out samples the set must (1) improve that metric (FSD:
lower; realism: higher by more than two standard errors of the paired per-sample change) and
(2) not degrade a check that the selection did not look at:

- ``realism`` (when the metric is FSD and the model has a discriminator): the mean logit must
  not drop by more than two standard errors of the per-sample paired difference;
- ``labels`` (always; the segmenter is independent of both metrics): the share of pixels whose
  segmenter label changes between each unedited image and its edited twin must stay at or
  below ``max_label_change``. A repair that removes an artifact changes few labels; one that
  paints stripes over faces or erases objects changes many. The largest shifts of concept
  shares are given as the detail.
"""

from __future__ import annotations

import math

import numpy as np

from dissect_report.artifacts.score import Scan
from dissect_report.reportdir.schema import ArtifactVerdict, RepairRow

# What the user can do when no quality metric is available (printed and shown on the site).
ENABLE_HINT = (
    "give --real-images DIR (a folder of PNG/JPEG, an .npz or a Parquet of real images: FSD) "
    "or --discriminator pkg.module:make (realism logits)"
)


def _paired(before: Scan, after: Scan) -> tuple[float, float]:
    """Mean per-sample realism change after - before, and its standard error."""
    assert before.realism is not None and after.realism is not None
    diff = after.realism - before.realism
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return float(diff.mean()), se


def metric_row(metric: str, before: Scan, after: Scan, reference: np.ndarray | None) -> RepairRow:
    """The quality metric on the held-out samples before/after (it must improve).

    Realism must improve by more than two standard errors of the paired per-sample change:
    a gain inside the noise (0.5 -> 0.5004 through a sigmoid) demonstrates nothing.
    """
    from dissect_report.metrics import frechet_distance

    if metric == "fsd":
        assert reference is not None
        b = frechet_distance(before.features, reference)
        a = frechet_distance(after.features, reference)
        return RepairRow.measured("fsd", "FSD to real images", b, a, True, "metric", a < b)
    assert before.realism is not None and after.realism is not None
    mean, se = _paired(before, after)
    ok = mean > 2 * se
    detail = f"change {mean:+.3g} (2 SE = {2 * se:.3g}): " + (
        "significant" if ok else "within the noise"
    )
    b, a = float(before.realism.mean()), float(after.realism.mean())
    label = "discriminator realism (mean logit)"
    return RepairRow.measured("realism", label, b, a, False, "metric", ok, detail)


def realism_check(before: Scan, after: Scan) -> RepairRow:
    """Realism must not drop by more than 2 standard errors of the paired per-sample change."""
    assert before.realism is not None and after.realism is not None
    mean, se = _paired(before, after)
    degraded = mean < 0 and -mean > 2 * se
    detail = f"change {mean:+.3g} (2 SE = {2 * se:.3g}): " + (
        "significantly lower" if degraded else "not significantly lower"
    )
    b, a = float(before.realism.mean()), float(after.realism.mean())
    return RepairRow.measured(
        "realism", "discriminator realism (mean logit)", b, a, False, "check", not degraded, detail
    )


def _shares(labels: np.ndarray, concepts: int) -> np.ndarray:
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=concepts)
    return counts / max(1, labels.size)


def label_check(
    before: Scan, after: Scan, concepts: list[str], max_label_change: float
) -> RepairRow:
    """Share of pixels whose segmenter label changes (0 before by definition); <= the limit."""
    assert before.labels is not None and after.labels is not None
    changed = float((before.labels != after.labels).mean())
    n = max(len(concepts), int(max(before.labels.max(), after.labels.max())) + 1)
    sb, sa = _shares(before.labels, n), _shares(after.labels, n)
    names = [*concepts, *(f"label {i}" for i in range(len(concepts), n))]
    moved = sorted(range(n), key=lambda c: (-abs(sa[c] - sb[c]), c))[:3]
    shifts = ", ".join(
        f"{names[c]} {100 * sb[c]:.1f}% -> {100 * sa[c]:.1f}%" for c in moved if sa[c] != sb[c]
    )
    ok = changed <= max_label_change
    detail = (
        f"{100 * changed:.1f}% of pixels change label (limit {100 * max_label_change:.0f}%)"
        + (f"; largest shifts: {shifts}" if shifts else "")
    )
    return RepairRow.measured("labels", "pixels whose segmenter label changes", 0.0, changed, True, "check",
                     ok, detail)  # fmt: skip


def independent_checks(
    metric: str, before: Scan, after: Scan, concepts: list[str], max_label_change: float
) -> list[RepairRow]:
    """The checks the selection did not look at (see the module docstring)."""
    checks = []
    if metric == "fsd" and before.realism is not None:
        checks.append(realism_check(before, after))
    checks.append(label_check(before, after, concepts, max_label_change))
    return checks


def _units(units: list[int]) -> str:
    return ("unit " if len(units) == 1 else "units ") + ", ".join(map(str, units))


def decide(
    layer: str, units: list[int], metric: RepairRow, checks: list[RepairRow]
) -> ArtifactVerdict:
    """Repaired if the metric improved on the held-out samples and no check degraded."""
    tried = tuple(units)
    names = _units(units)
    if not metric.passed:
        return ArtifactVerdict(
            "rejected",
            (),
            tried,
            f"Ablating {names} of {layer} did not improve {metric.label} on the held-out "
            f"samples ({metric.before:.4g} -> {metric.after:.4g}, {metric.direction}"
            + (f"; {metric.detail})" if metric.detail else ")"),
        )
    failed = [c for c in checks if not c.passed]
    if failed:
        what = "; ".join(f"{c.label}: {c.detail}" for c in failed)
        return ArtifactVerdict(
            "rejected",
            (),
            tried,
            f"Ablating {names} of {layer} improved {metric.label} but failed the "
            f"independent check ({what})",
        )
    return ArtifactVerdict(
        "repaired",
        tried,
        tried,
        f"Ablating {names} of {layer} improved {metric.label} on the held-out samples "
        f"({metric.before:.4g} -> {metric.after:.4g}, {metric.direction}) and passed "
        + ", ".join(c.label for c in checks),
    )


def no_metric(layer: str) -> ArtifactVerdict:
    """Nothing repaired because nothing measures image quality (no real images, no D)."""
    return ArtifactVerdict(
        "no-metric",
        (),
        (),
        f"Nothing was repaired on {layer}: there is no quality metric (the model has no "
        "discriminator and no real images were given), so no ablation can be shown to make "
        "the images better; the units are ranked only.",
        ENABLE_HINT,
    )


def none_confirmed(layer: str, metric: str, screened: int) -> ArtifactVerdict:
    return ArtifactVerdict(
        "none-confirmed",
        (),
        (),
        f"Nothing was repaired on {layer}: none of the {screened} screened units improved "
        f"{metric} when ablated alone (on all scoring samples and on each half)",
    )

"""A size budget for the site (``render --max-site-mb N``): what to leave out, in order.

Usage::

    from dissect_report.render.budget import Budget, ladder
    for budget in ladder(bands, max_mb=40):     # the full site first, then lighter ones
        ...                                      # build; stop at the first that fits
    budget.note()   # "Built within a 40 MB budget: the bands typical (40-60%) are left out ..."

The steps, each keeping all of the previous one's cuts: the zoom's full-size band files (only
reports with tiles over 128 px have them), then the example bands from the weakest up
(``typical``, ``95-99%``, ``99-99.9%``); the top band always stays. Sample pages follow the
bands: a sample gets a page when a band still on a unit page shows it. Unit pages keep their
histogram, masks, tables and search entry at every step, and say what was left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """What one build keeps: every band (``keep_bands`` None) or some, full-size zooms or not."""

    max_mb: float | None = None
    keep_bands: frozenset[str] | None = None
    full_zoom: bool = True
    left_out: tuple[str, ...] = ()  # labels of the bands left out, for the pages' note

    def note(self) -> str:
        """One sentence for the unit pages ("" when nothing was left out)."""
        cuts = []
        if self.left_out:
            cuts.append("the example bands " + ", ".join(self.left_out) + " are left out")
        if not self.full_zoom:
            cuts.append("the zoom shows the tiles at page size")
        if not cuts:
            return ""
        return (
            f"This site was built within a {self.max_mb:g} MB budget: "
            + " and ".join(cuts)
            + " (the report has them; render without --max-site-mb to show them)."
        )


def ladder(
    bands: Sequence[tuple[str, str]], max_mb: float | None, full_files: bool = True
) -> list[Budget]:
    """The builds to try, fullest first: ``bands`` are ``(key, label)`` strongest first;
    ``full_files``: whether the report has full-size zoom files (tiles over 128 px)."""
    if max_mb is None:
        return [Budget()]
    steps = [Budget(max_mb)] + ([Budget(max_mb, full_zoom=False)] if full_files else [])
    keys = [k for k, _ in bands]
    labels = dict(bands)
    for cut in range(1, len(keys)):
        kept, gone = keys[: len(keys) - cut], keys[len(keys) - cut :]
        steps.append(
            Budget(
                max_mb,
                keep_bands=frozenset(kept),
                full_zoom=False,
                left_out=tuple(labels[k] for k in reversed(gone)),
            )
        )
    return steps

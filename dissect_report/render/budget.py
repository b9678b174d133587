"""A size budget for the site (``render --max-site-mb N``): what to leave out, in order.

Usage::

    from dissect_report.render.budget import Budget, ladder
    for budget in ladder(bands, max_mb=40):     # the full site first, then lighter ones
        ...                                      # build; stop at the first that fits
    budget.note()   # "Built within a 40 MB budget: the bands typical (40-60%) are left out ..."

Sample pages are budgeted from the start: a sample gets a page when one of the
:data:`SAMPLE_BANDS` strongest bands of some unit shows it (its tiles in weaker bands show
its id and activation, unlinked); without this the built-in world's 958 sample pages would
outweigh its 448 unit pages. Then, each step keeping the previous one's cuts: the zoom's
full-size band files of the top band (only reports with tiles over 128 px have them;
weaker bands always zoom at page size), sample pages for the
top band only, then the example bands from the weakest up (``typical``, ``95-99%``,
``99-99.9%``); the top band always stays. Unit pages keep their histogram, masks, tables and
search entry at every step, and say what was left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from dissect_report.render.examples import Examples

SAMPLE_BANDS = 2  # sample pages for the samples of each unit's strongest two bands


@dataclass(frozen=True)
class Budget:
    """What one build keeps: every band (``keep_bands`` None) or some, full-size zooms or not."""

    max_mb: float | None = None
    keep_bands: frozenset[str] | None = None
    full_zoom: bool = True
    left_out: tuple[str, ...] = ()  # labels of the bands left out, for the pages' note
    sample_bands: frozenset[str] | None = None  # bands whose samples get pages (None: all)
    fewer_sample_pages: bool = False  # cut to the top band's samples by the budget
    met: bool = True  # False: even the lightest build is over max_mb (the note says so)

    def paged_samples(self, examples: Mapping[str, Examples | None]) -> frozenset[int] | None:
        """The samples that get a page (None: every sample with an image)."""
        if self.sample_bands is None and self.keep_bands is None:
            return None
        return frozenset(
            s.sample
            for ex in examples.values()
            if ex is not None
            for shown in ex.by_unit.values()
            for s in shown
            if (self.sample_bands is None or s.band in self.sample_bands)
            and (self.keep_bands is None or s.band in self.keep_bands)
        )

    def note(self) -> str:
        """One sentence for the unit pages ("" when nothing was left out)."""
        cuts = []
        if self.left_out:
            cuts.append("the example bands " + ", ".join(self.left_out) + " are left out")
        if not self.full_zoom:
            cuts.append("the zoom shows the top band at page size")
        if self.fewer_sample_pages:
            cuts.append("only the top band's samples have a page")
        if not self.met:
            return (
                f"This site is over its {self.max_mb:g} MB budget even with "
                + (" and ".join(cuts) if cuts else "nothing more to leave out")
                + " (the report has everything; render without --max-site-mb to show it)."
            )
        if not cuts:
            return ""
        return (
            f"This site was built within a {self.max_mb:g} MB budget: "
            + " and ".join(cuts)
            + " (the report has them; render without --max-site-mb to show them)."
        )


def ladder(
    bands: Sequence[tuple[str, str]],
    max_mb: float | None,
    full_files: bool = True,
    all_sample_pages: bool = False,
) -> list[Budget]:
    """The builds to try, fullest first: ``bands`` are ``(key, label)`` strongest first;
    ``full_files``: whether the report has full-size zoom files (tiles over 128 px)."""
    keys = [k for k, _ in bands]
    paged = None if all_sample_pages or not keys else frozenset(keys[:SAMPLE_BANDS])
    first = Budget(max_mb, sample_bands=paged)
    if max_mb is None:
        return [first]
    steps = [first] + ([replace(first, full_zoom=False)] if full_files else [])
    if len(keys) > 1:
        steps.append(replace(steps[-1], sample_bands=frozenset(keys[:1]), fewer_sample_pages=True))
    labels = dict(bands)
    for cut in range(1, len(keys)):
        kept, gone = keys[: len(keys) - cut], keys[len(keys) - cut :]
        steps.append(
            Budget(
                max_mb,
                keep_bands=frozenset(kept),
                full_zoom=False,
                left_out=tuple(labels[k] for k in reversed(gone)),
                sample_bands=frozenset(keys[:1]),
                fewer_sample_pages=len(keys) > 1,
            )
        )
    return steps

"""Eval mode and frozen parameters for a block of code, restored after.

Usage::

    from dissect_report.modeltools.frozen import frozen
    with frozen(models.generator, models.discriminator):
        images = models.generate(z)           # BatchNorm uses its running statistics

Eval mode makes each sample's output independent of its batch (BatchNorm uses its running
statistics); frozen parameters keep gradient graphs (alpha optimization) off the weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def frozen(*modules: object) -> Iterator[None]:
    """Eval mode and ``requires_grad=False`` on every parameter inside the block; restored after.

    Objects that are not modules (plain callables, ``None``) are skipped.
    """
    saved: list[tuple[nn.Module, bool]] = []
    grads: list[tuple[nn.Parameter, bool]] = []
    try:
        for m in modules:
            if not isinstance(m, nn.Module):
                continue
            saved.append((m, m.training))
            m.eval()
            for p in m.parameters():
                grads.append((p, p.requires_grad))
                p.requires_grad_(False)
        yield
    finally:
        for p, flag in grads:
            p.requires_grad_(flag)
        for m, mode in saved:
            m.train(mode)

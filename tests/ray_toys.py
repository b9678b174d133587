"""The planted toy, misbehaving only on the test cluster's nodes (``DR_TEST_NODE`` is set in
their environment), for tests/integration/test_ray_cluster.py.

Usage::

    dissect-report dissect --generator ray_toys:flaky_generator ... --engine ray

This module is on the driver's ``PYTHONPATH`` only: the Ray engine ships it to the nodes.
A fault hits the shard holding sample :data:`TARGET` (never calibration, which draws samples
``0 .. calibration_samples-1``), while the file named by the fault exists in ``DR_TEST_MARKERS``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from dissect_toys import Planted

from dissect_report.sampler import latents

NODE = "DR_TEST_NODE"  # the node's index (1, 2) in its processes' environment
MARKERS = "DR_TEST_MARKERS"
TARGET = 100  # the sample whose shard fails
SEED = 1


def _markers() -> Path:
    return Path(os.environ[MARKERS])


def _claim(name: str) -> bool:
    """True exactly once per marker name, across all processes of all nodes (O_EXCL)."""
    try:
        os.close(os.open(_markers() / name, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def _holds_target(z: torch.Tensor) -> bool:
    target = latents(SEED, [TARGET], z.shape[1])[0]
    return bool((z == target).all(dim=1).any())


class Flaky(Planted):
    """Raises in the target's shard: once (``raise_once``) or every time (``raise_always``)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if os.environ.get(NODE) and _holds_target(z):
            if (_markers() / "raise_always").exists():
                raise RuntimeError("flaky storage (test): always")
            if (_markers() / "raise_once").exists() and _claim("raised_once"):
                raise RuntimeError("flaky storage (test): once")
        return super().forward(z)


def flaky_generator() -> Flaky:
    return Flaky()


class Slow(Planted):
    """Takes :attr:`delay` seconds a batch on a node and leaves ``batch.<node>`` markers, so a
    test can kill a node while it works."""

    delay = 0.4

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        node = os.environ.get(NODE)
        if node:
            (_markers() / f"batch.{node}").touch()
            time.sleep(self.delay)
        return super().forward(z)


def slow_generator() -> Slow:
    return Slow()

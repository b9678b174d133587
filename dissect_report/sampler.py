"""Latent sampling where sample ``i`` of a run is a pure function of ``(seed, i)``.

Usage::

    from dissect_report.sampler import latents, shard_range
    z = latents(seed=1, ids=range(100, 164), z_dim=128)   # (64, 128), same rows in any batching
    start, stop = shard_range(samples=2000, index=2, count=4)   # (500, 1000)

Each sample gets its own generator seeded from a hash of ``(seed, i)``: any sample can be
regenerated alone (the visualize step does), shards never overlap, and the values do not
depend on the batch a sample falls in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import torch

from dissect_report.errors import ConfigError


def sample_seed(seed: int, index: int) -> int:
    """The 63-bit seed of sample ``index`` of a run seeded ``seed``."""
    digest = hashlib.blake2b(f"dissect-report:{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def latents(seed: int, ids: Iterable[int], z_dim: int) -> torch.Tensor:
    """Standard-normal latents ``(len(ids), z_dim)``, row ``k`` a function of ``(seed, ids[k])``."""
    rows = []
    gen = torch.Generator()
    for i in ids:
        gen.manual_seed(sample_seed(seed, int(i)))
        rows.append(torch.randn(z_dim, generator=gen))
    if not rows:
        return torch.empty(0, z_dim)
    return torch.stack(rows)


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``; shards count from 1."""
    try:
        index_s, count_s = text.split("/")
        index, count = int(index_s), int(count_s)
    except ValueError:
        raise ConfigError(f"invalid shard {text!r}; expected i/n such as 1/4") from None
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"invalid shard {text!r}; need 1 <= i <= n")
    return index, count


def shard_range(samples: int, index: int, count: int) -> tuple[int, int]:
    """The contiguous sample ids ``[start, stop)`` of shard ``index`` (1-based) of ``count``."""
    start = (index - 1) * samples // count
    stop = index * samples // count
    if stop <= start:
        raise ConfigError(f"shard {index}/{count} of {samples} samples is empty")
    return start, stop

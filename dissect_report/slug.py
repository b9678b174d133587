"""Turn user-supplied names (layers, concepts, models) into safe path components.

Usage::

    >>> slugify("synthesis.b16.conv0")
    'synthesis.b16.conv0'
    >>> slugify("<script>alert(1)</script>")
    'script-alert-1-script'
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def slugify(name: str) -> str:
    """A lower-case path component of ``[a-z0-9._-]``; never empty, ``.`` or ``..``.

    Names that slug to nothing get a short hash so that distinct names stay distinct.
    """
    slug = _UNSAFE.sub("-", name.lower()).strip("-.")
    if not slug:
        slug = "x-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return slug


def unique_slugs(names: list[str]) -> dict[str, str]:
    """Slug every name, appending ``-2``, ``-3``... where two names slug alike."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = slugify(name)
        slug, i = base, 2
        while slug in used:
            slug, i = f"{base}-{i}", i + 1
        used.add(slug)
        out[name] = slug
    return out

"""Turn user-supplied names (layers, concepts, models) into safe path components.

Usage::

    >>> slugify("synthesis.b16.conv0")
    'synthesis.b16.conv0'
    >>> slugify("<script>alert(1)</script>")
    'script-alert-1-script-5c140d35'

Display names are never changed (the manifest keeps them exactly); only paths use slugs.
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^a-z0-9._-]+")
# Well under every file system's 255-byte component limit, with room for suffixes such as
# ".png", "-thumb.png" or a unique_slugs "-2".
MAX_LEN = 64
_HASH = 8


def slugify(name: str) -> str:
    """An ASCII path component of ``[a-z0-9._-]``, at most :data:`MAX_LEN` characters.

    A name that is already such a component is its own slug. Any other (upper case, spaces,
    emoji, a 500-character name) is cut down and given the first 8 hex digits of its UTF-8
    SHA-256, so distinct names keep distinct slugs: ``"Tree"`` and ``"tree"`` differ, and
    two long names sharing their first 55 characters do too. Never empty, ``.`` or ``..``.
    """
    safe = _UNSAFE.sub("-", name.lower()).strip("-.")
    if safe == name and len(safe) <= MAX_LEN:
        return safe
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH]
    base = safe[: MAX_LEN - _HASH - 1].rstrip("-.")
    return f"{base}-{digest}" if base else f"x-{digest}"


def unique_slugs(names: list[str]) -> dict[str, str]:
    """Slug every name, appending ``-2``, ``-3``... where two names still slug alike."""
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

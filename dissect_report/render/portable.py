"""The manifest as a published site carries it: no absolute path of the machine that made it.

Usage::

    from dissect_report.render.portable import portable_manifest
    raw = portable_manifest(json.loads(Path("report/manifest.json").read_text()), root)
    raw["model"]["factory_file"]     # 'world/__init__.py' (was /home/me/venv/.../world/__init__.py)

A path inside the report becomes relative to it; any other absolute path becomes its file
name (the manifest keeps the file's SHA-256 beside it, which is what identifies it). The
command line's arguments are treated the same way. Concept and layer names are never touched.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

# Sections whose strings are names the pages and tables key on, never paths.
_NAMES = ("concepts", "layers")
_WINDOWS = re.compile(r"^[A-Za-z]:[\\/]")


def is_absolute(text: str) -> bool:
    """True for ``/x``, ``~/x``, ``C:\\x`` (a path of some machine, whichever)."""
    return (
        (len(text) > 1 and text[0] == "/" and text[1] != "/")
        or text.startswith("~/")
        or (bool(_WINDOWS.match(text)))
    )


def portable_path(text: str, root: Path) -> str:
    """``text`` relative to the report ``root`` when inside it, else its file name."""
    if not is_absolute(text):
        return text
    if not _WINDOWS.match(text):
        for base in {root, root.resolve()}:
            try:
                rel = PurePosixPath(text).relative_to(base.as_posix())
            except ValueError:
                continue
            return rel.as_posix() or "."
        return PurePosixPath(text).name or "."
    return PureWindowsPath(text).name or "."


def portable_command(command: str, root: Path) -> str:
    """A command line with each absolute path argument made portable (``--out=/x`` too)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    out = []
    for word in words:
        flag, eq, value = word.partition("=")
        if eq and flag.startswith("-"):
            out.append(f"{flag}={portable_path(value, root)}")
        else:
            out.append(portable_path(word, root))
    return shlex.join(out)


def _walk(value: Any, root: Path) -> Any:
    if isinstance(value, str):
        return portable_path(value, root)
    if isinstance(value, list):
        return [_walk(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, root) for k, v in value.items()}
    return value


def portable_manifest(raw: dict[str, Any], root: Path) -> dict[str, Any]:
    """``raw`` manifest JSON with every absolute path made portable (a new dict)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _NAMES:
            out[key] = value
        elif key == "command" and isinstance(value, str):
            out[key] = portable_command(value, root)
        else:
            out[key] = _walk(value, root)
    return out

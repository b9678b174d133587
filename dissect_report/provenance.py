"""What a report records of where it was made: the software environment and the model's source.

Usage::

    from dissect_report.provenance import environment, project_sources
    environment("cpu")      # {"python": "3.12.3", "torch": "2.13.0", "threads": 1, ...}
    project_sources("mypkg.gen:make_generator")
    # {"sha256": "9f...", "files": {"mypkg/gen.py": "1a...", "mypkg/helpers.py": "2b..."}}

A comparison names a changed entry as the probable cause of changed findings: another torch
or numpy, other thread counts or TF32 flags (numerics), or an edited helper module that the
factory imports (``model.source_files``). Paths are relative to the project, so a report made
on another machine records the same files.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import platform
import sys
from pathlib import Path
from typing import Any

# A factory's imports are followed this deep at most (a project is rarely deeper).
_MAX_FILES = 200


def environment(device: str) -> dict[str, Any]:
    """The versions and numeric settings that can move findings by float noise or more.

    Usage::

        environment("cpu")["torch"]        # "2.13.0"
    """
    import numpy as np
    import torch

    cuda = torch.backends.cuda.matmul
    return {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "platform": f"{platform.system()}-{platform.machine()}",
        "threads": int(torch.get_num_threads()),
        "device": str(device),
        "matmul_precision": str(torch.get_float32_matmul_precision()),
        "cuda_matmul_tf32": bool(cuda.allow_tf32),
        "cudnn_tf32": bool(torch.backends.cudnn.allow_tf32),
        "deterministic": bool(torch.are_deterministic_algorithms_enabled()),
    }


def _module_file(name: str) -> Path | None:
    """The source file of module ``name`` without importing it (None if none is found)."""
    module = sys.modules.get(name)
    found = getattr(module, "__file__", None) if module is not None else None
    if found is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        found = spec.origin if spec is not None else None
    if not found or not str(found).endswith(".py"):
        return None
    path = Path(found)
    return path if path.is_file() else None


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of the modules that ``path`` (in ``package``) imports."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - node.level + 1] if node.level > 1 else parts
                base = ".".join([*parts, base] if base else parts)
            if base:
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _root_of(module: str, path: Path) -> Path:
    """The directory that holds ``module``'s top-level package (or the module itself)."""
    depth = module.count(".") + (1 if path.name == "__init__.py" else 0)
    root = path.parent
    for _ in range(depth):
        root = root.parent
    return root


def project_sources(spec: str) -> dict[str, Any] | None:
    """SHA-256 of the factory's module and of every module of its project that it imports.

    Usage::

        project_sources("dissect_report.world:load_generator")["files"]

    The project is the factory's top-level package (or, for a top-level module, the
    modules beside it); imports are followed through the source (``ast``), transitively, so
    the answer does not depend on what happened to be imported. Returns ``None`` when the
    factory has no source file (a built-in).
    """
    module = spec.partition(":")[0]
    start = _module_file(module)
    if start is None:
        return None
    root = _root_of(module, start)
    top = module.split(".")[0]
    seen: dict[str, Path] = {}
    todo = [module]
    while todo and len(seen) < _MAX_FILES:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name) if name != module else start
        if path is None or not path.resolve().is_relative_to(root.resolve()):
            continue
        seen[name] = path
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for imported in sorted(_imports(path, package)):
            inside = imported.split(".")[0] == top if "." in module else True
            if inside and imported not in seen:
                todo.append(imported)
    files = {
        path.resolve().relative_to(root.resolve()).as_posix(): _sha256(path)
        for path in seen.values()
    }
    files = dict(sorted(files.items()))
    digest = hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in files.items()).encode())
    return {"sha256": digest.hexdigest(), "files": files}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

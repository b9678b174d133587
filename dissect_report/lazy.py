"""The one lazy-import helper of the package: public names that load on first use.

Usage::

    # in a package's __init__.py
    from dissect_report.lazy import lazy_exports

    __all__ = ["intervene", "InterventionConfig"]
    __getattr__, __dir__ = lazy_exports(
        __name__, {"intervene": ".stage", "InterventionConfig": ".settings"}
    )

Each name maps to the module that defines it (a leading ``.`` is relative to the package;
a value equal to ``package.name`` itself makes ``name`` a lazily imported submodule). The
returned ``__dir__`` lists the package's ``__all__``, so ``dir()``, tab completion and
``help()`` show the public API, not the machinery. Type checkers read the same names from an
``if TYPE_CHECKING:`` import block beside the call.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, attrs: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each of ``attrs`` imported on first use."""

    def resolve(spec: str) -> str:
        return package + spec if spec.startswith(".") else spec

    def __getattr__(name: str) -> Any:
        spec = attrs.get(name)
        if spec is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(resolve(spec))
        if module.__name__ == f"{package}.{name}":
            return module
        return getattr(module, name)

    def __dir__() -> list[str]:
        public = getattr(sys.modules[package], "__all__", None)
        return sorted(public if public is not None else attrs)

    return __getattr__, __dir__

"""Errors raised at the public boundary, and the one place that turns any failure into a line.

Usage::

    from dissect_report.errors import UserError, user_code
    raise UserError("unknown layer 'layr4'; layers: layer1, layer2")
    with user_code("segmenter"):          # an exception inside user code names its owner
        labels = segmenter.segment(images)
    line = one_line(exc)                  # what the CLI prints: 'error: ...'

The CLI turns any :class:`UserError`, any error of the environment (no space left, no
permission, no CUDA; see :func:`environment_problem`) into one line on stderr and exit code 2.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager


class UserError(Exception):
    """A problem with what the user gave us (a name, a file, a flag): never a bug."""


class ConfigError(UserError):
    """A configuration value is invalid."""


class ModelError(UserError):
    """A model, its weights or its outputs are unusable."""


class ReportError(UserError):
    """A report directory is missing, incomplete, corrupt or already exists."""


class ReportLocked(ReportError):
    """Another process is writing the same output directory."""


class SchemaError(ReportError):
    """A report's ``schema_version`` is one this version cannot read (or must not rewrite)."""


class EnvironmentProblem(UserError):
    """The machine, not the input: no space left, no permission, no CUDA."""


class UserCodeError(UserError):
    """An exception raised inside the user's own code (generator, segmenter, discriminator).

    Built by :meth:`wrap`: the message names the code and the exception; ``role`` and
    ``original`` are kept for ``--debug``. A plain ``UserCodeError(message)`` also works (a
    Ray worker's error is rebuilt on the driver from its message).
    """

    role: str = ""
    original: BaseException | None = None

    @classmethod
    def wrap(cls, role: str, exc: BaseException) -> UserError:
        """``exc`` as an error naming ``role``; a :class:`UserError` is returned unchanged."""
        if isinstance(exc, UserError):
            return exc
        problem = environment_problem(exc)
        if problem is not None:
            return problem
        error = cls(f"the {role} raised {type(exc).__name__}: {_first_line(exc)}")
        error.role, error.original = role, exc
        return error


@contextmanager
def user_code(role: str) -> Iterator[None]:
    """Run user code: anything it raises (but a :class:`UserError`) names ``role``.

    ``with user_code("generator"): images = generator(z)`` turns a ``RuntimeError`` of a
    mismatched latent into ``the generator raised RuntimeError: mat1 and mat2 ...``.
    """
    try:
        yield
    except Exception as exc:
        wrapped = UserCodeError.wrap(role, exc)
        if wrapped is exc:
            raise
        raise wrapped from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, KeyError) and exc.args:
        text = repr(exc.args[0])
    return text.splitlines()[0].strip() if text else "(no message)"


# errno -> what the user should read; these are the machine's problems, not ours.
_ENVIRONMENT = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.EMFILE: "too many open files",
    errno.ENAMETOOLONG: "file name too long",
    errno.EIO: "input/output error",
}


def environment_problem(exc: BaseException) -> EnvironmentProblem | None:
    """``exc`` as an :class:`EnvironmentProblem` if it is the machine's fault, else None.

    Covers an ``OSError`` with a known errno (also when a library wrapped one, as pyarrow and
    numpy do) and torch's errors for a CUDA device on a machine without one.
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:  # follow the library's wrapping
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno in _ENVIRONMENT:
            where = f": {cause.filename!r}" if cause.filename else ""
            return EnvironmentProblem(f"{_ENVIRONMENT[cause.errno]}{where}")
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    lowered = text.lower()
    for marker, errno_ in (("no space left", errno.ENOSPC), ("disk quota", errno.EDQUOT)):
        if marker in lowered:  # pyarrow/numpy wrap the OSError into their own text
            return EnvironmentProblem(f"{_ENVIRONMENT[errno_]} ({_first_line(exc)})")
    if "not compiled with cuda" in lowered or "no nvidia driver" in lowered:
        return EnvironmentProblem(
            "CUDA is not available on this machine; use --device cpu "
            f"({type(exc).__name__}: {_first_line(exc)})"
        )
    return None


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` as the single line the CLI prints (newlines folded)."""
    text = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__

"""Errors raised at the public boundary.

Usage::

    from dissect_report.errors import UserError
    raise UserError("unknown layer 'layr4'; layers: layer1, layer2")

The CLI turns any :class:`UserError` into one line on stderr and exit code 2.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user gave us (a name, a file, a flag): never a bug."""


class ConfigError(UserError):
    """A configuration value is invalid."""


class ModelError(UserError):
    """A model, its weights or its outputs are unusable."""


class ReportError(UserError):
    """A report directory is missing, incomplete, corrupt or already exists."""

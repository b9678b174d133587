"""One module per CLI command, each with ``register(subparsers)``; see :mod:`dissect_report.cli`."""

"""pytest plugin for golden-report regression tests (work in progress).

Importing this module must stay cheap and must never fail: pytest loads it in every
run of anyone who installs dissect-report.
"""

from __future__ import annotations

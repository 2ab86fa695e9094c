"""The cluster tests need Ray (the ``[cluster]`` extra, which ``make test`` installs): they
are skipped only where it cannot be imported."""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray on 127.0.0.1 only

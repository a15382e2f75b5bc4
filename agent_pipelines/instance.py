"""Dagster's home for this project: a persistent ``DAGSTER_HOME`` inside the data folder.

Without ``DAGSTER_HOME`` Dagster uses a temporary home deleted on exit, forgetting sensor cursors
and run history. Every entry point that touches Dagster state (``agent-pipelines ui``,
``materialize``, ``detect``) calls :func:`ensure_dagster_home` first so they share one instance.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from agent_pipelines import paths

SHIPPED_CONFIG = paths.PROJECT_ROOT / "config" / "dagster.yaml"


def ensure_dagster_home(data_dir: Path | None = None) -> Path:
    """Create (if needed) and export ``DAGSTER_HOME``; install our ``dagster.yaml`` in it."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths.data_dir(data_dir) / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if SHIPPED_CONFIG.exists():
        target = home / "dagster.yaml"
        if not target.exists() or target.read_bytes() != SHIPPED_CONFIG.read_bytes():
            shutil.copyfile(SHIPPED_CONFIG, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home

"""Versioned model files under the data folder: ``models/<name>/<version>.pkl`` and ``latest.json``.

Why files beside the tables: the live detector job loads the latest failure-risk model in its own
process, seconds after a retrain wrote it, without Dagster; a version is the UTC time of training
plus a hash of the model's bytes, so two trainings never overwrite each other and ``latest.json``
(written atomically, last) says which one is in use, with its evaluation.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent_pipelines.core.atomic import atomic_write

MODELS_DIR = "models"
KEEP_VERSIONS = 5


def model_dir(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / MODELS_DIR / name


def save(data_dir: Path, name: str, model: Any, evaluation: dict[str, Any]) -> dict[str, Any]:
    """Write a new version and point ``latest.json`` at it; keep the newest :data:`KEEP_VERSIONS`."""
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{hashlib.sha256(blob).hexdigest()[:8]}"
    folder = model_dir(data_dir, name)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / f"{version}.pkl", blob)
    info = {"name": name, "version": version, "file": f"{version}.pkl", "evaluation": evaluation}
    atomic_write(folder / "latest.json", json.dumps(info, indent=1, default=str).encode())
    for old in sorted(folder.glob("*.pkl"))[:-KEEP_VERSIONS]:
        old.unlink(missing_ok=True)
    return info


def load_latest(data_dir: Path, name: str) -> tuple[Any, dict[str, Any]] | None:
    """The model ``latest.json`` names and its info; ``None`` if there is none or it cannot be read."""
    folder = model_dir(data_dir, name)
    try:
        info = json.loads((folder / "latest.json").read_text(encoding="utf-8"))
        model = pickle.loads((folder / info["file"]).read_bytes())  # our own file, written by save()
    except (OSError, ValueError, KeyError, pickle.UnpicklingError, AttributeError, EOFError):
        return None
    return model, info

"""Print a fingerprint of pyproject.toml's dependency lists (what requirements.lock was made from).

``scripts/lock.sh`` records it in the lock's header and ``scripts/setup.sh`` compares it, so a
dependency added to pyproject.toml without re-locking fails setup with one clear line instead of
installing something other than what the lock pins. Standard library only: it runs before the venv.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path


def fingerprint(pyproject: Path) -> str:
    project = tomllib.loads(pyproject.read_text())["project"]
    declared = {
        "requires-python": project.get("requires-python", ""),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {k: sorted(v) for k, v in project.get("optional-dependencies", {}).items()},
    }
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()[:16]


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    print(fingerprint(root / "pyproject.toml"))

"""The house rules that no linter checks by itself (docs/architecture.md); import-linter keeps the layers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent_pipelines", "assets", "sensors", "jobs")


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_private_name_is_imported_from_another_module() -> None:
    """A name with a leading underscore is its module's own: a second module that needs it means the
    seam is in the wrong place (make it public where it belongs, or move the code)."""
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{path.relative_to(ROOT)}: {node.module}.{alias.name}")
    assert found == []


def test_every_library_package_says_what_it_owns() -> None:
    """Each package's docstring says what it owns and what it may import (the map a newcomer reads)."""
    packages = sorted(p for p in (ROOT / "agent_pipelines").iterdir() if (p / "__init__.py").exists())
    missing = [p.name for p in packages if not ast.get_docstring(ast.parse((p / "__init__.py").read_text()))]
    assert missing == []

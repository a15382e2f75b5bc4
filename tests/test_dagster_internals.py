"""The Dagster internals we rely on are where we expect them: on an upgrade this fails loudly,
naming what moved and the installed Dagster version (agent_pipelines/orchestration/dagster_internals.py
says why each is needed)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import dagster as dg
import pytest

from agent_pipelines.orchestration import dagster_internals as internals

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = dg.__version__
UPGRADE = (
    f"installed Dagster {INSTALLED}, this code is pinned for {internals.PINNED_DAGSTER}: "
    "re-check agent_pipelines/orchestration/dagster_internals.py"
)


def test_the_installed_dagster_is_the_pinned_minor() -> None:
    assert INSTALLED.startswith(internals.PINNED_DAGSTER + "."), UPGRADE
    lock = (ROOT / "requirements.lock").read_text()
    assert re.search(rf"^dagster=={re.escape(internals.PINNED_DAGSTER)}\.\d+ ", lock, re.M), UPGRADE


@pytest.mark.parametrize(("name", "module"), sorted(internals.PRIVATE_NAMES.items()))
def test_each_private_name_is_where_we_import_it_from(name: str, module: str) -> None:
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{module}.{name} moved ({exc}); {UPGRADE}")
    if name != "NoOpComputeLogManager":
        assert getattr(internals, name) is found  # the adapter hands out exactly that object


@pytest.mark.parametrize(("base", "attributes"), sorted(internals.BASE_ATTRIBUTES.items()))
def test_the_base_classes_keep_the_attributes_our_subclasses_use(
    base: str, attributes: tuple[str, ...]
) -> None:
    instance = getattr(dg, base)()
    for attribute in attributes:
        assert hasattr(type(instance), attribute) or hasattr(instance, attribute), (
            f"dagster.{base}.{attribute} is gone; {UPGRADE}"
        )


@pytest.mark.parametrize(("fragment", "source"), internals.ROUTINE_SOURCES)
def test_the_routine_lines_we_filter_are_still_worded_so(fragment: str, source: str) -> None:
    path = Path(dg.__file__).parent / source
    assert path.is_file() and fragment in path.read_text(encoding="utf-8"), (
        f"Dagster no longer writes {fragment!r} in {source}; `agent-pipelines ui` would show those "
        f"lines at INFO again; {UPGRADE}"
    )


def test_the_no_capture_manager_loads_by_its_serialized_name() -> None:
    from dagster._core.storage.compute_log_manager import ComputeLogManager

    manager = internals.no_capture().rehydrate(ComputeLogManager)
    assert type(manager).__name__ == "NoOpComputeLogManager", UPGRADE


def test_no_module_of_ours_imports_dagster_internals_directly() -> None:
    """Only the adapter names ``dagster._`` modules: what an upgrade must re-check is in one file."""
    found = []
    for package in ("agent_pipelines", "assets", "sensors", "jobs"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "dagster_internals.py":
                continue
            text = path.read_text(encoding="utf-8")
            found += [
                f"{path.relative_to(ROOT)}: {m}" for m in re.findall(r"(?:from|import) dagster\._\S*", text)
            ]
    assert found == []

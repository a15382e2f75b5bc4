"""The code location loads, and every definition in it is pinned by name.

``tests/definitions.snapshot`` lists each asset, asset check, job, sensor, schedule, resource and
CLI command, one per line, so a reviewer reads any change in the diff and a definition that
vanishes (a renamed module, an import that fails) fails CI instead of silently leaving the UI.
After adding, renaming or removing a definition on purpose, regenerate the snapshot with::

    UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/test_definitions.py

and commit the changed ``tests/definitions.snapshot`` with the code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = Path(__file__).resolve().parent / "definitions.snapshot"
UPDATE_COMMAND = "UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/test_definitions.py"
HEADER = (
    "# Every definition of the code location and every CLI command, pinned by tests/test_definitions.py.\n"
    f"# Regenerate after an intended change: {UPDATE_COMMAND}\n"
)


def current_snapshot() -> list[str]:
    """One ``kind name`` line per definition, sorted: what the UI and the command line offer."""
    from agent_pipelines.cli import build_parser
    from agent_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    lines = [f"asset {key.to_user_string()}" for key in graph.get_all_asset_keys()]
    lines += [
        f"asset_check {check.asset_key.to_user_string()}:{check.name}" for check in graph.asset_check_keys
    ]
    lines += [
        f"job {job.name}"
        for job in defs.resolve_all_job_defs()
        if not job.name.startswith("__")  # Dagster's implicit jobs over all assets
    ]
    lines += [f"sensor {sensor.name}" for sensor in defs.sensors or []]
    lines += [f"schedule {schedule.name}" for schedule in defs.schedules or []]
    lines += [f"resource {key}" for key in defs.resources or {}]
    subcommands = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    ).choices
    lines += [f"command {name}" for name in subcommands]
    return sorted(lines)


def test_definitions_are_loadable() -> None:
    from agent_pipelines.definitions import defs

    dg.Definitions.validate_loadable(defs)


def test_every_definition_is_pinned() -> None:
    current = current_snapshot()
    if os.environ.get("UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(HEADER + "".join(f"{line}\n" for line in current))
    pinned = [line for line in SNAPSHOT.read_text().splitlines() if line.strip() and not line.startswith("#")]
    missing = sorted(set(pinned) - set(current))
    new = sorted(set(current) - set(pinned))
    assert not missing and not new, (
        "the code location differs from tests/definitions.snapshot"
        + "".join(f"\n  missing: {line}" for line in missing)
        + "".join(f"\n  new:     {line}" for line in new)
        + f"\nIf this change is intended, run `{UPDATE_COMMAND}` and commit the snapshot;"
        " a missing line usually means a module stopped being imported or a definition was renamed."
    )


def test_dagster_cli_validates_the_workspace(tmp_path: Path) -> None:
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr

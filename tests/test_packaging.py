"""Installed as a wheel (not a checkout), the command line says what it needs instead of misbehaving."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built and installed as a wheel into a folder of its own (its dependencies come
    from this environment)."""
    target = tmp_path_factory.mktemp("wheel-install")
    source = tmp_path_factory.mktemp("wheel-source")  # the build writes build/ and *.egg-info beside it
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("agent_pipelines", "assets", "sensors", "jobs"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return target


def cli(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "agent_pipelines.cli", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_wheel_install_says_ui_runs_from_a_checkout(installed: Path, tmp_path: Path) -> None:
    result = cli(installed, tmp_path, "ui", "--no-demo")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "runs from a source checkout" in lines[0] and "scripts/start.sh" in lines[0]
    assert str(installed) in lines[0]


@pytest.mark.slow
def test_wheel_install_asks_for_a_data_folder_and_works_with_one(installed: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    assert (
        cli(installed, tmp_path, "generate", "--out", str(logs), "--days", "1", "--tasks", "5").returncode
        == 0
    )
    refused = cli(installed, tmp_path, "status", "--logs-dir", str(logs))
    assert refused.returncode == 2 and "--data-dir" in refused.stderr
    assert not (installed / "data").exists()
    ok = cli(installed, tmp_path, "status", "--logs-dir", str(logs), "--data-dir", str(tmp_path / "data"))
    assert ok.returncode == 0, ok.stderr
    valid = cli(installed, tmp_path, "validate", "--logs-dir", str(logs))  # reads logs only: fine anywhere
    assert valid.returncode == 0, valid.stderr


@pytest.mark.slow
def test_wheel_ships_the_weekly_report_template(installed: Path, tmp_path: Path) -> None:
    """The HTML report is a Jinja template inside the package: package data, not just modules."""
    load = (
        "from agent_pipelines.analytics.report import render; "
        "print(render._templates().get_template('weekly_report.html.j2').filename)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "DAGSTER_"))}
    result = subprocess.run(
        [sys.executable, "-c", load],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(installed))

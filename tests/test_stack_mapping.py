"""scripts/local_stack.py runs what deploy/docker-compose.yml says, changed only by its table (no server).

Every service the compose file declares is started, after what it depends on; each command is the
compose command with container hostnames, ports and paths replaced by the table's local ones and
nothing else; compose's interpolation rules hold (defaults, required variables, ``$$``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent_pipelines.core import paths

sys.path.insert(0, str(paths.PROJECT_ROOT / "scripts"))

import compose_file
from local_stack import Stack


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    env = tmp_path / ".env"
    env.write_text("DAGSTER_PG_PASSWORD=pw\nPUBLIC_HOSTNAME=localhost\nHTTPS_PORT=8443\n# a comment\n")
    try:
        return Stack(env, tmp_path / "state", deploy_dir=tmp_path)
    except SystemExit as exc:  # no PostgreSQL binaries here
        pytest.skip(str(exc))


def test_every_declared_service_starts_after_what_it_depends_on() -> None:
    services = compose_file.load_compose()["services"]
    order = compose_file.start_order(services)
    assert sorted(order) == sorted(services)
    for name, service in services.items():
        for dependency in service.get("depends_on") or []:
            assert order.index(dependency) < order.index(name), (name, dependency)


def test_commands_are_composes_with_only_the_tables_substitutions(stack: Stack) -> None:
    services = stack.compose["services"]
    for name, service in services.items():
        if "command" not in service:
            continue
        compose_argv, local = service["command"], stack.local_argv(service["command"])
        assert len(local) == len(compose_argv), name
        for ours, theirs in zip(local, compose_argv, strict=True):
            if ours != theirs:  # a host, a port or the workspace file, mapped to the local one
                assert ours == "127.0.0.1" or ours.isdigit() or ours.endswith("workspace.yaml"), (
                    name,
                    theirs,
                )
                assert theirs in stack.hosts or theirs.isdigit() or theirs == "deploy/workspace.yaml", (
                    name,
                    theirs,
                )
    assert "--read-only" in stack.local_argv(services["webserver"]["command"])
    env = stack.service_env("code")
    assert env["DAGSTER_PG_HOST"] == "127.0.0.1" and env["DAGSTER_PG_PORT"] == str(stack.ports["postgres"])
    assert env["AGENT_PIPELINES_INSTANCE"] == "postgres"  # not taken for a hostname
    assert env["AGENT_PIPELINES_LOCAL_DIR"] == str(stack.state / "data")
    assert env["DAGSTER_HOME"] == str(stack.state / "dagster_home")  # the Dockerfile's ENV, mapped


def test_compose_interpolation() -> None:
    variables = {"SET": "v", "EMPTY": ""}
    interpolate = compose_file.interpolate
    assert interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$x", variables) == "v d  d $x"
    with pytest.raises(SystemExit, match="set it"):
        interpolate("${EMPTY:?set it}", variables)
    assert interpolate("${EMPTY?fine}", variables) == ""

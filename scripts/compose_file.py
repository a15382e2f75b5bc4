"""What deploy/docker-compose.yml and deploy/Dockerfile say, read the way docker compose reads them.

For scripts/local_stack.py (the compose services as local processes): the compose file itself
(PyYAML: anchors and ``<<`` merge keys resolved), ``--env-file`` lines, compose's ``${VAR:-default}``
interpolation, the Dockerfile's ``ENV`` and the instance config it installs, and the start order.
"""

from __future__ import annotations

import re
import shlex
import socket
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
LOOPBACK = "127.0.0.1"
CONTAINER_PORTS = {"postgres": 5432, "code": 4000, "webserver": 3000, "webserver-ops": 3001}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as docker compose's ``--env-file`` reads them (comments, optional quotes)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


_VAR = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)")


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's interpolation: ``${X}``, ``${X:-default}``, ``${X-default}``, ``${X:?error}``, ``$$``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = variables.get(name)
        missing = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-") and missing:
            return arg
        if op in (":?", "?") and missing:
            raise SystemExit(f"stack: {arg or name + ' is required'}")
        return value or ""

    return _VAR.sub(one, text)


def image_env() -> dict[str, str]:
    """The Dockerfile's ``ENV`` lines (every app service's base environment)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def dockerfile_instance_config() -> Path:
    """The file the Dockerfile copies to ``$DAGSTER_HOME/dagster.yaml``."""
    found = re.search(r'cp (\S+) "\$DAGSTER_HOME/dagster.yaml"', DOCKERFILE.read_text())
    if not found:
        raise SystemExit("stack: the Dockerfile no longer copies an instance config into DAGSTER_HOME")
    return ROOT / found.group(1)


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def start_order(services: dict) -> list[str]:
    """Services sorted so each comes after what it ``depends_on``."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        for dep in services[name].get("depends_on") or []:
            visit(dep)
        order.append(name)

    for name in services:
        visit(name)
    return order

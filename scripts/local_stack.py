"""deploy/docker-compose.yml run without containers: every service it declares, as local processes.

No container engine here, so this starts exactly the services the compose file declares, in its
``depends_on`` order, from the commands, environment (compose's ``${VAR:-default}`` interpolation over
deploy/.env, on top of the Dockerfile's ``ENV``) and config files it gives them, and waits for each
one's own ``healthcheck``. Everything listens on 127.0.0.1, on free ports (so runs in parallel do not
clash); only nginx's port is meant for people. ``bash scripts/stack.sh`` runs it for a person; the
tests import it (tests/test_stack.py), so both read the commands from the compose file and cannot drift.

What a container gives that a local process does not, and what stands in for it (one table, ``LOCAL``):

| in the containers                          | here                                                    |
|--------------------------------------------|---------------------------------------------------------|
| hostnames ``postgres``, ``code`` (and its  | 127.0.0.1                                               |
| address 172.29.40.2), ``webserver``,       |                                                         |
| ``webserver-ops``; bind address 0.0.0.0    |                                                         |
| ports 5432, 4000, 3000, 3001               | a free port each (the proxy's is deploy/.env's HTTPS_PORT)|
| image ``postgres:16`` (its entrypoint)     | Debian's PostgreSQL: initdb with POSTGRES_USER/PASSWORD |
|                                            | (scram-sha-256 on TCP, as the image), createdb          |
| image ``nginx:1.27-alpine``                | Debian's nginx; the template rendered as the image does |
|                                            | (envsubst of the variables set), in an http block like  |
|                                            | the image's nginx.conf                                  |
| /opt/agent-pipelines (WORKDIR)             | this checkout                                           |
| /opt/dagster/dagster_home (DAGSTER_HOME)   | <state>/dagster_home, with the Dockerfile's dagster.yaml|
| /data, /logs (volumes)                     | <state>/data, <state>/logs                              |
| a named volume mounted elsewhere (``data``  | the folder its mount in the code service maps to        |
| at /srv/agent-pipelines in the proxy)      |                                                         |
| /etc/nginx/tls, /etc/nginx/htpasswd[-operators] | the files deploy/.env names (TLS_CERT_DIR, ...)    |
| compose's relative paths (./tls, ...)      | --deploy-dir (default deploy/, the compose file's own   |
|                                            | folder); what is not there, from this checkout's deploy/|
| deploy/workspace.yaml (host ``code``)      | <state>/workspace.yaml: the same with host/port mapped  |
| networks (internal)                        | loopback only: nothing but nginx is for people          |
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compose_file import (
    COMPOSE,
    CONTAINER_PORTS,
    LOOPBACK,
    ROOT,
    dockerfile_instance_config,
    free_port,
    image_env,
    interpolate,
    load_compose,
    read_env_file,
    start_order,
)
from local_tools import listening, nginx, pg_bin, run, term_with_parent


@dataclass
class Stack:
    """The compose project on this machine; ``with Stack(env_file, state) as s: s.url``."""

    env_file: Path
    state: Path
    deploy_dir: Path = ROOT / "deploy"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    pg_root: Path | None = None

    def __post_init__(self) -> None:
        self.state = self.state.resolve()
        self.compose = load_compose()
        self.variables = {**read_env_file(self.env_file), **self.extra_env}
        self.ports = {name: free_port() for name in CONTAINER_PORTS}
        self.ports["proxy"] = int(interpolate("${HTTPS_PORT:-443}", self.variables))
        grpc_host = self.compose["services"]["code"]["networks"]["grpc"]["ipv4_address"]
        self.hosts = {name: LOOPBACK for name in CONTAINER_PORTS} | {grpc_host: LOOPBACK, "0.0.0.0": LOOPBACK}
        self.paths = {
            "/opt/dagster/dagster_home": self.state / "dagster_home",
            "/data": self.state / "data",
            "/logs": self.state / "logs",
        }
        self.pg_bin = pg_bin()

    # --- the mapping table, applied -------------------------------------------------------------
    def local_value(self, key: str, value: str) -> str:
        if value in self.hosts and (key == "" or key.endswith("_HOST")):  # "" : a command's argument
            return self.hosts[value]
        if key.endswith("_PORT"):
            for name, port in CONTAINER_PORTS.items():
                if value == str(port):
                    return str(self.ports[name])
        for container, local in self.paths.items():
            if value == container or value.startswith(container + "/"):
                return str(local) + value[len(container) :]
        return value

    def local_argv(self, argv: list[str]) -> list[str]:
        out: list[str] = []
        for i, arg in enumerate(argv):
            previous = argv[i - 1] if i else ""
            if previous == "-p" and int(arg) in CONTAINER_PORTS.values():
                name = next(n for n, p in CONTAINER_PORTS.items() if p == int(arg))
                out.append(str(self.ports[name]))
            elif arg == "deploy/workspace.yaml":
                out.append(str(self.state / "workspace.yaml"))
            else:
                out.append(self.local_value("", arg))
        return out

    def named_volume(self, volume: str) -> Path:
        """The local folder of a named volume: the one another service's mount of it maps to."""
        for service in self.compose["services"].values():
            for mount in service.get("volumes") or []:
                source, target = str(mount).split(":")[:2]
                local = self.local_value("", target)
                if source == volume and local != target:
                    return Path(local)
        raise SystemExit(f"stack: no local folder for the volume {volume!r}")

    def service_env(self, name: str) -> dict[str, str]:
        service = self.compose["services"][name]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "AGENT_", "AWS_"))}
        if "image" in service and "build" in service:  # our image: the Dockerfile's ENV first
            env.update(image_env())
        for key, value in (service.get("environment") or {}).items():
            env[key] = interpolate(str(value), self.variables)
        env = {k: self.local_value(k, v) for k, v in env.items()}
        env["PATH"] = f"{Path(sys.executable).parent}:{self.pg_bin}:{env.get('PATH', '/usr/bin:/bin')}"
        return env

    # --- starting ------------------------------------------------------------------------------
    def prepare(self) -> None:
        for folder in ("dagster_home/storage", "data", "logs", "run"):
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(dockerfile_instance_config(), self.state / "dagster_home" / "dagster.yaml")
        workspace = yaml.safe_load((ROOT / "deploy" / "workspace.yaml").read_text())
        for entry in workspace["load_from"]:
            server = entry["grpc_server"]
            server["host"] = self.hosts[server["host"]]
            server["port"] = self.ports["code"]
        (self.state / "workspace.yaml").write_text(yaml.safe_dump(workspace))

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.state / "run" / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped whole by stop()
            preexec_fn=term_with_parent,  # and SIGTERM if this process dies without stopping it
        )
        log.close()
        self.processes[name] = process
        return process

    def start(self, timeout: float = 240) -> Stack:
        self.prepare()
        try:
            for name in start_order(self.compose["services"]):
                getattr(self, f"start_{name.replace('-', '_')}", self.start_app)(name)
                self.wait_healthy(name, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_app(self, name: str) -> None:
        self.spawn(name, self.local_argv(self.compose["services"][name]["command"]), self.service_env(name))

    def start_postgres(self, name: str) -> None:
        """What the postgres image's entrypoint does: on an empty data folder, initdb with
        POSTGRES_USER/POSTGRES_PASSWORD (password auth on TCP) and create POSTGRES_DB; then serve."""
        env = self.service_env(name)
        data, sock = self.state / "pgdata", self.state / "run"
        as_postgres: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: as the package's user, in a
            as_postgres = ["runuser", "-u", "postgres", "--"]  # folder it can reach (removed at stop)
            self.pg_root = Path(tempfile.mkdtemp(prefix="agent-pipelines-stack-pg-"))
            shutil.chown(self.pg_root, "postgres")
            data, sock = self.pg_root / "data", self.pg_root
        fresh = not (data / "PG_VERSION").exists()
        if fresh:
            pwfile = sock / "pgpass"
            pwfile.write_text(env["POSTGRES_PASSWORD"])
            if as_postgres:
                shutil.chown(pwfile, "postgres")
            initdb = [
                *as_postgres,
                str(self.pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                env["POSTGRES_USER"],
                "--pwfile",
                str(pwfile),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
            ]
            run(initdb, env)
            pwfile.unlink()
        self.spawn(
            name,
            [
                *as_postgres,
                str(self.pg_bin / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.ports["postgres"]),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-c",
                f"unix_socket_directories={sock}",
            ],
            env,
        )
        self.wait_healthy(name, 60)
        if fresh:
            run(
                [
                    *as_postgres,
                    str(self.pg_bin / "createdb"),
                    "-h",
                    str(sock),
                    "-p",
                    str(self.ports["postgres"]),
                    "-U",
                    env["POSTGRES_USER"],
                    env["POSTGRES_DB"],
                ],
                env,
            )

    def start_proxy(self, name: str) -> None:
        """nginx with the compose file's template, rendered as the nginx image renders it."""
        service = self.compose["services"][name]
        env = self.service_env(name)
        conf = self.state / "nginx"
        (conf / "conf.d").mkdir(parents=True, exist_ok=True)
        mounts: dict[str, Path] = {}
        for volume in service["volumes"]:
            source, target = interpolate(volume, self.variables).split(":")[:2]
            if source in (self.compose.get("volumes") or {}):  # a named volume: where the others have it
                mounts[target] = self.named_volume(source)
                continue
            local = self.deploy_dir / source  # deploy/ by default: the compose file's own folder
            mounts[target] = (local if local.exists() else COMPOSE.parent / source).resolve()
        template = next(src for dst, src in mounts.items() if dst.startswith("/etc/nginx/templates/"))
        text = re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)), template.read_text())
        for target in sorted(mounts, key=len, reverse=True):
            text = text.replace(target, str(mounts[target]))
        for host in ("webserver-ops", "webserver"):
            text = text.replace(
                f"http://{host}:{CONTAINER_PORTS[host]}", f"http://{LOOPBACK}:{self.ports[host]}"
            )
        published = service["ports"][0].split(":")[-1]
        text = re.sub(rf"listen {published}\b", f"listen {LOOPBACK}:{self.ports['proxy']}", text)
        (conf / "conf.d" / "default.conf").write_text(text)
        temp = conf / "temp"
        temp.mkdir(exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""  # the worker reads the state folder's files
        (conf / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {conf}/nginx.pid;\n"
            f"error_log {conf}/error.log notice;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n  include /etc/nginx/mime.types;\n  access_log {conf}/access.log;\n"
            + "".join(
                f"  {kind}_temp_path {temp}/{kind};\n"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            )
            + f"  include {conf}/conf.d/*.conf;\n}}\n"
        )
        self.spawn(name, [nginx(), "-c", str(conf / "nginx.conf"), "-p", str(conf)], env)

    # --- health ---------------------------------------------------------------------------------
    def healthy(self, name: str) -> bool:
        service = self.compose["services"][name]
        check = service.get("healthcheck")
        if name == "proxy":
            return listening(self.ports["proxy"])
        if name in ("webserver", "webserver-ops"):
            return listening(self.ports[name])
        if not check:
            return True
        test = check["test"]
        env = self.service_env(name) | {"PGHOST": LOOPBACK, "PGPORT": str(self.ports["postgres"])}
        if test[0] == "CMD-SHELL":
            argv = ["sh", "-c", interpolate(test[1], self.variables)]
        else:
            argv = self.local_argv(test[1:])
        return subprocess.run(argv, env=env, capture_output=True, timeout=30).returncode == 0

    def wait_healthy(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy(name):
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not healthy after {timeout:.0f} s: {self.log_tail(name)}")
            time.sleep(0.5)

    def log_tail(self, name: str) -> str:
        log = self.state / "run" / f"{name}.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    # --- stopping -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Every service's process group: SIGTERM, then SIGKILL after 20 s; reverse start order."""
        for name in reversed(list(self.processes)):
            process = self.processes.pop(name)
            if process.poll() is not None:
                continue
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass
        if self.pg_root is not None:
            shutil.rmtree(self.pg_root, ignore_errors=True)

    def write_manifest(self) -> Path:
        """``<state>/stack.json``: URL, each service's port and process id (for tests and people)."""
        manifest = self.state / "stack.json"
        pids = {name: p.pid for name, p in self.processes.items()}
        manifest.write_text(json.dumps({"url": self.url, "ports": self.ports, "pids": pids}, indent=1))
        return manifest

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.ports['proxy']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--deploy-dir",
        type=Path,
        default=Path("deploy"),
        help="where .env, htpasswd, htpasswd-operators and tls/ are (default: deploy)",
    )
    parser.add_argument("--state", type=Path, default=Path(".cache/stack"), help="the services' files")
    args = parser.parse_args(argv)
    deploy = args.deploy_dir.resolve()
    stack = Stack(deploy / ".env", args.state, deploy_dir=deploy)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with stack:
        stack.write_manifest()
        print(
            f"stack: up at {stack.url}/ (viewers) and {stack.url}/ops/ (operators); Ctrl-C stops it",
            flush=True,
        )
        for name, process in stack.processes.items():
            print(
                f"  {name:<14} pid {process.pid:<7} log {stack.state / 'run' / (name + '.log')}", flush=True
            )
        try:
            while all(p.poll() is None for p in stack.processes.values()):
                time.sleep(1)
            dead = [n for n, p in stack.processes.items() if p.poll() is not None]
            print(f"stack: {', '.join(dead)} stopped; stopping the rest", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())

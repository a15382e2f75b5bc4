"""A real PostgreSQL server for the test session, started from the machine's own binaries.

``initdb`` a cluster in a temporary folder, ``pg_ctl start`` it on 127.0.0.1 on a free port (no
Unix socket in a shared folder, no fixed port), and hand out one fresh database per caller. As
root (CI runs as root) the server runs as the ``postgres`` user the OS package creates, through
``runuser``: PostgreSQL refuses to run as root. Authentication is ``trust`` on loopback only, and
the password is still sent, so the ``DAGSTER_PG_*`` wiring is exercised as in production.

Binaries are looked up in ``$PG_BIN``, ``/usr/lib/postgresql/<newest>/bin`` and ``PATH``;
``.ci/run`` installs the ``postgresql`` package when they are missing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

USER = "agent_pipelines"
PASSWORD = "test-password"


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb``/``pg_ctl``/``postgres``, or ``None`` when not installed."""
    candidates = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name or 0), reverse=True
    )
    candidates.extend(Path(p) for p in versions)
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).resolve().parent)
    for folder in candidates:
        if all((folder / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One throwaway PostgreSQL cluster; ``with PostgresServer() as pg: pg.new_database()``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="agent-pipelines-pg-"))
        self.data = self.root / "cluster"
        self.log = self.root / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")  # created by the OS package
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        result = subprocess.run([*self._as, *argv], capture_output=True, text=True, timeout=120)
        if result.returncode:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(argv)} failed: {result.stdout}{result.stderr}{log}")

    def start(self) -> PostgresServer:
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD)
        if self._as:
            shutil.chown(pwfile, "postgres")
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
            "-A", "trust", "-E", "UTF8", "--no-locale",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip
        return self

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def connect(self, db: str = "postgres"):
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=USER, password=PASSWORD, dbname=db)
        conn.autocommit = True
        return conn

    def new_database(self, prefix: str = "t") -> str:
        """A new empty database (each test module gets its own: no state leaks between them)."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return name

    def env(self, db: str) -> dict[str, str]:
        """The ``DAGSTER_PG_*`` variables that point the postgres instance at ``db``."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": USER,
            "DAGSTER_PG_PASSWORD": PASSWORD,
            "DAGSTER_PG_DB": db,
        }

"""The machine's own side of scripts/local_stack.py: Debian's PostgreSQL and nginx binaries, and how a
service process is run, watched and tied to the stack's own life."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from pathlib import Path

from compose_file import LOOPBACK


def term_with_parent() -> None:
    """In the child: SIGTERM when the stack's own process dies (even by SIGKILL), so a killed test
    or script leaves no service behind (Linux's PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stdout}{done.stderr}")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((LOOPBACK, port)) == 0


def pg_bin() -> Path:
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    if not versions:
        raise SystemExit("stack: PostgreSQL is not installed (apt-get install postgresql)")
    return versions[0]


def nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise SystemExit("stack: nginx is not installed (apt-get install nginx-light)")
    return found

"""The team deployment started the way README's "Running for a team" tells a person, for the tests.

The README's command block (between its ``team-commands`` markers) is run line by line in a fresh
folder laid out like a checkout (``deploy/.env.example`` copied, ``scripts/`` linked): ``cp`` of the
settings, ``htpasswd`` answered through a terminal as a person would type, ``openssl`` for a
certificate, then ``scripts/stack.sh`` in the background (scripts/local_stack.py: every service of
deploy/docker-compose.yml as a local process). The ``docker compose`` line is the only one not run: this
machine has no container engine. The settings a person fills in point the logs and tables at a
bucket of the test S3 server, and one agent host ships to it with deploy/shipper/.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import termios
import time
from pathlib import Path

import pytest

from agent_pipelines.core import paths

README = paths.PROJECT_ROOT / "README.md"
SHIPPER = paths.PROJECT_ROOT / "deploy" / "shipper"
VIEWER, OPERATOR = ("alice", "viewer-pw-1"), ("bob", "operator-pw-2")
PG_PASSWORD = "stack-pg-password"


def readme_commands() -> list[str]:
    """The commands of README's team block, continuation lines joined, comments kept off."""
    text = README.read_text()
    block = re.search(r"<!-- team-commands -->\s*```bash\n(.*?)```", text, re.S)
    assert block, "README lost its team-commands block"
    joined = block.group(1).replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]


def run_in_terminal(command: str, cwd: Path, answers: list[str], timeout: float = 30) -> str:
    """``command`` with a terminal of its own, answering each password prompt with the next answer."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, its terminal the pty
        os.chdir(cwd)
        os.execvp("bash", ["bash", "-c", command])
    seen, pending = b"", list(answers)
    answered, last = (b"", 0.0), ""  # what had been seen when the last answer went in, and when
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        prompted = seen.rstrip().lower().endswith(b"password:")
        if prompted and pending and seen != answered[0]:
            time.sleep(0.3)  # the prompt comes before the terminal switches echo off and flushes input
            while termios.tcgetattr(fd)[3] & termios.ECHO and time.monotonic() < deadline:
                time.sleep(0.05)  # typed before the prompt turns echo off, an answer would be flushed
            os.write(fd, pending.pop(0).encode() + b"\n")
            answered, last = (seen, time.monotonic()), answers[len(answers) - len(pending) - 1]
        elif prompted and seen == answered[0] and time.monotonic() - answered[1] > 2:
            os.write(fd, last.encode() + b"\n")  # not taken (no newline echoed after it): type it again
            answered = (seen, time.monotonic())
    if time.monotonic() >= deadline:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen.decode(errors="replace")
    return seen.decode(errors="replace")


def fill_in_env(env_file: Path, settings: dict[str, str]) -> None:
    """What a person does after ``cp deploy/.env.example deploy/.env``: give the settings values."""
    lines = env_file.read_text().splitlines()
    keys = set()
    for i, line in enumerate(lines):
        key = line.split("=", 1)[0]
        if not line.startswith("#") and key in settings:
            lines[i] = f"{key}={settings[key]}"
            keys.add(key)
    lines += [f"{k}={v}" for k, v in settings.items() if k not in keys]
    env_file.write_text("\n".join(lines) + "\n")


def run_readme(work: Path, settings: dict[str, str], log: Path) -> subprocess.Popen:
    """Every command of the block in ``work``; returns the running ``scripts/stack.sh``."""
    (work / "deploy").mkdir(parents=True)
    (work / "deploy" / ".env.example").write_bytes(
        (paths.PROJECT_ROOT / "deploy" / ".env.example").read_bytes()
    )
    (work / "scripts").symlink_to(paths.PROJECT_ROOT / "scripts")
    stack = None
    for command in readme_commands():
        if command.startswith("docker "):
            continue  # no container engine here: scripts/stack.sh stands in for it
        if command.startswith("htpasswd"):
            user, password = VIEWER if VIEWER[0] in command.split() else OPERATOR
            assert user in command.split(), command
            run_in_terminal(command, work, [password, password])
        elif "scripts/stack.sh" in command:
            fill_in_env(work / "deploy" / ".env", settings)
            handle = open(log, "wb")  # noqa: SIM115 - the child keeps it
            stack = subprocess.Popen(
                ["bash", "-c", command],
                cwd=work,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            handle.close()
        else:
            done = subprocess.run(
                ["bash", "-c", command], cwd=work, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert stack is not None, "README's block never starts the stack"
    return stack


def wait_up(work: Path, stack: subprocess.Popen, log: Path, timeout: float = 300) -> dict:
    manifest = work / ".cache" / "stack" / "stack.json"
    deadline = time.monotonic() + timeout
    while not manifest.exists():
        if stack.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the stack did not come up: {log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.5)
    return json.loads(manifest.read_text())


def stop(stack: subprocess.Popen, manifest: dict | None) -> None:
    """SIGTERM to stack.sh (it stops every service's process group); SIGKILL the groups left after 60 s."""
    if stack.poll() is None:
        os.killpg(stack.pid, signal.SIGTERM)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait(timeout=10)
    for pid in (manifest or {}).get("pids", {}).values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def host_env(host: Path, name: str, bucket: str, s3_env: dict[str, str], endpoint: str) -> dict[str, str]:
    """One agent host's shipper: its own folder and its own rclone.conf (deploy/shipper's, pointed at
    the test store as its comment says to for a store other than AWS)."""
    host.mkdir(parents=True, exist_ok=True)
    conf = (SHIPPER / "rclone.conf").read_text().replace("provider = AWS", "provider = Other")
    conf = conf.replace("# endpoint = https://minio.internal:9000", f"endpoint = {endpoint}")
    (host / "rclone.conf").write_text(conf)
    env = dict(
        os.environ,
        **s3_env,
        AGENT_WORK_LOGS_DIR=str(host / "logs"),
        AGENT_LOGS_HOST=name,
        AGENT_LOGS_REMOTE=f"agentlogs:{bucket}/fleet",
        RCLONE_CONFIG=str(host / "rclone.conf"),
    )
    env.pop("AWS_CA_BUNDLE", None)  # a machine-wide CA bundle breaks rclone's plain-HTTP client
    return env


def require_rclone() -> None:
    """Skip on a workstation without rclone; fail in CI, whose .ci/run installs it."""
    if shutil.which("rclone") is None:
        if os.environ.get("CI"):
            pytest.fail("rclone not found: .ci/run should have installed it")
        pytest.skip("rclone is not installed here (apt-get install rclone); CI installs it")


def ship(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One copy by deploy/shipper/ship-agent-logs.sh (``--once``), as the host's environment says."""
    return subprocess.run(
        ["bash", str(SHIPPER / "ship-agent-logs.sh"), "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def ship_once(env: dict[str, str]) -> None:
    done = ship(env)
    assert done.returncode == 0, done.stderr


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket listens on at ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ".".join(str(b) for b in reversed(raw))
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    address = ipaddress.IPv6Address(b"".join(words))
    return str(address.ipv4_mapped or address)  # gRPC listens on ::ffff:127.0.0.1: loopback too

"""``agent-pipelines ui`` stops its whole process tree on SIGTERM or SIGINT within a few seconds
(issue 22, item 8 of the issue: 8 children of ``dagster dev`` were alive 90 s after a SIGTERM).

With real processes: a tree that resists (a child ignoring SIGINT and SIGTERM, a grandchild in a
session of its own whose parent has exited), and the real ``agent-pipelines ui`` (slow)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from agent_pipelines.cli.terminal import descendants

TREE = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    out = sys.argv[1]
    stubborn = '''
    import signal, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("stubborn child - INFO - ready", flush=True)
    time.sleep(600)
    '''
    escaper = '''
    import os, subprocess, sys, time
    os.setsid()  # out of the process group
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(sys.argv[1], "a") as f:
        f.write(f"{grandchild.pid}\\\\n")
    '''  # exits at once: the grandchild is an orphan in a session of its own
    a = subprocess.Popen([sys.executable, "-c", stubborn])
    b = subprocess.Popen([sys.executable, "-c", escaper, out])
    b.wait()
    with open(out, "a") as f:
        f.write(f"{os.getpid()}\\n{a.pid}\\n")
    time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def _supervised(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    script, pids_file = tmp_path / "tree.py", tmp_path / "pids"
    script.write_text(TREE)
    code = (
        "import sys; from agent_pipelines.cli import terminal; terminal.STOP_GRACE_S = 1.0; "
        f"sys.exit(terminal.run_filtered([sys.executable, {str(script)!r}, {str(pids_file)!r}], 'info'))"
    )
    supervisor = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if pids_file.exists() and len(pids_file.read_text().split()) == 3:
            break
        time.sleep(0.05)
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) == 3 and all(_alive(p) for p in pids)
    return supervisor, pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_process_of_the_tree(tmp_path: Path, signum: int) -> None:
    supervisor, pids = _supervised(tmp_path)
    try:
        started = time.monotonic()
        supervisor.send_signal(signum)
        supervisor.wait(timeout=15)
        deadline = time.monotonic() + 2
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [p for p in pids if _alive(p)]
        assert not left, f"still alive after {time.monotonic() - started:.1f} s: {left}"
        assert time.monotonic() - started < 2 * 1.0 + 3  # SIGINT, then SIGTERM, then SIGKILL
        assert supervisor.returncode == 128 + signum
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
def test_the_real_ui_stops_all_its_children_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    logs, data = tmp_path / "logs", tmp_path / "data"
    logs.mkdir()
    env = {**os.environ, "AGENT_IMPORT_CLAUDE_CODE": "false", "AGENT_IMPORT_CODEX": "false"}
    argv = [sys.executable, "-m", "agent_pipelines.cli", "ui", "--no-demo", "--logs-dir", str(logs),
            "--data-dir", str(data), "--port", str(port), "--files-port", str(_free_port())]  # fmt: skip
    said = tmp_path / "ui.err"
    with open(said, "wb") as err:
        ui = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            seen |= descendants(ui.pid)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                if len(seen) >= 4:
                    break
            except OSError:
                pass
            assert ui.poll() is None, f"the ui exited: {said.read_text(errors='replace')[-2000:]}"
            time.sleep(0.5)
        seen |= descendants(ui.pid)
        assert len(seen) >= 4, seen  # dagster dev, its webserver, its daemon, a code server...
        started = time.monotonic()
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=30)
        deadline = time.monotonic() + 2
        while any(_alive(p) for p in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in seen if _alive(p)]
        took = time.monotonic() - started
        print(f"ui: {len(seen)} descendants, {len(left)} alive {took:.1f} s after SIGTERM")
        assert not left, f"{len(left)} of {len(seen)} alive {took:.1f} s after SIGTERM"
    finally:
        for pid in seen | ({ui.pid} if ui.poll() is None else set()):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

"""First start benchmark: a fresh clone to the Dagster UI answering, as a new user starts it.

Run: ``python3 benchmarks/bench_first_start.py [--installer uv pip] [--no-write]``

For each installer: ``git clone`` of this repository's HEAD into a temporary folder (no ``.venv``, no
data), then ``bash scripts/start.sh`` there, as the README says — it makes the virtualenv, installs
``requirements.lock`` (``AGENT_PIPELINES_INSTALLER``), generates the demo logs and starts
``agent-pipelines ui`` — timed until the webserver answers ``/server_info`` with 200. The package
caches are empty (a temporary ``UV_CACHE_DIR``, ``PIP_NO_CACHE_DIR``), as on a machine that never
installed the project; wheels still come over the network from the registry. What ``setup.sh`` says
about its install ("installed in N s") is recorded too, and every line the start printed is checked
for warnings. Results go to the ``## First start`` section of BENCHMARKS.md. Stops by itself: each
start is ended (its process group) once the UI answers or after ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from benchmarks_md import write_section

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## First start"
TARGET_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_start(installer: str, timeout: float) -> dict[str, object]:
    """Clone, start, wait for the UI; returns the timings and what the terminal said."""
    with tempfile.TemporaryDirectory(prefix="first-start-") as tmp:
        clone = Path(tmp) / "agent-pipelines"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        port, files_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AGENT_", "DAGSTER_", "VIRTUAL_ENV"))}  # fmt: skip
        env.update(AGENT_PIPELINES_INSTALLER=installer, UV_CACHE_DIR=str(Path(tmp) / "uv-cache"),
                   PIP_NO_CACHE_DIR="1")  # fmt: skip
        output = Path(tmp) / "start.log"
        started = time.monotonic()
        with output.open("wb") as sink:
            process = subprocess.Popen(
                ["bash", "scripts/start.sh", "--port", str(port), "--files-port", str(files_port)],
                cwd=clone, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            answered = None
            seen: dict[str, float] = {}  # what the start said, and when
            try:
                while time.monotonic() - started < timeout and process.poll() is None:
                    for line in output.read_text(errors="replace").splitlines():
                        if line.startswith(("setup:", "start:", "DAGSTER_HOME=")) and line not in seen:
                            seen[line] = time.monotonic() - started
                    try:
                        if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                            answered = time.monotonic() - started
                            break
                    except requests.RequestException:
                        pass
                    time.sleep(0.5)
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        os.killpg(process.pid, signal.SIGKILL)
                        process.wait(timeout=10)
        text = output.read_text(errors="replace")
        install = re.search(r"setup: installed in (\d+) s \((\w+)", text)
        warnings = [line for line in text.splitlines() if re.search(r"Warning\b|WARNING|\bwarning:", line)]
        return {
            "installer": installer,
            "answered_s": answered,
            "install_s": int(install.group(1)) if install else None,
            "installed_with": install.group(2) if install else None,
            "warnings": warnings,
            "said": [f"{at:5.1f} s  {line}" for line, at in seen.items()],
            "tail": text[-2000:],
        }


def report(results: list[dict[str, object]]) -> str:
    load = os.getloadavg()[0]
    lines = [
        SECTION,
        "",
        "`benchmarks/bench_first_start.py`: a fresh `git clone`, then `bash scripts/start.sh` (virtualenv, "
        "install of `requirements.lock` with empty package caches, demo logs, `agent-pipelines ui`) until "
        "the webserver "
        f"answers. Target: ≤ {TARGET_S} s. {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, 1-minute load {load:.1f} at the end (the machine is shared).",
        "",
        "| installer | install | fresh clone to UI answering | target met | warnings printed |",
        "|---|---:|---:|---|---:|",
    ]
    for r in results:
        answered = r["answered_s"]
        shown = f"{answered:.0f} s" if isinstance(answered, float) else "did not answer"
        met = "yes" if isinstance(answered, float) and answered <= TARGET_S else "no"
        install = f"{r['install_s']} s ({r['installed_with']})" if r["install_s"] is not None else "–"
        lines.append(f"| {r['installer']} | {install} | {shown} | {met} | {len(r['warnings'])} |")  # type: ignore[arg-type]
    said = next((r["said"] for r in results if r["said"]), [])
    if said:
        lines += [
            "",
            "What the terminal says on the way, and when (the first run above):",
            "",
            "```",
            *said,
            "```",
        ]  # type: ignore[list-item]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--installer", nargs="+", default=["uv", "pip"], choices=["uv", "pip"])
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = []
    for installer in args.installer:
        result = first_start(installer, args.timeout)
        print(
            f"{installer}: UI answered after {result['answered_s']} s; install {result['install_s']} s "
            f"({result['installed_with']}); {len(result['warnings'])} warning lines",
            file=sys.stderr,
        )  # type: ignore[arg-type]
        for line in result["warnings"]:  # type: ignore[attr-defined]
            print(f"  warning: {line}", file=sys.stderr)
        if result["answered_s"] is None:
            print(result["tail"], file=sys.stderr)
        results.append(result)
    text = report(results)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Generator benchmark: ``agent-pipelines generate`` at 1M and 10M events, against writing its files.

Run: ``.venv/bin/python benchmarks/bench_generator.py [--events 1000000 10000000] [--no-write]``

For each size, in one run on this machine:

* **ours** — :func:`agent_pipelines.generator.generate` as ``agent-pipelines generate`` runs it
  (30 days, default workers, transcripts included): tasks, attempts, incidents and errors drawn from
  the seed, every line assembled, each day sorted and merged with its malformed lines, the errors,
  metrics, transcripts and both ground-truth files written;
* **floor** — writing the very same files (same names, same sizes; the bytes of generated lines,
  prepared in memory before the clock starts) with plain Python ``open``/``write``/``close`` in one
  process: what putting that output on disk costs with no generation at all.

Wall seconds, CPU seconds (this process and its workers, user + system), events/s and MB/s, the
ratio to the floor, and the 1-minute load average before and after each measurement (the machine
has 2 cores and is shared: the load says how much of them the run had). Results go to the
``## Generator`` section of BENCHMARKS.md. Output goes under ``benchmarks/out/`` (git-ignored) and
is deleted after each size.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchmarks_md import write_section  # noqa: E402

from agent_pipelines import paths  # noqa: E402
from agent_pipelines.generator import generate  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
SECTION = "## Generator"
EVENTS_PER_TASK = 36.7  # measured: the generator writes ~36.7 events per task at 30 days
DAYS = 30
START = date(2026, 1, 5)
TARGET_SECONDS = 60.0  # issue 14: 10 million events in 60 s or less


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the generator's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def files_of(folder: Path) -> list[tuple[str, int]]:
    return sorted(
        (p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file()
    )


def bench_ours(events: int, target: Path, transcripts: bool) -> dict:
    shutil.rmtree(target, ignore_errors=True)
    tasks = max(1, int(events / EVENTS_PER_TASK))
    load = os.getloadavg()[0]
    cpu, started = cpu_seconds(), time.perf_counter()
    stats = generate(target, days=DAYS, tasks=tasks, seed=1, start=START, transcripts=transcripts)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    files = files_of(target)
    return {"events": stats.events, "tasks": tasks, "seconds": seconds, "cpu": cpu, "files": files,
            "bytes": sum(size for _, size in files), "load": (load, os.getloadavg()[0])}  # fmt: skip


def sample_bytes(folder: Path, size: int = 64 << 20) -> bytes:
    """Up to ``size`` bytes of generated stream lines: what the floor writes, over and over."""
    data = b""
    for path in sorted((folder / paths.STREAM_DIR).glob("*.jsonl")):
        with open(path, "rb") as handle:
            data += handle.read(size - len(data))
        if len(data) >= size:
            break
    return data


def bench_floor(files: list[tuple[str, int]], sample: bytes, target: Path) -> dict:
    """Write ``files`` (relative name, size) under ``target`` from ``sample``, one after another."""
    shutil.rmtree(target, ignore_errors=True)
    folders = sorted({str(Path(name).parent) for name, _ in files})
    view = memoryview(sample)
    load = os.getloadavg()[0]
    cpu, started = cpu_seconds(), time.perf_counter()
    for folder in folders:
        (target / folder).mkdir(parents=True, exist_ok=True)
    for name, size in files:
        with open(target / name, "wb") as handle:
            left = size
            while left:
                piece = view[: min(left, len(view))]
                handle.write(piece)
                left -= len(piece)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    shutil.rmtree(target, ignore_errors=True)
    return {"seconds": seconds, "cpu": cpu, "load": (load, os.getloadavg()[0])}


def measure(events: int, transcripts: bool) -> dict:
    target, floor_target = OUT / f"generator-{events}", OUT / f"generator-floor-{events}"
    print(f"generating ~{events:,} events ...", flush=True)
    ours = bench_ours(events, target, transcripts)
    print(
        f"  ours: {ours['events']:,} events in {ours['seconds']:.1f} s (CPU {ours['cpu']:.1f} s)", flush=True
    )
    sample = sample_bytes(target)
    files = ours.pop("files")
    shutil.rmtree(target)  # the floor writes as much again: make room first
    floor = bench_floor(files, sample, floor_target)
    print(
        f"  floor: {len(files):,} files, {ours['bytes'] / 1e9:.2f} GB in {floor['seconds']:.1f} s", flush=True
    )
    return {"ours": ours, "floor": floor, "n_files": len(files)}


def render(runs: dict[int, dict], transcripts: bool) -> str:
    rows = []
    for events, run in runs.items():
        ours, floor = run["ours"], run["floor"]
        mb = ours["bytes"] / 1e6
        for name, r in (("ours: `generate`", ours), ("floor: write the same files", floor)):
            rows.append(
                f"| {events:,} | {name} | {r['seconds']:.1f} | {r['cpu']:.1f} | "
                f"{ours['events'] / r['seconds']:,.0f} | {mb / r['seconds']:,.0f} | "
                f"{r['seconds'] / floor['seconds']:.2f}x | {r['load'][0]:.1f} → {r['load'][1]:.1f} |"
            )
    biggest = runs[max(runs)]
    verdict = ""
    if max(runs) >= 10_000_000:
        seconds = biggest["ours"]["seconds"]
        mark = "✅" if seconds <= TARGET_SECONDS else "❌"
        verdict = (
            f"- Target (issue 14): 10 million events in at most {TARGET_SECONDS:.0f} s — "
            f"**{seconds:.1f} s** {mark} ({biggest['ours']['events']:,} events).\n"
        )
    sizes = "; ".join(
        f"{e:,}: {r['ours']['events']:,} events, {r['ours']['tasks']:,} tasks, "
        f"{r['n_files']:,} files, {r['ours']['bytes'] / 1e9:.2f} GB"
        for e, r in runs.items()
    )
    loads = [x for r in runs.values() for part in ("ours", "floor") for x in r[part]["load"]]
    machine = "quiet" if max(loads) < 1.0 else "**loaded** (shared with other work)"
    return f"""{SECTION}

`benchmarks/bench_generator.py` on {platform.machine()}, {os.cpu_count()} cores, \
Python {platform.python_version()}, on {time.strftime("%Y-%m-%d")}. \
`agent-pipelines generate` over {DAYS} days (seed 1, default workers: \
{min(os.cpu_count() or 1, 4)} processes), \
transcripts {"included (the default)" if transcripts else "off"}. Output: {sizes}.

| events | what | wall s | CPU s | events/s | MB/s written | vs floor | load (1 min) before → after |
|---|---|---:|---:|---:|---:|---:|---|
{chr(10).join(rows)}

- **Floor**: the same files (same names, same sizes, the bytes of generated lines prepared in memory
  before the clock starts) written with plain Python `open`/`write`/`close`, one process: the cost of
  putting this output on disk without generating anything.
- CPU s counts this process and its worker processes (user + system). The machine was {machine}: the
  1-minute load average is in the table; on 2 cores a load above 2 means the run shared them, so
  wall seconds are inflated and the ratio to the floor, measured in the same run, is the comparison.
- The output is byte for byte what the generator wrote before this speed-up (same seed, same files;
  `tests/test_generator.py` pins a digest), so every benchmark and test built on generated logs is
  unchanged.
{verdict}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--no-transcripts", action="store_true", help="generate without session transcripts")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    runs = {events: measure(events, not args.no_transcripts) for events in sorted(args.events)}
    text = render(runs, not args.no_transcripts)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()

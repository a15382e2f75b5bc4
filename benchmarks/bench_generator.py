"""Generator benchmark: ``agent-pipelines generate`` at 1M and 10M events, against writing its files.

Run: ``.venv/bin/python benchmarks/bench_generator.py [--events 1000000 10000000] [--all-transcripts]
[--no-write]``

For each size, in one run on this machine:

* **ours** — :func:`agent_pipelines.generator.generate` as ``agent-pipelines generate`` runs it
  (30 days, default workers, default transcripts: every attempt of about 1,000 tasks): tasks,
  attempts, incidents and errors drawn from the seed, every line assembled, each day merged from
  the chunks as soon as it is complete, with its malformed lines, the errors, metrics, transcripts
  and both ground-truth files written;
* **floor** — writing the very same files (same names, same sizes; the bytes of generated lines,
  prepared in memory before the clock starts) with plain Python ``open``/``write``/``close`` in one
  process: what putting that output on disk costs with no generation at all.

With ``--all-transcripts`` each size is measured a second time with a transcript for every attempt
(``generate --all-transcripts``: 340,000 more files at 10M), against its own floor.

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

from agent_pipelines.core import paths  # noqa: E402
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


def bench_ours(events: int, target: Path, all_transcripts: bool) -> dict:
    shutil.rmtree(target, ignore_errors=True)
    tasks = max(1, int(events / EVENTS_PER_TASK))
    load = os.getloadavg()[0]
    cpu, started = cpu_seconds(), time.perf_counter()
    stats = generate(target, days=DAYS, tasks=tasks, seed=1, start=START, all_transcripts=all_transcripts)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    files = files_of(target)
    return {"events": stats.events, "tasks": tasks, "transcripts": stats.transcripts, "seconds": seconds,
            "cpu": cpu, "files": files, "bytes": sum(size for _, size in files),
            "load": (load, os.getloadavg()[0])}  # fmt: skip


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


def measure(events: int, all_transcripts: bool) -> dict:
    name = f"{events}-all" if all_transcripts else str(events)
    target, floor_target = OUT / f"generator-{name}", OUT / f"generator-floor-{name}"
    what = "every attempt's transcript" if all_transcripts else "default transcripts"
    print(f"generating ~{events:,} events ({what}) ...", flush=True)
    ours = bench_ours(events, target, all_transcripts)
    print(
        f"  ours: {ours['events']:,} events in {ours['seconds']:.1f} s (CPU {ours['cpu']:.1f} s, "
        f"load {ours['load'][0]:.1f} → {ours['load'][1]:.1f})",
        flush=True,
    )
    sample = sample_bytes(target)
    files = ours.pop("files")
    shutil.rmtree(target)  # the floor writes as much again: make room first
    floor = bench_floor(files, sample, floor_target)
    print(
        f"  floor: {len(files):,} files, {ours['bytes'] / 1e9:.2f} GB in {floor['seconds']:.1f} s "
        f"(load {floor['load'][0]:.1f} → {floor['load'][1]:.1f})",
        flush=True,
    )
    return {"ours": ours, "floor": floor, "n_files": len(files), "all": all_transcripts}


MODES = {False: "~1,000 tasks' (default)", True: "every attempt's (`--all-transcripts`)"}


def render(runs: list[dict]) -> str:
    rows = []
    for run in runs:
        ours, floor = run["ours"], run["floor"]
        mb = ours["bytes"] / 1e6
        for name, r in (("ours: `generate`", ours), ("floor: write the same files", floor)):
            rows.append(
                f"| {ours['events']:,} | {MODES[run['all']]} | {name} | {r['seconds']:.1f} | "
                f"{r['cpu']:.1f} | "
                f"{ours['events'] / r['seconds']:,.0f} | {mb / r['seconds']:,.0f} | "
                f"{r['seconds'] / floor['seconds']:.2f}x | {r['load'][0]:.1f} → {r['load'][1]:.1f} |"
            )
    verdict = ""
    default_10m = [r for r in runs if not r["all"] and r["ours"]["events"] >= 10_000_000]
    if default_10m:
        ours = default_10m[-1]["ours"]
        mark = "✅" if ours["seconds"] <= TARGET_SECONDS else "❌"
        verdict = (
            f"- Target (issue 14): 10 million events in at most {TARGET_SECONDS:.0f} s with the default "
            f"settings — **{ours['seconds']:.1f} s** {mark} ({ours['events']:,} events).\n"
        )
    sizes = "; ".join(
        f"{r['ours']['events']:,} events with {MODES[r['all']]} transcripts: {r['ours']['tasks']:,} tasks, "
        f"{r['ours']['transcripts']:,} transcripts, {r['n_files']:,} files, {r['ours']['bytes'] / 1e9:.2f} GB"
        for r in runs
    )
    loads = [x for r in runs for part in ("ours", "floor") for x in r[part]["load"]]
    machine = "quiet" if max(loads) < 1.0 else "**loaded** (shared with other work)"
    return f"""{SECTION}

`benchmarks/bench_generator.py` on {platform.machine()}, {os.cpu_count()} cores, \
Python {platform.python_version()}, on {time.strftime("%Y-%m-%d")}. \
`agent-pipelines generate` over {DAYS} days (seed 1, default workers: \
{min(os.cpu_count() or 1, 4)} processes). Output: {sizes}.

| events | transcripts | what | wall s | CPU s | events/s | MB/s written | vs floor | load before → after |
|---:|---|---|---:|---:|---:|---:|---:|---|
{chr(10).join(rows)}

- **Floor**: the same files (same names, same sizes, the bytes of generated lines prepared in memory
  before the clock starts) written with plain Python `open`/`write`/`close`, one process: the cost of
  putting this output on disk without generating anything.
- CPU s counts this process and its worker processes (user + system). The machine was {machine}: the
  1-minute load average is in the table (before → after); on 2 cores a load above 2 means the run
  shared them, so wall seconds are inflated and the ratio to the floor, measured in the same run, is
  the comparison.
- With the default transcripts the output is mostly 31 large day files, which the page cache takes
  at memory speed, so the floor is small and the ratio large: the cost is generating (drawing and
  formatting every line in Python, then sorting each day), and the issue's target is in seconds.
- Transcripts: by default `agent-sessions/` holds every attempt of about 1,000 tasks spread over the
  period (a real folder holds hundreds to a few thousand sessions); `--all-transcripts` writes one per
  attempt, as earlier versions did by default. The stream, errors and metrics files are byte for byte
  what the generator wrote before (same seed, same files; `tests/test_generator.py` pins a digest),
  so every benchmark and test built on generated logs is unchanged.
{verdict}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument(
        "--all-transcripts",
        action="store_true",
        help="also measure each size with a transcript for every attempt, against its own floor",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    modes = (False, True) if args.all_transcripts else (False,)
    runs = [measure(events, mode) for events in sorted(args.events) for mode in modes]
    text = render(runs)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()

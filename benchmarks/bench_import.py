"""Import throughput: Claude Code and Codex CLI transcripts into our events, against polars.read_ndjson.

Generates a large transcript set (sessions of many turns: prompts, streaming snapshots with usage,
tool calls and results with realistic outputs, failed commands, token counts), then, in one run on
the same files:

* **ours** — ``run_import`` from a fresh state: parse, dedupe, events checked against the contract,
  tokens and costs, session ends, appended to a log folder (``import_*``);
* **floor** — ``polars.read_ndjson`` of the same files (parsing alone, into a table, no meaning).

Writes the ``## Transcript import`` section of BENCHMARKS.md with the machine's load average.

    .venv/bin/python benchmarks/bench_import.py [--sessions 300] [--turns 40]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks_md import write_section

from agent_pipelines.ingest.importers import SOURCES, run_import

START = datetime(2026, 3, 2, tzinfo=UTC)
OUTPUT = "line of tool output with some/path/file_{}.py and a value {}\n"


def _ts(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def claude_session(rng: random.Random, index: int, turns: int) -> list[dict]:
    sid = f"00000000-0000-4000-8000-{index:012d}"
    t = START + timedelta(minutes=index * 7)
    base = {
        "isSidechain": False,
        "userType": "external",
        "cwd": f"/home/dev/proj{index % 20}",
        "sessionId": sid,
        "version": "1.0.120",
        "gitBranch": "main",
    }
    out: list[dict] = []
    n = 0

    def rec(kind: str, message: dict, **extra: object) -> None:
        nonlocal n, t
        n += 1
        t += timedelta(seconds=rng.randint(1, 20))
        out.append(
            {**base, "type": kind, "message": message, "uuid": f"{sid}-{n}", "timestamp": _ts(t), **extra}
        )

    for turn in range(turns):
        rec(
            "user",
            {
                "role": "user",
                "content": [{"type": "text", "text": f"Task {index}/{turn}: fix module {turn}"}],
            },
        )
        usage = {
            "input_tokens": rng.randint(5, 50),
            "output_tokens": rng.randint(50, 900),
            "cache_creation_input_tokens": rng.randint(0, 4000),
            "cache_read_input_tokens": rng.randint(0, 90000),
        }
        msg = {
            "id": f"msg_{index}_{turn}",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
        }
        rec(
            "assistant",
            {**msg, "content": [{"type": "text", "text": "Let me run it."}], "usage": usage},
            requestId=f"req_{index}_{turn}",
        )
        tool_id = f"toolu_{index}_{turn}"
        rec(
            "assistant",
            {
                **msg,
                "content": [
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": "Bash",
                        "input": {"command": f"pytest tests/test_{turn}.py"},
                    }
                ],
                "usage": usage,
            },
            requestId=f"req_{index}_{turn}",
        )
        failed = rng.random() < 0.15
        text = "".join(OUTPUT.format(i, rng.randint(0, 10**6)) for i in range(rng.randint(3, 25)))
        rec(
            "user",
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_id,
                        "content": ("Exit code 1\n" if failed else "") + text,
                        "is_error": failed,
                    }
                ],
            },
            toolUseResult={"stdout": text, "stderr": "", "interrupted": False},
        )
        rec(
            "assistant",
            {
                "id": f"msg_{index}_{turn}b",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "content": [{"type": "text", "text": "Done."}],
                "usage": usage,
            },
            requestId=f"req_{index}_{turn}b",
        )
    return out


def codex_session(rng: random.Random, index: int, turns: int) -> list[dict]:
    sid = f"0199a1b2-0000-7000-8000-{index:012d}"
    t = START + timedelta(minutes=index * 7)
    out: list[dict] = []

    def rec(kind: str, payload: dict) -> None:
        nonlocal t
        t += timedelta(seconds=rng.randint(1, 20))
        out.append({"timestamp": _ts(t), "type": kind, "payload": payload})

    rec(
        "session_meta",
        {"id": sid, "cwd": f"/home/dev/api{index % 20}", "cli_version": "0.39.0", "git": {"branch": "main"}},
    )
    rec("turn_context", {"model": "gpt-5-codex", "cwd": "/home/dev/api"})
    total = [0, 0, 0, 0]
    for turn in range(turns):
        rec("event_msg", {"type": "user_message", "message": f"Task {index}/{turn}"})
        call = f"call_{index}_{turn}"
        rec(
            "response_item",
            {
                "type": "function_call",
                "name": "shell",
                "call_id": call,
                "arguments": json.dumps({"command": ["bash", "-lc", f"pytest t{turn}.py"]}),
            },
        )
        code = 1 if rng.random() < 0.15 else 0
        text = "".join(OUTPUT.format(i, rng.randint(0, 10**6)) for i in range(rng.randint(3, 25)))
        rec(
            "response_item",
            {
                "type": "function_call_output",
                "call_id": call,
                "output": json.dumps({"output": text, "metadata": {"exit_code": code}}),
            },
        )
        last = [rng.randint(1000, 90000), 0, rng.randint(50, 900), 0]
        last[1] = rng.randint(0, last[0])
        total = [a + b for a, b in zip(total, last, strict=True)]
        usage = lambda v: {  # noqa: E731
            "input_tokens": v[0],
            "cached_input_tokens": v[1],
            "output_tokens": v[2],
            "reasoning_output_tokens": v[3],
            "total_tokens": v[0] + v[2],
        }
        tokens = {
            "type": "token_count",
            "info": {"total_token_usage": usage(total), "last_token_usage": usage(last)},
        }
        rec("event_msg", tokens)
        rec("event_msg", tokens)  # Codex writes it twice
        rec("event_msg", {"type": "agent_message", "message": "Done."})
        rec("event_msg", {"type": "task_complete"})
    return out


def generate(folder: Path, sessions: int, turns: int, seed: int = 7) -> dict[str, list[Path]]:
    rng = random.Random(seed)
    made: dict[str, list[Path]] = {"claude-code": [], "codex": []}
    for i in range(sessions):
        for source, records, path in (
            ("claude-code", claude_session(rng, i, turns), folder / "claude" / f"p{i % 20}" / f"s{i}.jsonl"),
            ("codex", codex_session(rng, i, turns), folder / "codex" / "2026" / "03" / f"rollout-{i}.jsonl"),
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
            made[source].append(path)
    return made


def floor(files: list[Path]) -> int:
    data = b"".join(p.read_bytes() for p in files)
    return pl.read_ndjson(io.BytesIO(data), infer_schema_length=None).height


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        made = generate(work / "in", args.sessions, args.turns)
        # Warm up both sides (polars' thread pool, the price table's first load) outside the timings.
        floor(made["codex"][:1])
        from agent_pipelines.ingest.importers.pricing import PriceTable

        PriceTable().rates("claude-sonnet-4-5-20250929")
        load_before = os.getloadavg()
        rows = []
        for source, files in made.items():
            size = sum(p.stat().st_size for p in files)
            started = time.perf_counter()
            records = floor(files)
            t_floor = time.perf_counter() - started
            roots = [work / "in" / ("claude" if source == "claude-code" else "codex")]
            started = time.perf_counter()
            report = run_import(
                SOURCES[source],
                roots,
                logs_dir=work / f"logs-{source}",
                data_dir=work / f"data-{source}",
                now=datetime(2026, 6, 1, tzinfo=UTC),
            )
            t_ours = time.perf_counter() - started
            assert report.records == records, (report.records, records)
            # What a sensor tick costs when nothing is new: the same pass again.
            started = time.perf_counter()
            again = run_import(
                SOURCES[source],
                roots,
                logs_dir=work / f"logs-{source}",
                data_dir=work / f"data-{source}",
                now=datetime(2026, 6, 1, tzinfo=UTC),
            )
            t_idle = time.perf_counter() - started
            assert again.total_events == 0 and again.bytes_read == 0
            rows.append((source, len(files), size, records, report.total_events, t_floor, t_ours, t_idle))
            print(
                f"{source}: {records:,} records, {size / 1e6:.1f} MB: read_ndjson {t_floor:.2f} s, "
                f"import {t_ours:.2f} s ({t_ours / t_floor:.1f}x), {report.total_events:,} events"
            )
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = "\n".join(
        f"| {s} | {f:,} | {b / 1e6:.1f} | {r:,} | {e:,} | {tf:.2f} | {r / tf:,.0f} | {to:.2f} | "
        f"{r / to:,.0f} | {to / tf:.1f}x | {ti * 1000:.0f} |"
        for s, f, b, r, e, tf, to, ti in rows
    )
    section = f"""## Transcript import

`benchmarks/bench_import.py --sessions {args.sessions} --turns {args.turns}` on {datetime.now(UTC):%Y-%m-%d}:
generated Claude Code transcripts and Codex CLI rollouts ({args.sessions} sessions of {args.turns} turns each,
tool outputs of 3-25 lines, 15% failing commands, streaming snapshots, repeated token counts), imported from a
fresh state into an empty log folder, against `polars.read_ndjson` of the same bytes in the same run.
Load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (1 min; a shared 2-core machine:
**loaded**).

| source | files | MB | records | events | read_ndjson s | rec/s | import s | rec/s | ratio | idle ms |
|---|---|---|---|---|---|---|---|---|---|---|
{table}

*Ratio*: import time over read_ndjson time. The floor only parses JSON into a table. The import also
decodes every record in Python, deduplicates records and API requests against its SQLite state, prices every
request, builds each event and checks it against the contract, and appends it to the stream partition, the
attempt's transcript and the errors file.
*Idle*: the same import again with nothing new (0 bytes read, 0 events): what a `transcript_import_sensor`
tick costs over this many files (a `stat` per file and one SQLite read of the file positions).
"""
    print(section)
    if not args.no_write:
        write_section("## Transcript import", section)


if __name__ == "__main__":
    main()

"""Alerts per session-hour on transcripts: does a healthy working day stay quiet, are incidents caught?

Writes the transcripts of ``tests/transcript_day.py`` (written from the public Codex CLI and Claude
Code formats: a healthy working day of 6 Codex and 3 Claude Code sessions, and three incidents: a
Codex call that never returns, a Claude Code ``tool_use`` without its result, a Codex agent running
one command twelve times in a minute), then for each set, with this checkout's code and with a
baseline commit's (``--baseline``, checked out in a temporary git worktree):

    agent-pipelines import codex / import claude-code --now END
    agent-pipelines detect --once --now END

and counts the alerts by type per session-hour (a session's first to last event). It also counts,
on the healthy day's imported tool calls, how often one call identity reaches the tool-loop
threshold (10 in 60 s) under three identities: the tool name (the original analyzer), the tool and
its exact input (ours), the tool and its input modulo numbers and paths (the near-identical
variant of issue 21), which is the data the choice was made on.

A third set is real: the public Codex CLI and Claude Code sessions in ``tests/data/real_sessions``
(sources in its README.md), checked an hour after their last turn ended, the idle-after-turn gap.

Writes the ``## Alerts on transcripts`` section of BENCHMARKS.md.

    .venv/bin/python benchmarks/bench_alerts.py [--baseline 7b1a62a]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import transcript_day as day  # noqa: E402
from benchmarks_md import write_section  # noqa: E402

from agent_pipelines.core.reader import read_logs  # noqa: E402

BASELINE = "7b1a62a"  # main before issue 21: tool loops by name, no turn state
TYPES = (
    "tool_loop",
    "stuck_agent",
    "error_loop",
    "cost_anomaly",
    "excessive_restarts",
    "failed_session_high_errors",
)
THRESHOLD, WINDOW_MS = 10, 60_000
REAL = ROOT / "tests" / "data" / "real_sessions"
REAL_NOW = "2026-06-05T06:00:00+00:00"  # an hour after the real sessions' last turn ended


def transcript_sets(base: Path) -> dict[str, tuple[Path, str]]:
    """name -> (folder with codex/ and claude/, the clock of the import and the check)."""
    healthy = base / "healthy"
    day.write_rollouts(healthy / "codex", day.codex_day())
    day.write_rollouts(healthy / "claude", day.claude_day())
    incidents = base / "incidents"
    at = day.DAY + timedelta(hours=2)
    stuck = "0199c0de-0000-7000-8000-00000000dead"
    loop = "0199c0de-0000-7000-8000-00000000100b"
    day.write_rollouts(
        incidents / "codex",
        {
            f"sessions/2026/03/09/rollout-2026-03-09T10-30-00-{stuck}.jsonl": day.codex_stuck(at),
            f"sessions/2026/03/09/rollout-2026-03-09T10-31-00-{loop}.jsonl": day.codex_loop(at),
        },
    )
    day.write_rollouts(
        incidents / "claude",
        {"-home-dev-shop/5c1a0de0-0000-4000-8000-00000000dead.jsonl": day.claude_stuck(at)},
    )
    return {
        "real public sessions (1 Codex + 2 Claude Code, tests/data/real_sessions)": (REAL, REAL_NOW),
        "healthy day (6 Codex + 3 Claude Code sessions)": (healthy, day.ts(day.DAY + timedelta(days=2))),
        "incidents (a hung Codex call, a hung Claude Code tool, a 12x repeated command)": (
            incidents,
            day.ts(at + timedelta(minutes=40)),
        ),
    }


def cli(code: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(code), "AGENT_IMPORT_CLAUDE_CODE": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "agent_pipelines.cli", *args],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed with {code}: {done.stderr.strip()[-400:]}")


def run_set(code: Path, folder: Path, now: str, work: Path) -> tuple[Counter[str], float, pl.DataFrame]:
    logs, data = work / "logs", work / "data"
    for source, sub in (("codex", "codex/sessions"), ("claude-code", "claude")):
        cli(code, "import", source, str(folder / sub), "--logs-dir", str(logs), "--data-dir", str(data),
            "--now", now, "--quiet")  # fmt: skip
    cli(code, "detect", "--once", "--now", now, "--logs-dir", str(logs), "--data-dir", str(data))
    alerts: Counter[str] = Counter()
    path = logs / "agent-alerts.jsonl"
    if path.exists():
        alerts.update(json.loads(line)["type"] for line in path.read_text().splitlines() if line.strip())
    events = read_logs(logs).events
    spans = events.group_by("attempt_id").agg(
        (pl.col("timestamp").max() - pl.col("timestamp").min()).alias("d")
    )
    hours = float(spans.get_column("d").dt.total_milliseconds().sum()) / 3_600_000
    return alerts, hours, events


def loops_by_identity(events: pl.DataFrame) -> list[tuple[str, int, int]]:
    """(identity, windows reaching the threshold, most calls of one identity in one window)."""
    calls = events.filter(pl.col("event_type") == "tool_call").select(
        "attempt_id",
        "tool_name",
        pl.col("tool_params").fill_null(""),
        pl.col("timestamp").dt.epoch("ms").alias("ts"),
    )
    near = (
        pl.col("tool_params")
        .str.replace_all(r"[\w.~-]*/[\w./~-]+|\b[\w-]+\.\w+\b", "<P>")
        .str.replace_all(r"\d+", "<N>")
    )
    identities = {
        "tool name (the original analyzer)": pl.col("tool_name"),
        "tool + exact input (ours)": pl.col("tool_name") + "\x1f" + pl.col("tool_params"),
        "tool + input modulo numbers and paths": pl.col("tool_name") + "\x1f" + near,
    }
    out = []
    for name, key in identities.items():
        keyed = calls.with_columns(key=key).sort("ts")
        loops, most = 0, 0
        for (_attempt, _key), group in keyed.group_by("attempt_id", "key"):
            ts = group.get_column("ts").to_list()
            lo, firing = 0, False
            for hi, t in enumerate(ts):
                while ts[lo] < t - WINDOW_MS:
                    lo += 1
                n = hi - lo + 1
                most = max(most, n)
                if n >= THRESHOLD and not firing:
                    loops += 1
                firing = n >= THRESHOLD
        out.append((name, loops, most))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with ('' for none)")
    args = parser.parse_args()
    rows: list[tuple[str, str, float, Counter[str]]] = []
    identity_rows: list[tuple[str, int, int]] = []
    identity_calls = 0
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        base = Path(tmp)
        sets = transcript_sets(base / "transcripts")
        codes = [("this checkout", ROOT)]
        if args.baseline:
            old = base / "baseline"
            add = ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(old), args.baseline]
            subprocess.run(add, check=True)
            codes.insert(0, (f"baseline {args.baseline}", old))
        try:
            for set_name, (folder, now) in sets.items():
                for code_name, code in codes:
                    work = base / "runs" / f"{abs(hash((set_name, code_name)))}"
                    alerts, hours, events = run_set(code, folder, now, work)
                    rows.append((set_name, code_name, hours, alerts))
                    print(set_name, "|", code_name, f"{hours:.1f} session-h", dict(alerts), flush=True)
                    if code == ROOT and set_name.startswith("healthy"):
                        calls = events.filter(pl.col("event_type") == "tool_call").height
                        identity_rows = loops_by_identity(events)
                        identity_calls = calls
        finally:
            if args.baseline:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base / "baseline")]
                )
    lines = [
        "## Alerts on transcripts",
        "",
        "`benchmarks/bench_alerts.py`: transcripts written from the public Codex CLI and Claude Code",
        "formats (`tests/transcript_day.py`), and real public sessions (`tests/data/real_sessions`,",
        "sources in its README.md, checked an hour after their last turn), imported with",
        "`agent-pipelines import`, then one `detect --once`; alerts by type, and all alerts per",
        "session-hour (a session's first to last event). The baseline is main before issue 21 (tool",
        "loops counted by tool name, no turn state, learned templates over caller fingerprints).",
        "",
        "| transcripts | code | session-h | " + " | ".join(TYPES) + " | all | per session-h |",
        "|---|---|---:|" + "---:|" * (len(TYPES) + 2),
    ]
    for set_name, code_name, hours, alerts in rows:
        total = sum(alerts.values())
        counts = " | ".join(str(alerts.get(t, 0)) for t in TYPES)
        rate = f"{total / hours:.2f}" if hours >= 1 else "-"
        lines.append(f"| {set_name} | {code_name} | {hours:.2f} | {counts} | {total} | {rate} |")
    lines += [
        "",
        f"What counts as one call, on the healthy day's {identity_calls} imported tool calls: how many",
        f"times one identity reached the tool-loop threshold ({THRESHOLD} calls in {WINDOW_MS // 1000} s),",
        "and the most calls of one identity in any such window.",
        "",
        "| call identity | loops | most in 60 s |",
        "|---|---:|---:|",
        *(f"| {name} | {loops} | {most} |" for name, loops, most in identity_rows),
    ]
    write_section("## Alerts on transcripts", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

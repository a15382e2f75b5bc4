"""The ``## Team scale`` section of BENCHMARKS.md, rendered from ``bench_scale.py``'s results."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

SECTION = "## Team scale"


def render(results: dict, loads: tuple[float, float], args: argparse.Namespace) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d")
    s, p = results["sqlite"], results["postgres"]
    b = results["batch"]
    lines = [
        SECTION,
        "",
        f"`benchmarks/bench_scale.py`, run {now} on a 2-core box shared with other work (load average "
        f"{loads[0]:.1f} at the start, {loads[1]:.1f} at the end: **loaded**, so absolute times are "
        "pessimistic; both instances ran in the same run, one after the other).",
        "",
        f"**Live workload** — the real `dagster-daemon` for {args.minutes:g} min per instance while one "
        f"generated day ({s['live']['replayed']:,} events) is appended, sped up to fit, and error-loop "
        "incidents are appended 3–9 s apart (`bench_live`'s); time from an incident's 4th error to its "
        "alert line:",
        "",
        "| instance | alerts | alert p50 | alert p95 | max | tick gap p50 | tick gap p95 | runs"
        " | queued→started p50 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (("SQLite (default)", s["live"]), ("PostgreSQL 15", p["live"])):
        lines.append(
            f"| {name} | {r['alerts']}/{r['incidents']} | {r['p50']:.1f} s | {r['p95']:.1f} s"
            f" | {r['max']:.1f} s | {r['tick_gap_p50']:.1f} s | {r['tick_gap_p95']:.1f} s | {r['runs']} |"
            f" {r['create_to_start_p50']:.1f} s |"
        )
    lines += [
        "",
        "Most of an alert's latency is the detector run's wait between queued and started (the run"
        f" worker's Python start-up: {s['live']['create_to_start_p50']:.0f} s and"
        f" {p['live']['create_to_start_p50']:.0f} s"
        " here, against the quiet-machine numbers of *Live alerts*), not the instance's storage; SQLite ran"
        f" first, and the load average moved from {loads[0]:.0f} to {loads[1]:.0f} during the run, so the"
        " latency difference between the two rows is mostly load. Tick cadence holds at 5 s on both.",
    ]
    lines += [
        "",
        f"**The UI after {s['fill']['ticks']:,} ticks** of the live sensor (the daemon's own plus synthetic"
        " ones written through the instance API, one in five with a finished detector run: "
        f"{s['ui']['runs_count']:,} runs on SQLite, {p['ui']['runs_count']:,} on PostgreSQL), the real "
        "`dagster-webserver`, p50 of 10 GraphQL queries:",
        "",
        "| query | SQLite | PostgreSQL | SQLite ÷ PostgreSQL |",
        "|---|---|---|---|",
    ]
    for key, label in (
        ("runs_page", "runs page (`runsFeedOrError` 30 + count)"),
        ("ticks_25", "sensor page: last 25 ticks"),
        ("ticks_day", f"sensor timeline: the last day's ticks ({s['ui']['ticks_in_day']:,}: the API's cap)"),
    ):
        lines.append(
            f"| {label} | {s['ui'][key] * 1000:.0f} ms | {p['ui'][key] * 1000:.0f} ms |"
            f" {s['ui'][key] / p['ui'][key]:.2f}× |"
        )
    lines += [
        "",
        f"Writing the synthetic ticks and runs: {s['fill']['fill_s']:.0f} s on SQLite,"
        f" {p['fill']['fill_s']:.0f} s on PostgreSQL (ticks in batches of 1,000 rows, runs one by one).",
        "",
        f"**Batch from S3** — `cleaned_events` for {b['days']} day partitions ({b['rows']:,} events, "
        f"{b['bytes'] / 1e6:.0f} MB of JSONL), materialized with local folders vs `s3://` log and data "
        "folders on moto's S3 server on 127.0.0.1 (upload of the daily files beforehand, as `rclone` "
        f"would: {b['upload_s']:.1f} s):",
        "",
        "Interleaved local, S3, S3 again, twice; the best of each"
        + (" (measured by `--only-batch` right after the rest)" if b.get("separate_run") else "")
        + ":",
        "",
        "| logs and tables | time | ratio |",
        "|---|---|---|",
        f"| local disk (reference) | {b['local_s']:.1f} s | 1.00× |",
        f"| `s3://`, first run (mirror fetches every object) | {b['s3_first_s']:.1f} s |"
        f" {b['s3_first_s'] / b['local_s']:.2f}× |",
        f"| `s3://`, mirror up to date (one LIST per sync) | {b['s3_again_s']:.1f} s |"
        f" {b['s3_again_s'] / b['local_s']:.2f}× |",
        "",
        f"A full first sync of the prefix on its own: {b['sync_s']:.2f} s. moto is a Python server on the"
        " same 2 cores: a real S3 or MinIO answers faster, but sits across a network.",
        "",
    ]
    return "\n".join(lines)

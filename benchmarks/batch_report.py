"""The Markdown ``bench_batch.py`` writes into BENCHMARKS.md: the *Batch analytics* section and the
*Cleaned events against the read_ndjson floor* section, from the figures its stages returned."""

from __future__ import annotations

import os
import platform
import time

from batch_stages import REFRESH_EVENTS_PER_DAY, REFRESH_STAGES, STAGES

CLEANED_HEADING = "## Cleaned events against the read_ndjson floor"


def cleaned_section(runs: list[dict], rounds: int) -> str:
    measured = [r for r in runs if "not_run" not in r]
    loads = [load for r in measured for load in r["loads"]]
    cores = os.cpu_count() or 1
    quiet = max(loads) < cores
    lines = [
        CLEANED_HEADING,
        "",
        f"`benchmarks/bench_batch.py --cleaned-only` on {platform.machine()}, {cores} cores, "
        f"Python {platform.python_version()}, polars {_version('polars')}, on {time.strftime('%Y-%m-%d')}: "
        "the floor (`polars.read_ndjson` of every daily file, schema inferred, bad lines removed "
        "beforehand) and what the `cleaned_events` asset does per day without Dagster "
        "(`agent_pipelines.core.cleaned.clean_days`: each day read block by block — contract, types, "
        "flattening, quarantine —, deduplicated across its blocks and streamed to its Parquet file), "
        "each in its own process, "
        f"**alternated {rounds} times, best of each**, so both meet the same load (once at "
        "the larger sizes). "
        f"**{'Quiet' if quiet else 'Loaded'} machine**: 1-minute load average {min(loads):.1f}–"
        f"{max(loads):.1f} on {cores} cores{'' if quiet else ' (shared with other work)'}. CPU seconds are "
        "the process's own (every thread), less sensitive to load than the wall clock. Peak memory is "
        "each process's high-water RSS (`VmHWM`): the floor holds a whole day's frame; the library "
        "parses a file up to 32 MiB as one block and larger files in an even number of blocks of at most "
        "16 MiB up to 64 MiB (8 MiB beyond), in a pool of one thread per core (a day's next two "
        "blocks parsed while one is handed on, "
        "the next day's reading started while this one is written and taking the pool's room once this "
        "one is all read, results in order ahead of the Parquet writer), and holds "
        "no more than a few blocks and the day's event ids.",
        "",
        "| events | floor s | library s | ratio | floor CPU s | library CPU s | CPU ratio | floor peak MiB "
        "| library peak MiB | of which imports MiB | load | target |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in runs:
        if "not_run" in r:
            lines.append(f"| {r['events']:,} | not run: {r['not_run']} | | | | | | | | | | |")
            continue
        ratio = r["cleaned_library"]["seconds"] / r["floor"]["seconds"]
        cpu_ratio = r["cleaned_library_cpu"] / r["floor_cpu"]
        imports = r["cleaned_library"].get("imports_mib")
        lines.append(
            f"| {r['events']:,} | {r['floor']['seconds']:.1f} | {r['cleaned_library']['seconds']:.1f} | "
            f"**{ratio:.2f}x** | {r['floor_cpu']:.1f} | {r['cleaned_library_cpu']:.1f} | {cpu_ratio:.2f}x | "
            f"{r['floor_peak']:,.0f} | {r['cleaned_library_peak']:,.0f} | "
            f"{'–' if imports is None else f'{imports:,.0f}'} | "
            f"{min(r['loads']):.1f}–{max(r['loads']):.1f} | ≤ 1.3x {_mark(ratio <= 1.3)} |"
        )
    if len(measured) > 1:
        a = measured[0]
        lines += [
            "",
            "Growth with size (ratio to the smallest size; a day's file grows as the events do):",
            "",
            "| events | size | floor s | library s | floor peak | library peak | library peak target |",
            "|---:|---:|---:|---:|---:|---:|---|",
        ]
        for b in measured:
            peak = b["cleaned_library_peak"] / a["cleaned_library_peak"]
            lines.append(
                f"| {b['events']:,} | {b['events'] / a['events']:.1f}x | "
                f"{b['floor']['seconds'] / a['floor']['seconds']:.1f}x | "
                f"{b['cleaned_library']['seconds'] / a['cleaned_library']['seconds']:.1f}x | "
                f"{b['floor_peak'] / a['floor_peak']:.2f}x | **{peak:.2f}x** | ≤ 1.2x {_mark(peak <= 1.2)} |"
            )
    through = [r for r in measured if r.get("cleaned_dagster")]
    if through:
        lines += [
            "",
            "Through Dagster (`stage_cleaned_dagster`: one `dg.materialize` of `cleaned_events` and its "
            "checks over every day, a single-run backfill, on the shipped instance configuration, "
            "alternated with the two above); the step time is Dagster's own, the rest is the run's start, "
            "its event log and its end. The contract check is part of the step: each group of days is "
            "checked in a thread as soon as it is written; *check waited* is what the step waited for "
            "it after the last day (*check s*: the check's own time, overlapped with the reading):",
            "",
            "| events | floor s | Dagster s | ratio | `cleaned_events` step s | check waited s | check s | "
            "rest of the run s | Dagster CPU s | CPU ratio | Dagster peak MiB | target |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in through:
            d = r["cleaned_dagster"]
            steps = d.get("steps", {})
            step = steps.get("cleaned_events", 0.0)
            check = steps.get("cleaned_events_matches_contract", 0.0)  # a step of its own before
            contract = d.get("contract", {})
            ratio = d["seconds"] / r["floor"]["seconds"]
            cpu = r.get("cleaned_dagster_cpu")
            cpu_cells = "– | –" if cpu is None else f"{cpu:.1f} | {cpu / r['floor_cpu']:.2f}x"
            lines.append(
                f"| {r['events']:,} | {r['floor']['seconds']:.1f} | {d['seconds']:.1f} | **{ratio:.2f}x** | "
                f"{step:.1f} | {contract.get('waited_seconds', check):.2f} | "
                f"{contract.get('checking_seconds', check):.2f} | {d['seconds'] - step - check:.1f} | "
                f"{cpu_cells} | "
                f"{r['cleaned_dagster_peak']:,.0f} | ≤ 1.4x {_mark(ratio <= 1.4)} |"
            )
    return "\n".join(lines) + "\n"


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def _cell(run: dict, stage: str, base: dict) -> str:
    r, b = run.get(stage), base.get(stage)
    if r is None:
        return "–"
    growth = f" ({r['seconds'] / b['seconds']:.1f}x)" if b else ""
    return f"{r['seconds']:.1f}{growth}"


def section(runs: list[dict], refreshes: list[dict], not_run: list[int] | None = None) -> str:
    loads = [r[s]["load"] for r in runs for s in STAGES if r.get(s)]
    loads += [r[s]["load"] for r in refreshes for s in REFRESH_STAGES]
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    versions = (
        f"Python {platform.python_version()}, polars {_version('polars')}, dagster {_version('dagster')}"
    )
    lines = [
        "## Batch analytics",
        "",
        f"Measured by `benchmarks/bench_batch.py` on {machine}, {versions}, on {time.strftime('%Y-%m-%d')}. "
        f"**The machine was shared with other work**: the 1-minute load average at each stage's start is "
        f"shown (between {min(loads):.1f} and {max(loads):.1f} on {os.cpu_count()} cores), so absolute "
        "seconds are inflated; the ratios compare stages measured in the same run. Each stage runs in its "
        "own process; peak memory is that process's high-water RSS (`VmHWM`).",
        "",
    ]
    for run in runs:
        floor = run["floor"]["seconds"]
        rows = [
            ("`polars.read_ndjson` (floor)", "parse only; bad lines removed beforehand", run["floor"]),
            ("`json.loads` loop (naive)", "parse only, Python objects", run["naive"]),
            ("cleaned_events, library", "clean_days: blocks (files up to 32 MiB whole, to 64 MiB in "
             "16 MiB, else 8 MiB), dedupe, Parquet stream, quarantine",
             run["cleaned_library"]),
            ("cleaned_events, Dagster", "one run over all days (single-run backfill), + pandera check",
             run["cleaned_dagster"]),
            ("per-day results, Dagster", "session_parts, error_events, task_events: one run, all days",
             run["daily_results"]),
        ]  # fmt: skip
        lines += [
            f"**{run['events']:,} generated events over 30 days** "
            f"({run['bytes'] / 1e9:.2f} GB of daily JSONL):",
            "",
            "| stage | what | seconds | vs floor | peak MiB | load |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for label, what, r in rows:
            if r is None:
                lines.append(f"| {label} | {what} | not run at this size | | | |")
                continue
            lines.append(
                f"| {label} | {what} | {r['seconds']:.1f} | {r['seconds'] / floor:.2f}x | "
                f"{r['maxrss_mib']:,.0f} | {r['load']:.1f} |"
            )
        down = run["downstream"]
        lines.append(
            f"| downstream, Dagster | one run of every unpartitioned asset, all days | {down['seconds']:.1f} "
            f"| – | {down['maxrss_mib']:,.0f} | {down['load']:.1f} |"
        )
        steps = run["cleaned_dagster"].get("steps", {})
        lib = run["cleaned_library"]["seconds"] / floor
        dag = run["cleaned_dagster"]["seconds"] / floor
        lines += [
            "",
            "Targets: cleaned events at most 1.3x the floor in the library — "
            f"**{lib:.2f}x** {_mark(lib <= 1.3)}; "
            f"at most 1.4x through Dagster — **{dag:.2f}x** {_mark(dag <= 1.4)} (one run for "
            f"{run['cleaned_dagster']['partitions']} days, including the contract check, which the "
            f"`cleaned_events` step runs as it writes: the step {steps.get('cleaned_events', 0.0):.1f} s, "
            f"of which waiting for the check "
            f"{run['cleaned_dagster'].get('contract', {}).get('waited_seconds', 0.0):.2f} s).",
            "",
        ]
    big = runs[-1]
    lines += [
        f"Step times inside the Dagster runs at {big['events']:,} events (seconds):",
        "",
        "| step | seconds |",
        "|---|---:|",
    ]
    steps = {**big["cleaned_dagster"]["steps"], **big["daily_results"]["steps"], **big["downstream"]["steps"]}
    for key, seconds in sorted(steps.items(), key=lambda kv: -kv[1]):
        lines.append(f"| `{key}` | {seconds:.1f} |")
    lines += [
        "",
        "Growth with size (seconds; ratio to the smallest size in brackets):",
        "",
        "| events | floor | naive | cleaned (library) | cleaned (Dagster) | per-day results | downstream "
        "| peak MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = runs[0]
    for run in runs:
        cells = [_cell(run, stage, base) for stage in STAGES]
        peak_run = max(run[s]["maxrss_mib"] for s in STAGES if run.get(s))
        lines.append(f"| {run['events']:,} | " + " | ".join(cells) + f" | {peak_run:,.0f} |")
    for size in not_run or []:
        lines.append(f"| {size:,} | not run in this session: see below | | | | | | |")
    if not_run:
        lines += [
            "",
            f"Not run here: {', '.join(f'{n:,}' for n in not_run)} events. On the shared machine (load "
            f"average up to {max(loads):.0f} on {os.cpu_count()} cores during this run) the 1M stages alone "
            f"took {sum(runs[0][s]['seconds'] for s in STAGES if runs[0].get(s)) / 60:.0f} minutes, and "
            "every Dagster stage of the larger sizes would not have finished in the session; their floor and "
            "library figures are in the section *Cleaned events against the read_ndjson floor* "
            "(`--cleaned-only`). Re-run "
            "`benchmarks/bench_batch.py` on a quiet machine for the rest.",
        ]
    if refreshes:
        lines += [
            "",
            f"**Incremental refresh** — a new day arrives on top of the history ({REFRESH_EVENTS_PER_DAY:,} "
            "generated events per day): its daily run (cleaned events + per-day results for that day), "
            "then one run of every unpartitioned asset, against recomputing session metrics and error "
            "clusters from every event (what each refresh did before the per-day results):",
            "",
            "| history | events | new day's run | downstream run | refresh total | full recompute of the two "
            "views | peak MiB (refresh) | load |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in refreshes:
            f = r["refresh"]
            lines.append(
                f"| {r['days']} days | {r['full_recompute']['events']:,} | {f['day_seconds']:.1f} | "
                f"{f['downstream_seconds']:.1f} | {f['seconds']:.1f} | "
                f"{r['full_recompute']['seconds']:.1f} | "
                f"{f['maxrss_mib']:,.0f} | {f['load']:.1f} |"
            )
        if len(refreshes) > 1:
            a, b = refreshes[0], refreshes[-1]
            lines += [
                "",
                f"From {a['days']} to {b['days']} days of history ({b['days'] / a['days']:.0f}x the events): "
                f"the new day's run {b['refresh']['day_seconds'] / a['refresh']['day_seconds']:.2f}x, the "
                "downstream run "
                f"{b['refresh']['downstream_seconds'] / a['refresh']['downstream_seconds']:.2f}x, "
                f"the full recompute {b['full_recompute']['seconds'] / a['full_recompute']['seconds']:.2f}x. "
                "The downstream run still reads every day's small per-day results (one row per attempt and "
                "day, one per error) and rewrites the unpartitioned tables whole, so it grows with the "
                "history, far slower than the events do.",
            ]
    return "\n".join(lines) + "\n"


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)

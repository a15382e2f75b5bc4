"""Team scale: the live workload on SQLite vs PostgreSQL, the UI after 10,000 ticks, logs and tables on S3.

Three measurements in one run, written to the ``## Team scale`` section of BENCHMARKS.md:

1. **Live workload, SQLite vs PostgreSQL.** For each instance, the real ``dagster-daemon`` (our
   ``config/dagster.yaml`` or ``config/dagster-postgres.yaml``; PostgreSQL started by this script
   from the machine's binaries, as the tests do) watches a log folder while one generated day of
   events is appended live, sped up to fit the run, and error-loop incidents are appended at random
   moments (``bench_live``'s). Measured: the live sensor's tick gaps, the time from an incident's
   4th error to its alert line in ``agent-alerts.jsonl`` (p50/p95), and detector runs' queue delay.
2. **The UI after 10,000 ticks.** The same instances are filled up to 10,000 ticks of the live
   sensor (the ticks the daemon made, plus synthetic ones written through the instance's own API:
   four skipped ticks for one that launched a detector run, which is added as a finished run), then
   the real ``dagster-webserver`` answers the runs page's GraphQL (``runsFeedOrError`` +
   ``runsFeedCountOrError``) and the sensor page's tick history (last 25 ticks, and one day's
   ticks for the timeline). p50 of 10 timed queries after 2 warm-ups.
3. **Batch from S3.** ``cleaned_events`` for every day of a generated log folder, materialized with
   the logs and tables on local disk vs with ``s3://`` folders on moto's S3 server on 127.0.0.1
   (the logs shipped to it first, whole files as ``rclone`` does). The S3 run includes the mirror's
   first fetch; a second S3 run shows the steady state (the mirror only lists).

Usage: ``.venv/bin/python benchmarks/bench_scale.py [--minutes 3] [--ticks 10000] [--no-write]``
(``--render-only`` re-renders the section from the raw results the last run saved).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from benchmarks_md import write_section  # noqa: E402
from live_harness import AlertWatcher, _instance_stats, pct, write_incident  # noqa: E402
from pg_server import PostgresServer, find_bin_dir  # noqa: E402
from scale_report import SECTION, render  # noqa: E402
from scale_ui import BIN, fill_ticks, ui_times  # noqa: E402

from agent_pipelines.core import paths  # noqa: E402


def _instance_env(kind: str, home: Path, pg: PostgresServer | None) -> dict[str, str]:
    config = "dagster-postgres.yaml" if kind == "postgres" else "dagster.yaml"
    shutil.copy(ROOT / "config" / config, home / "dagster.yaml")
    env = {"DAGSTER_HOME": str(home)}
    if pg is not None:
        env.update(pg.env(pg.new_database("bench")))
    return env


class Replayer(threading.Thread):
    """Appends one generated day's stream lines to the log folder at a steady pace."""

    def __init__(self, lines: list[bytes], target: Path, seconds: float) -> None:
        super().__init__(daemon=True)
        self.lines, self.target, self.seconds = lines, target, seconds
        self.stop = threading.Event()
        self.appended = 0

    def run(self) -> None:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        batch = max(1, len(self.lines) // int(self.seconds * 4))  # four appends a second
        start = time.monotonic()
        with open(self.target, "ab") as handle:
            for i in range(0, len(self.lines), batch):
                if self.stop.is_set():
                    return
                handle.write(b"".join(self.lines[i : i + batch]))
                handle.flush()
                self.appended = min(len(self.lines), i + batch)
                due = start + self.seconds * (i + batch) / len(self.lines)
                time.sleep(max(0.0, due - time.monotonic()))


def live(
    kind: str, minutes: float, day_lines: list[bytes], pg: PostgresServer | None
) -> tuple[dict, Path, dict]:
    """The live workload under the real daemon; returns stats, the home and its environment."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-scale-{kind}-"))
    home, logs, data = work / "dagster_home", work / "logs", work / "data"
    for folder in (home, logs, data):
        folder.mkdir()
    inst_env = _instance_env(kind, home, pg)
    env = dict(
        os.environ,
        **inst_env,
        AGENT_WORK_LOGS_DIR=str(logs),
        AGENT_PIPELINES_DATA_DIR=str(data),
        AGENT_PIPELINES_AUTO_ANALYTICS="false",
        AGENT_WORK_ANALYZER_ENABLED="true",
    )
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"):
        env.pop(name, None)
    log = open(work / "daemon.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    watcher = AlertWatcher(logs / paths.ALERTS_FILE)
    watcher.start()
    appended: dict[str, float] = {}
    replay = Replayer(day_lines, logs / paths.STREAM_DIR / "2026-03-02.jsonl", minutes * 60)
    try:
        write_incident(logs, "ve-warmup")
        deadline = time.monotonic() + 240
        while "ve-warmup" not in watcher.seen:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{kind}: no warm-up alert; see {work}/daemon.log")
            time.sleep(0.2)
        replay.start()
        rng = random.Random(7)
        end = time.monotonic() + minutes * 60
        i = 0
        while time.monotonic() < end:
            time.sleep(rng.uniform(3.0, 9.0))
            attempt = f"ve-scale-{i:03d}"
            appended[attempt] = write_incident(logs, attempt)
            i += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(a in watcher.seen for a in appended):
            time.sleep(0.2)
    finally:
        replay.stop.set()
        watcher.stop.set()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    latencies = [watcher.seen[a] - t for a, t in appended.items() if a in watcher.seen]
    saved = {k: os.environ.get(k) for k in inst_env}
    os.environ.update(inst_env)
    try:
        stats = _instance_stats(home)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return (
        {
            "incidents": len(appended),
            "alerts": len(latencies),
            "p50": pct(latencies, 0.5),
            "p95": pct(latencies, 0.95),
            "max": max(latencies),
            "replayed": replay.appended,
            **stats,
        },
        home,
        inst_env,
    )


def batch_s3(days: int, tasks: int) -> dict:
    """cleaned_events for every day: local folders vs s3:// folders on moto's server."""
    import dagster as dg
    from s3_server import S3Server

    from agent_pipelines.core.partitions import log_days
    from agent_pipelines.definitions import analytics_assets
    from agent_pipelines.generator import generate
    from agent_pipelines.ingest import log_mirror
    from agent_pipelines.orchestration.partitions import register_partitions
    from agent_pipelines.orchestration.resources import analytics_resources as build_resources

    work = Path(tempfile.mkdtemp(prefix="bench-scale-s3-"))
    logs = work / "logs"
    generate(logs, days=days, tasks=tasks, seed=13, workers=2, transcripts=False)
    files = sorted((logs / paths.STREAM_DIR).glob("*.jsonl"))
    size = sum(f.stat().st_size for f in files)
    server = S3Server().start()
    saved = dict(os.environ)
    os.environ.update(server.env(), AGENT_PIPELINES_LOCAL_DIR=str(work / "local"))
    try:
        bucket = server.new_bucket("bench-bucket")
        client = server.client()
        t = time.perf_counter()
        for f in files:
            client.put_object(Bucket=bucket, Key=f"fleet/host-1/stream/{f.name}", Body=f.read_bytes())
        upload_s = time.perf_counter() - t
        assets, checks = analytics_assets()
        day_keys = [d.isoformat() for d in log_days(logs)]

        def run(logs_dir: str, data_dir: str) -> tuple[float, int]:
            rows = 0
            with dg.instance_for_test() as instance:
                register_partitions(instance, log_days(logs))
                resources = build_resources(logs_dir, data_dir)
                t0 = time.perf_counter()
                for key in day_keys:
                    log_mirror._last_sync.clear()  # each run syncs, as a run in a fresh process would
                    result = dg.materialize(
                        [*assets, *checks],
                        selection=[dg.AssetKey("cleaned_events")],
                        partition_key=key,
                        instance=instance,
                        resources=resources,
                        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
                    )
                    assert result.success
                    for mat in result.asset_materializations_for_node("cleaned_events"):
                        rows += int(mat.metadata["dagster/row_count"].value)
                return time.perf_counter() - t0, rows

        run(str(logs), str(work / "warm-up"))  # imports and first-run costs, not timed
        url = f"s3://{bucket}/fleet"
        local_s = s3_first = s3_again = float("inf")
        for rep in range(2):  # interleaved, best of two: the machine's load moves during the run
            t_local, local_rows = run(str(logs), str(work / f"data-{rep}"))
            os.environ["AGENT_PIPELINES_LOCAL_DIR"] = str(work / f"local-{rep}")  # an empty mirror
            t_first, s3_rows = run(url, f"s3://{bucket}/pipelines-{rep}")
            t_again, _ = run(url, f"s3://{bucket}/pipelines-{rep}-again")
            local_s, s3_first, s3_again = (
                min(local_s, t_local),
                min(s3_first, t_first),
                min(s3_again, t_again),
            )
        t = time.perf_counter()
        log_mirror.sync(url, work / "mirror-timing")
        sync_s = time.perf_counter() - t
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    assert s3_rows == local_rows, (s3_rows, local_rows)
    return {
        "days": len(day_keys),
        "bytes": size,
        "rows": local_rows,
        "upload_s": upload_s,
        "local_s": local_s,
        "s3_first_s": s3_first,
        "s3_again_s": s3_again,
        "sync_s": sync_s,
    }


def day_of_lines(tasks: int) -> list[bytes]:
    from agent_pipelines.generator import generate

    gen = Path(tempfile.mkdtemp(prefix="bench-scale-day-"))
    generate(gen, days=1, tasks=tasks, seed=21, workers=1, transcripts=False)
    lines: list[bytes] = []
    for part in sorted((gen / paths.STREAM_DIR).glob("*.jsonl")):
        lines.extend(part.read_bytes().splitlines(True))
    shutil.rmtree(gen, ignore_errors=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--ticks", type=int, default=10_000)
    parser.add_argument("--day-tasks", type=int, default=1200)
    parser.add_argument("--batch-days", type=int, default=4)
    parser.add_argument("--batch-tasks", type=int, default=4000)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "out" / "bench_scale.json",
                        help="where the raw results are saved (git-ignored)")  # fmt: skip
    parser.add_argument("--only-batch", action="store_true",
                        help="measure the S3 batch again and merge it into --results")  # fmt: skip
    parser.add_argument("--render-only", action="store_true",
                        help="render BENCHMARKS.md from --results without measuring again")  # fmt: skip
    args = parser.parse_args()
    if args.only_batch:
        saved = json.loads(args.results.read_text())
        saved["results"]["batch"] = batch_s3(args.batch_days, args.batch_tasks)
        print(json.dumps(saved["results"]["batch"]), flush=True)
        saved["results"]["batch"]["separate_run"] = True
        saved["loads"] = [saved["loads"][0], os.getloadavg()[0]]
        args.results.write_text(json.dumps(saved))
        args.render_only = True
    if args.render_only:
        saved = json.loads(args.results.read_text())
        args.minutes = saved["minutes"]
        text = render(saved["results"], tuple(saved["loads"]), args)
        print(text)
        if not args.no_write:
            write_section(SECTION, text)
        return
    load_start = os.getloadavg()[0]
    bin_dir = find_bin_dir()
    if bin_dir is None:
        sys.exit("bench_scale: PostgreSQL binaries not found (apt-get install postgresql)")
    day = day_of_lines(args.day_tasks)
    results: dict = {}
    with PostgresServer(bin_dir) as pg:
        for kind in ("sqlite", "postgres"):
            stats, home, inst_env = live(kind, args.minutes, day, pg if kind == "postgres" else None)
            print(kind, json.dumps(stats), flush=True)
            fill = fill_ticks(home, inst_env, args.ticks)
            print(kind, json.dumps(fill), flush=True)
            ui = ui_times(home, inst_env)
            print(kind, json.dumps(ui), flush=True)
            results[kind] = {"live": stats, "fill": fill, "ui": ui}
    results["batch"] = batch_s3(args.batch_days, args.batch_tasks)
    print(json.dumps(results["batch"]), flush=True)
    loads = (load_start, os.getloadavg()[0])
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"results": results, "loads": loads, "minutes": args.minutes}))
    text = render(results, loads, args)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()

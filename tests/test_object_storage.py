"""Logs and tables on object storage, against a real S3 API server (moto in server mode).

Hosts ship their daily files to one prefix the way ``rclone copy`` does (the whole grown file
re-uploaded under the same key); the mirror turns that into an append-only local folder, and the
reader, the CLI, the live sensor and the IO manager work on it. Compared with reading the same logs
from local disk, nothing is lost, doubled or reordered within a host's file.
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from agent_pipelines.cli import main as cli_main
from agent_pipelines.core import object_store, paths, tailer
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.reader import dedupe, read_logs
from agent_pipelines.core.settings import Settings, drop_empty_aws_variables
from agent_pipelines.ingest import log_mirror
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.orchestration.resources import TelegramResource, detector_resources

DAY = "2026-03-03"


def put(s3, bucket: str, key: str, data: bytes) -> None:
    s3.client().put_object(Bucket=bucket, Key=key, Body=data)


def ship(s3, folder: Path, bucket: str, prefix: str) -> int:
    """What `rclone copy <folder>/stream <remote>/<prefix>/stream` does: every file, whole."""
    shipped = 0
    for path in sorted((folder / paths.STREAM_DIR).glob("*.jsonl")):
        put(s3, bucket, f"{prefix}/{paths.STREAM_DIR}/{path.name}", path.read_bytes())
        shipped += 1
    truth = folder / paths.GROUND_TRUTH_FILE
    if truth.exists():
        put(s3, bucket, f"{prefix.split('/')[0]}/{paths.GROUND_TRUTH_FILE}", truth.read_bytes())
    return shipped


def line(i: int, attempt: str = "ve-s3") -> bytes:
    event = {
        "timestamp": f"{DAY}T10:00:{i % 60:02d}.{i:03d}Z",
        "event_type": "tool_call",
        "attempt_id": attempt,
        "task_id": "task-1",
        "executor": "CODEX",
        "data": {"tool_name": "Bash", "n": i},
    }
    return (json.dumps(event) + "\n").encode()


def test_grown_objects_of_two_hosts_are_appended_once_and_keep_the_file_identity(s3, tmp_path: Path) -> None:
    bucket = s3.new_bucket("grow-bucket")
    url = f"s3://{bucket}/fleet"
    root = tmp_path / "mirror"
    first = line(1) + line(2)
    put(s3, bucket, f"fleet/host-a/stream/{DAY}.jsonl", first + line(3)[:20])  # a line being written
    report = log_mirror.sync(url, root, now=datetime(2026, 3, 3, 12, tzinfo=UTC))
    local = root / "stream" / f"{DAY}.jsonl"
    assert local.read_bytes() == first  # the half line waits for its newline
    assert (report.listed, report.lines_appended) == (1, 2)
    inode = local.stat().st_ino
    cursor = tailer.read_new(root, tailer.Cursor()).cursor

    grown = first + line(3) + line(4)
    put(s3, bucket, f"fleet/host-a/stream/{DAY}.jsonl", grown)
    put(s3, bucket, f"fleet/host-b/stream/{DAY}.jsonl", line(5, "ve-b"))
    report = log_mirror.sync(url, root, now=datetime(2026, 3, 3, 12, tzinfo=UTC))
    assert report.lines_appended == 3 and not report.notes
    assert local.stat().st_ino == inode  # appended in place: the tailer's offsets stay valid
    new = tailer.read_new(root, cursor)
    assert sorted(new.result.events["attempt_id"].to_list()) == ["ve-b", "ve-s3", "ve-s3"]
    assert new.result.quarantine.is_empty()
    # Nothing changed in the bucket: nothing fetched, nothing appended.
    again = log_mirror.sync(url, root, now=datetime(2026, 3, 3, 12, tzinfo=UTC))
    assert (again.fetched, again.bytes_appended) == (0, 0)
    assert local.read_bytes().count(b"\n") == 5


def test_rewritten_object_is_taken_again_with_a_note(s3, tmp_path: Path) -> None:
    bucket = s3.new_bucket("rewrite-bucket")
    url = f"s3://{bucket}/logs"
    root = tmp_path / "mirror"
    put(s3, bucket, f"logs/stream/{DAY}.jsonl", line(1) + line(2))
    log_mirror.sync(url, root)
    put(s3, bucket, f"logs/stream/{DAY}.jsonl", line(7) + line(8) + line(9))  # truncated and rewritten
    report = log_mirror.sync(url, root)
    assert len(report.notes) == 1 and "rewritten" in report.notes[0]
    events = read_logs(root).events
    assert sorted(events["data"].map_elements(lambda d: json.loads(d)["n"], return_dtype=pl.Int64)) == [
        1, 2, 7, 8, 9,
    ]  # fmt: skip


def test_gzip_batches_and_final_partial_lines_lose_nothing(s3, tmp_path: Path) -> None:
    """Vector-style batch objects (gzip, final): a last line without newline is kept and quarantined."""
    bucket = s3.new_bucket("batch-bucket")
    url = f"s3://{bucket}/v"
    put(s3, bucket, f"v/stream/{DAY}/1700000000-a.jsonl.gz", gzip.compress(line(1) + line(2)))
    put(s3, bucket, f"v/stream/{DAY}/1700000005-b.jsonl.gz", gzip.compress(line(3) + b'{"timestamp": "20'))
    root = tmp_path / "mirror"
    log_mirror.sync(url, root)
    result = read_logs(root)
    assert result.events.height == 3
    assert result.quarantine.height == 1 and result.quarantine["reason"][0] == "malformed_json"


def test_hostile_and_foreign_keys_are_ignored(s3, tmp_path: Path) -> None:
    bucket = s3.new_bucket("hostile-bucket")
    foreign = (
        "x/stream/2026-13-45.jsonl",
        "x/archive/stream/2026-03-01.jsonl.gz",
        "x/agent-sessions/a.jsonl",
        "x/etc%2Fpasswd",
        "x/stream/2026-03-03.jsonl.bak",
    )
    for key in foreign:
        put(s3, bucket, key, line(1))
    root = tmp_path / "mirror"
    report = log_mirror.sync(f"s3://{bucket}/x", root)
    assert report.ignored == 5 and report.bytes_appended == 0
    written = [p for p in tmp_path.rglob("*") if p.is_file() and ".mirror" not in p.parts]
    assert written == []
    # A key with a `..` segment cannot even be listed by object_store: the sync stops with one line
    # naming it (an operator deletes it; the shippers' bucket policy should not allow writing it).
    put(s3, bucket, "x/../../etc/passwd", line(1))
    with pytest.raises(object_store.ObjectStoreError, match=r"x/\.\./\.\./etc/passwd") as info:
        log_mirror.sync(f"s3://{bucket}/x", root)
    assert "\n" not in str(info.value)
    assert [p for p in tmp_path.rglob("*") if p.is_file() and ".mirror" not in p.parts] == []


def test_an_append_cut_short_by_a_crash_is_completed_once(
    s3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3.new_bucket("crash-bucket")
    url = f"s3://{bucket}/c"
    root = tmp_path / "mirror"
    put(s3, bucket, f"c/stream/{DAY}.jsonl", line(1) + line(2) + line(3))
    real = log_mirror._complete
    calls = {"n": 0}

    def dies_after_half(root_: Path, manifest: dict) -> bool:
        """The process dies after half the bytes reached the file, before the manifest was saved."""
        calls["n"] += 1
        if calls["n"] == 2:  # the first call is the start-of-sync recovery check
            data = (root_ / ".mirror" / "pending.bin").read_bytes()
            target = root_ / "stream" / f"{DAY}.jsonl"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[: len(data) // 2])
            raise KeyboardInterrupt("killed")
        return real(root_, manifest)

    monkeypatch.setattr(log_mirror, "_complete", dies_after_half)
    with pytest.raises(KeyboardInterrupt):
        log_mirror.sync(url, root)
    monkeypatch.setattr(log_mirror, "_complete", real)
    report = log_mirror.sync(url, root)
    assert "interrupted" in report.notes[0]
    assert (root / "stream" / f"{DAY}.jsonl").read_bytes() == line(1) + line(2) + line(3)
    assert log_mirror.sync(url, root).bytes_appended == 0


def test_cli_reads_an_s3_log_folder_like_a_local_one(
    s3, small_logs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bucket = s3.new_bucket("cli-bucket")
    ship(s3, small_logs, bucket, "fleet/host-1")
    monkeypatch.setenv("AGENT_PIPELINES_DATA_DIR", str(tmp_path / "local"))
    outputs = {}
    for name, where in (("local", str(small_logs)), ("s3", f"s3://{bucket}/fleet")):
        assert cli_main(["validate", "--logs-dir", where, "--json"]) == 0
        validate = json.loads(capsys.readouterr().out)
        code = cli_main(["summary", "--logs-dir", where, "--json", "--last-n-days", "30",
                         "--now", "2026-03-07T00:00:00Z"])  # fmt: skip
        assert code == 0
        outputs[name] = (validate, json.loads(capsys.readouterr().out))
    assert outputs["s3"] == outputs["local"]
    assert (tmp_path / "local" / "log-mirror" / bucket / "fleet" / "stream").is_dir()


def test_unreadable_bucket_is_one_line_not_a_traceback(s3, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["validate", "--logs-dir", "s3://no-such-bucket-here/x"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "no-such-bucket-here" in err and "Traceback" not in err


def test_live_sensor_follows_an_s3_log_folder(s3, tmp_path: Path) -> None:
    from agent_pipelines.live.alerts import read_alerts
    from sensors.live_alerts import evaluate, live_detector_job

    bucket = s3.new_bucket("live-bucket")
    host = tmp_path / "host"
    base = datetime.now(UTC) - timedelta(minutes=2)
    moments = iter([base + timedelta(seconds=i) for i in range(20)])
    log = AgentWorkLogger(host, enabled=True, clock=lambda: next(moments))
    log.start_session("ve-live", task_id="task-9", executor="CODEX")
    ship(s3, host, bucket, "fleet/host-1")
    store = LogStore(logs_dir=f"s3://{bucket}/fleet", data_dir=str(tmp_path / "data"))
    resources = detector_resources(store, TelegramResource())
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"log_store": store})
        first = evaluate(ctx, store)
        assert len(first.run_requests) == 1
        assert live_detector_job.execute_in_process(
            run_config=first.run_requests[0].run_config, resources=resources, instance=instance
        ).success
        for _ in range(4):  # the error loop happens on the host and is shipped a moment later
            log.error("ve-live", "fatal: could not read Username for 'https://github.com'", "git_auth")
        ship(s3, host, bucket, "fleet/host-1")
        log_mirror._last_sync.clear()  # the next tick is more than a second later
        ctx = dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"log_store": store})
        second = evaluate(ctx, store)
        assert len(second.run_requests) == 1
        assert live_detector_job.execute_in_process(
            run_config=second.run_requests[0].run_config, resources=resources, instance=instance
        ).success
    mirror = log_mirror.mirror_dir(f"s3://{bucket}/fleet", tmp_path / "data")
    assert [a["type"] for a in read_alerts(mirror)] == ["error_loop"]


def test_tables_in_a_bucket_through_the_io_manager(s3, small_logs: Path, tmp_path: Path) -> None:
    """A day partition and its downstream asset written to and read from s3://, equal to local ones."""
    from agent_pipelines.core.partitions import log_days
    from agent_pipelines.orchestration.partitions import register_partitions
    from assets.analytics import analytics_assets, build_resources

    bucket = s3.new_bucket("tables-bucket")
    days = log_days(small_logs)
    day = days[1].isoformat()
    assets, checks = analytics_assets()
    frames = {}
    for name, data in (("local", str(tmp_path / "local-data")), ("s3", f"s3://{bucket}/pipelines")):
        with dg.instance_for_test() as instance:
            register_partitions(instance, days)
            local = Settings.load({"AGENT_PIPELINES_LOCAL_DIR": str(tmp_path / "local-part")})
            resources = build_resources(str(small_logs), data, local)
            if name == "s3":  # uploads are staged in the local part, never in the project folder
                assert resources["parquet_io_manager"].local_dir == str(tmp_path / "local-part")
            result = dg.materialize(
                [*assets, *checks], selection=[dg.AssetKey("cleaned_events")], partition_key=day,
                instance=instance, resources=resources,
            )  # fmt: skip
            assert result.success
            checks_ok = [e.passed for e in result.get_asset_check_evaluations()]
            assert checks_ok and all(checks_ok)  # the contract check read the partition back
            io = resources["parquet_io_manager"]
            (stored,) = io.stored(dg.AssetKey("cleaned_events"), [day])
            frames[name] = pl.read_parquet(stored, storage_options=object_store.storage_options())
    assert frames["s3"].equals(frames["local"])
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"pipelines/tables/cleaned_events/{day}.parquet"]
    assert dedupe(frames["s3"]).height == frames["s3"].height


def test_a_report_is_published_next_to_the_tables(s3, tmp_path: Path) -> None:
    bucket = s3.new_bucket("report-bucket")
    local = tmp_path / "weekly-report-2026-03-02.html"
    local.write_text("<html>report</html>")
    url = object_store.publish(local, f"s3://{bucket}/pipelines", "reports/" + local.name)
    assert url == f"s3://{bucket}/pipelines/reports/{local.name}"
    body = s3.client().get_object(Bucket=bucket, Key=f"pipelines/reports/{local.name}")["Body"].read()
    assert body == b"<html>report</html>"
    assert object_store.publish(local, str(tmp_path), "reports/x.html") is None  # local data folder


def test_settings_and_urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "")
    drop_empty_aws_variables()  # what the edges do: an empty variable is unset for the libraries
    assert "AWS_SESSION_TOKEN" not in os.environ and os.environ["AWS_ENDPOINT_URL"]
    assert object_store.storage_options() == {"aws_allow_http": "true"}  # the rest: read by polars
    location = object_store.Location.parse("s3://bucket/a/b/")
    assert (location.bucket, location.prefix) == ("bucket", "a/b")
    assert location.child("tables") == "s3://bucket/a/b/tables"
    with pytest.raises(ValueError):
        object_store.Location.parse("s3:///nobucket")
    monkeypatch.setenv("AGENT_PIPELINES_DATA_DIR", "s3://bucket/data")
    monkeypatch.setenv("AGENT_PIPELINES_LOCAL_DIR", str(tmp_path))
    settings = Settings.load()
    assert paths.data_dir(settings.data_location, settings.local_dir) == tmp_path
    assert paths.data_location(settings.data_location) == "s3://bucket/data"
    store = LogStore.from_settings(settings)
    assert store.data_path == tmp_path and store.data_location == "s3://bucket/data"
    assert log_mirror.mirror_dir("s3://b/../x y", tmp_path) == tmp_path / "log-mirror" / "b" / "x_y"
    assert os.fspath(paths.logs_dir("s3://b/p")).endswith("log-mirror/b/p")


def test_the_documented_rclone_shipper_feeds_the_mirror(s3, tmp_path: Path) -> None:
    """deploy/shipper/ship-agent-logs.sh with its rclone.conf, for real, against the S3 server."""
    import shutil
    import subprocess

    if shutil.which("rclone") is None:
        if os.environ.get("CI"):
            pytest.fail("rclone not found: .ci/run should have installed it")
        pytest.skip("rclone is not installed here (apt-get install rclone); CI installs it")
    bucket = s3.new_bucket("rclone-bucket")
    host = tmp_path / "agent-host"
    base = datetime(2026, 3, 3, 9, tzinfo=UTC)
    moments = iter([base + timedelta(seconds=i) for i in range(100)])
    log = AgentWorkLogger(host, enabled=True, clock=lambda: next(moments))
    env = dict(os.environ, AGENT_WORK_LOGS_DIR=str(host), AGENT_LOGS_REMOTE=f"agentlogs:{bucket}/fleet",
               AGENT_LOGS_HOST="host-1", RCLONE_CONFIG_AGENTLOGS_PROVIDER="Other",
               RCLONE_CONFIG_AGENTLOGS_ENDPOINT=s3.endpoint)  # fmt: skip
    env.pop("AWS_CA_BUNDLE", None)  # a machine-wide CA bundle breaks rclone's plain-HTTP client
    script = paths.PROJECT_ROOT / "deploy" / "shipper" / "ship-agent-logs.sh"
    mirror = tmp_path / "mirror"
    seen = 0
    for round_ in range(3):
        log.start_session(f"ve-{round_}", task_id=f"task-{round_}", executor="CODEX")
        log.stop_session(f"ve-{round_}", "success")
        shipped = subprocess.run(["bash", str(script), "--once"], env=env, capture_output=True, text=True,
                                 timeout=120)  # fmt: skip
        assert shipped.returncode == 0, shipped.stderr
        log_mirror.sync(f"s3://{bucket}/fleet", mirror, now=base)
        events = read_logs(mirror).events
        assert events.height > seen
        seen = events.height
    local = read_logs(host).events
    assert sorted(events["event_id"].to_list()) == sorted(local["event_id"].to_list())  # once each
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["fleet/host-1/stream/2026-03-03.jsonl"]

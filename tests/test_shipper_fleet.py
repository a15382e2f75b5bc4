"""Many hosts writing: deploy/shipper/ from several agent hosts into one bucket, the mirror reading all.

Each simulated host has its own log folder and its own rclone.conf (deploy/shipper's, pointed at the
test S3 server) and runs the real ship-agent-logs.sh with the real rclone. The mirror
(agent_pipelines.ingest.log_mirror, what the live sensor syncs on every tick) must then hold every
host's events exactly once, also when a host's shipper is killed (SIGKILL) in the middle of
uploading a grown file and started again: S3 shows the old object or the new one, never a part.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from stack_fixture import SHIPPER, host_env, require_rclone, ship_once

from agent_pipelines import AgentWorkLogger
from agent_pipelines.core.reader import read_logs
from agent_pipelines.ingest import log_mirror

HOSTS = ("host-a", "host-b", "host-c")
BASE = datetime(2026, 3, 3, 9, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _rclone() -> None:
    require_rclone()


def write_sessions(folder: Path, host: str, first: int, count: int, padding: int = 0) -> None:
    """``count`` finished sessions of this host, with ``padding`` bytes of prompt each (file size)."""
    moments = iter([BASE + timedelta(seconds=first * 3 + i) for i in range(count * 3)])
    log = AgentWorkLogger(folder, enabled=True, clock=lambda: next(moments))
    for n in range(first, first + count):
        attempt = f"ve-{host}-{n}"
        log.start_session(attempt, prompt="x" * padding, task_id=f"task-{n}", executor="CODEX")
        log.stop_session(attempt, "success")


def mirrored_ids(bucket: str, mirror: Path) -> list[str]:
    log_mirror.sync(f"s3://{bucket}/fleet", mirror, now=BASE)
    return sorted(read_logs(mirror).events["event_id"].to_list())


def local_ids(folders: list[Path]) -> list[str]:
    return sorted(i for f in folders for i in read_logs(f).events["event_id"].to_list())


def test_hosts_ship_into_one_bucket_and_a_killed_upload_loses_or_doubles_nothing(s3, tmp_path: Path) -> None:
    bucket = s3.new_bucket("fleet-bucket")
    envs = {h: host_env(tmp_path / h, h, bucket, s3.env(), s3.endpoint) for h in HOSTS}
    folders = [Path(envs[h]["AGENT_WORK_LOGS_DIR"]) for h in HOSTS]
    for host, folder in zip(HOSTS, folders, strict=True):
        write_sessions(folder, host, 0, 20)
    shippers = [  # all hosts at once, each with its own config
        subprocess.Popen(
            ["bash", str(SHIPPER / "ship-agent-logs.sh"), "--once"],
            env=envs[h],
            stderr=subprocess.PIPE,
            text=True,
        )
        for h in HOSTS
    ]
    for shipper in shippers:
        assert shipper.wait(timeout=120) == 0, shipper.stderr.read() if shipper.stderr else ""
    mirror = tmp_path / "mirror"
    assert mirrored_ids(bucket, mirror) == local_ids(folders)
    keys = sorted(o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [f"fleet/{h}/stream/2026-03-03.jsonl" for h in HOSTS]

    # host-a's file grows by ~3 MB; its shipper uploads at 256 KiB/s and is killed after 2 s.
    key = "fleet/host-a/stream/2026-03-03.jsonl"
    before = s3.client().head_object(Bucket=bucket, Key=key)["ContentLength"]
    write_sessions(folders[0], "host-a", 20, 30, padding=100_000)
    write_sessions(folders[1], "host-b", 20, 5)  # the others keep writing meanwhile
    slow = dict(envs["host-a"], RCLONE_BWLIMIT="256k", AGENT_LOGS_INTERVAL="1")
    shipper = subprocess.Popen(
        ["bash", str(SHIPPER / "ship-agent-logs.sh")],
        env=slow,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)
        uploading = subprocess.run(
            ["pgrep", "-g", str(shipper.pid), "rclone"], capture_output=True, text=True
        )
        assert uploading.stdout.strip(), "rclone was not uploading when the shipper was killed"
        os.killpg(shipper.pid, signal.SIGKILL)
        shipper.wait(timeout=10)
    finally:
        if shipper.poll() is None:
            os.killpg(shipper.pid, signal.SIGKILL)
    assert s3.client().head_object(Bucket=bucket, Key=key)["ContentLength"] == before  # no part landed
    ship_once(envs["host-b"])
    shipped_before_restart = mirrored_ids(bucket, mirror)
    assert len(shipped_before_restart) == len(set(shipped_before_restart))
    assert set(shipped_before_restart) <= set(local_ids(folders))
    assert set(local_ids(folders[1:])) <= set(shipped_before_restart)  # the other hosts are all in

    ship_once(envs["host-a"])  # the host's shipper again (systemd restarts it): the whole file
    assert mirrored_ids(bucket, mirror) == local_ids(folders)  # every event of every host, once

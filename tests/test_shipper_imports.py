"""Agents run by hand on a team's hosts: the shipper imports their transcripts on the host, then ships.

``deploy/shipper/ship-agent-logs.sh`` with ``AGENT_LOGS_IMPORT=claude-code,codex`` runs
``agent-pipelines import`` for each source into the host's log folder before each copy, so the
sessions people ran by hand reach the team's Dagster like the orchestrators' logs, and their
secrets are redacted on the host: no piece of a key reaches the bucket. Real rclone, real S3 API
server (moto), the transcripts of tests/transcript_fixtures.py with a key pasted into a prompt.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import transcript_fixtures as fx
from stack_fixture import host_env, require_rclone, ship, ship_once

from agent_pipelines.core.reader import read_logs
from agent_pipelines.ingest import log_mirror

# A key of Anthropic's shape (made up), pasted into a prompt as people do.
KEY = "sk-ant-api03-" + "Q7vX2mN9pL4kR8sT1wY6zB3cD5fG0hJ" + "-" + "aE2iK7oU9yW4qZ1xC6vB8nM3lP5tR0s"
SESSION = "7f1c2d3e-0000-4000-8000-0000000000ee"


@pytest.fixture(autouse=True)
def _rclone() -> None:
    require_rclone()


def _host(tmp_path: Path, s3, bucket: str) -> dict[str, str]:
    home = tmp_path / "home"
    projects = fx.write_claude_projects(home / ".claude")
    fx.write_jsonl(
        projects / "-home-dev-keys" / f"{SESSION}.jsonl",
        [
            fx.user(
                "u-1",
                "2026-03-02T11:00:00.000Z",
                f"deploy with ANTHROPIC_API_KEY={KEY} please",
                session=SESSION,
            ),
            fx.assistant(
                "a-1",
                "2026-03-02T11:00:05.000Z",
                "msg_ee1",
                "req_ee1",
                fx.text("done"),
                fx._u(10, 5),
                session=SESSION,
            ),
        ],
    )
    fx.write_codex_home(home / ".codex")
    env = host_env(tmp_path / "host", "host-a", bucket, s3.env(), s3.endpoint)
    env.update(
        AGENT_LOGS_IMPORT="claude-code, codex",
        AGENT_PIPELINES_BIN=str(Path(sys.executable).parent / "agent-pipelines"),
        AGENT_PIPELINES_DATA_DIR=str(tmp_path / "host" / "data"),
        CLAUDE_CONFIG_DIR=str(home / ".claude"),
        CODEX_HOME=str(home / ".codex"),
    )
    return env


def test_transcripts_are_imported_on_the_host_redacted_and_shipped_once(s3, tmp_path: Path) -> None:
    bucket = s3.new_bucket("hand-run-bucket")
    env = _host(tmp_path, s3, bucket)
    ship_once(env)
    local = read_logs(Path(env["AGENT_WORK_LOGS_DIR"])).events
    attempts = set(local["attempt_id"].to_list())
    assert any(fx.CC_A in a for a in attempts) and any(SESSION in a for a in attempts)
    assert any(fx.CODEX_1 in a for a in attempts)  # both sources, from their default folders

    mirror = tmp_path / "mirror"
    log_mirror.sync(f"s3://{bucket}/fleet", mirror)
    shipped = read_logs(mirror).events
    assert sorted(shipped["event_id"].to_list()) == sorted(local["event_id"].to_list())
    # What left the host: the objects' bytes hold no piece of the key, only its redaction.
    client = s3.client()
    body = b"".join(
        client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        for o in client.list_objects_v2(Bucket=bucket)["Contents"]
    )
    assert b"deploy with ANTHROPIC_API_KEY=" in body
    for piece in (KEY, KEY[13:29], KEY[-16:]):
        assert piece.encode() not in body

    ship_once(env)  # the next copy imports nothing new: nothing doubles
    log_mirror.sync(f"s3://{bucket}/fleet", mirror)
    assert read_logs(mirror).events.height == shipped.height


def test_imports_without_the_command_stop_in_one_line(s3, tmp_path: Path) -> None:
    env = _host(tmp_path, s3, s3.new_bucket("no-command-bucket"))
    env["AGENT_PIPELINES_BIN"] = str(tmp_path / "missing" / "agent-pipelines")
    done = ship(env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "AGENT_PIPELINES_BIN" in done.stderr


def test_a_failing_source_is_said_and_the_rest_is_shipped(s3, tmp_path: Path) -> None:
    bucket = s3.new_bucket("bad-source-bucket")
    env = _host(tmp_path, s3, bucket)
    env["AGENT_LOGS_IMPORT"] = "no-such-agent,codex"
    done = ship(env)
    assert done.returncode == 0, done.stderr
    assert "import no-such-agent failed" in done.stderr
    mirror = tmp_path / "mirror"
    log_mirror.sync(f"s3://{bucket}/fleet", mirror)
    assert any(fx.CODEX_1 in a for a in read_logs(mirror).events["attempt_id"].to_list())

"""Secrets never leave: known secret shapes planted in every field of every source, the product run
end to end, and every file it wrote (and every HTTP body Telegram received) searched for any 8-character
piece of any of them (issue 22, item 1).

Sources: our logger (the ``log`` CLI and the library), raw lines written by another writer, Claude
Code and Codex transcripts (``transcript_fixtures``) imported. Runs: import, ``detect --once`` with a
fake Telegram, ``materialize`` (every asset, the weekly report posted to the same fake Telegram).
Parquet is read back as text and gzip decompressed before searching, so compression hides nothing.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import transcript_fixtures as fx
from fake_telegram import DEFAULT_TOKEN, FakeTelegram

from agent_pipelines.cli import main
from agent_pipelines.core.logger import AgentWorkLogger

PEM_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0"
# name -> (text as it appears in a log, the secret part of it that must never be written)
SECRETS: dict[str, tuple[str, str]] = {
    "anthropic": ("sk-ant-api03-Xk3_pQ9-zR7wLm2_Vb8nT4-q1_eUo0aWiK9-Jd7hYt5Rf", ""),
    "openai": ("sk-proj-T9vQ2mX8kL4pR7wZ1nB6cF3hJ5sD0gY2aE9uI4oP", ""),
    "github": ("ghp_R8mK2vX9pL4qW7zN1bC6fH3jS5dG0yA2eT9u", ""),
    "aws_key": ("AKIAZ7QW3ERT5YUI9OPL", ""),
    "aws_secret": (
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq83PLmxk2",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq83PLmxk2",
    ),
    "slack": ("xoxb-918273645501-5647382910-QwErTyUiOpAsDfGhJkLzXcVb", ""),
    "bearer": ("Authorization: Bearer Zq8Wx3Ec5Rv7Tb9Yn1Um4Ik6Ol2Pa0Sd", "Zq8Wx3Ec5Rv7Tb9Yn1Um4Ik6Ol2Pa0Sd"),
    "pem": (f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----", PEM_BODY),
    "url": ("postgres://admin:Vq7Rp2Lx9Wm4Kt8N@db.internal:5432/shop", "Vq7Rp2Lx9Wm4Kt8N"),
}
BLOB = " | ".join(text for text, _ in SECRETS.values())  # every shape in one text
ONE_LINE = " | ".join(text for name, (text, _) in SECRETS.items() if name != "pem")

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday: the week is complete by T0 + 8 days


def pieces() -> dict[str, str]:
    """Every 8-character window of every secret (any longer piece contains one)."""
    out: dict[str, str] = {}
    for name, (text, secret) in SECRETS.items():
        secret = secret or text
        for i in range(len(secret) - 7):
            out[secret[i : i + 8]] = name
    return out


def leaks(blob: str) -> set[str]:
    return {name for piece, name in pieces().items() if piece in blob}


# --------------------------------------------------------------------------------------------
# Planting
# --------------------------------------------------------------------------------------------


def plant_logger(logs: Path) -> None:
    """Our logger: every free-text field of every event type, and the reported case (four errors
    ``auth failed for sk-ant-...`` without a fingerprint, which must still raise an error_loop)."""
    moments = iter(T0 + timedelta(seconds=i) for i in range(100))
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: next(moments))
    ctx = {"task_title": ONE_LINE, "task_description": BLOB, "branch": "feat/x", "executor": "CODEX"}
    log.start_session("ve-sec", prompt=BLOB, task_id="task-sec", **ctx)
    log.followup("ve-sec", BLOB, reason=ONE_LINE)
    log.tool_call(
        "ve-sec", "Bash", {"command": f"curl -H '{SECRETS['bearer'][0]}'", "env": BLOB, "token": "x" * 9}
    )
    log.tool_result("ve-sec", "Bash", success=False, duration_ms=5, extra={"output": BLOB})
    for _ in range(4):
        log.error("ve-sec", f"auth failed for {SECRETS['anthropic'][0]}")
    log.error("ve-sec", BLOB, error_category="auth", stack_trace=BLOB)
    log.status_change("ve-sec", "failed", old_status="running", reason=BLOB)
    log.stop_session("ve-sec", "failed", outcome={"note": BLOB, "api_key": "Zz9Yy8Xx7Ww6Vv5U"})
    # the log CLI, which the original orchestrators call
    assert main(["log", "error", "--attempt-id", "ve-cli-sec", "--logs-dir", str(logs),
                 "--task-title", ONE_LINE, "--data", json.dumps({"error_message": BLOB})]) == 0  # fmt: skip


def plant_raw(logs: Path) -> Path:
    """Lines of another writer (the original system's shape) in their own day's stream file."""
    day = T0 + timedelta(days=1)
    lines = []
    for i in range(4):
        lines.append(
            {
                "timestamp": (day + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "attempt_id": "ve-raw",
                "task_title": ONE_LINE,
                "task_description": BLOB,
                "project_id": ONE_LINE,
                "model": SECRETS["openai"][0],
                "branch": f"fix/{SECRETS['github'][0]}",
                "executor_variant": SECRETS["slack"][0],
                "event_type": "error",
                "data": {
                    "error_message": f"auth failed for {SECRETS['github'][0]}",
                    "stack_trace": BLOB,
                    "extra_field": {"nested": [BLOB]},
                    "password": "Qp0Wo9Ei8Ru7Ty6",
                },
            }
        )
    text = "\n".join(json.dumps(x) for x in lines) + "\n"
    text += f"not json at all {ONE_LINE}\n"  # quarantined: its raw text is stored
    text += json.dumps({"timestamp": "yesterday", "attempt_id": "ve-raw", "event_type": "error",
                        "data": {"error_message": BLOB}}) + "\n"  # fmt: skip
    path = logs / "stream" / f"{day:%Y-%m-%d}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _salt(value: Any, key: str = "") -> Any:
    """A transcript record with the secrets added to every free-text string."""
    free = {"text", "content", "command", "output", "message", "description", "prompt", "stdout", "stderr"}
    if isinstance(value, dict):
        return {k: _salt(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_salt(v, key) for v in value]
    if isinstance(value, str) and key in free:
        return f"{value} {BLOB}"
    return value


def plant_transcripts(root: Path) -> tuple[Path, Path]:
    claude, codex = root / "claude", root / "codex"
    for session, records in (
        (fx.CC_A, fx.session_a()),
        (fx.CC_C, fx.session_c()),
    ):
        salted = [_salt(r) for r in records]
        for r in salted:  # tool inputs carry secrets by name too
            for part in r.get("message", {}).get("content", []) if isinstance(r.get("message"), dict) else []:
                if isinstance(part, dict) and part.get("type") == "tool_use":
                    part["input"].update({"api_key": "Zz9Yy8Xx7Ww6Vv5U", "env": BLOB})
        fx.write_jsonl(claude / "-home-dev-shop" / f"{session}.jsonl", salted)
    fx.write_jsonl(
        codex / "sessions" / "2025" / "10" / "01" / "rollout-1.jsonl", [_salt(r) for r in fx.codex_one()]
    )
    return claude, codex


# --------------------------------------------------------------------------------------------
# Searching
# --------------------------------------------------------------------------------------------


def file_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".parquet":
        try:
            frame = pl.read_parquet(path)
            return frame.write_ndjson() + data.decode("utf-8", "replace")
        except Exception:
            pass
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace")


def test_no_piece_of_any_secret_is_written_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs, data, sources = tmp_path / "logs", tmp_path / "data", tmp_path / "sources"
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    (data / "dagster_home").mkdir(parents=True)
    plant_logger(logs)
    raw_file = plant_raw(logs)
    raw_text = raw_file.read_text()
    claude, codex = plant_transcripts(sources)
    now = (T0 + timedelta(days=9)).strftime("%Y-%m-%dT%H:%M:%SZ")
    common = ["--logs-dir", str(logs), "--data-dir", str(data)]
    assert main(["import", "claude-code", str(claude), *common, "--now", now, "--quiet"]) == 0
    assert main(["import", "codex", str(codex), *common, "--now", now, "--quiet"]) == 0
    with FakeTelegram(chat_ids={"42"}) as tg:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("TELEGRAM_CHAT_ID", "42")
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", tg.api_base)
        assert main(["detect", "--once", *common, "--now", "2026-03-02T09:05:00Z"]) == 0
        assert main(["detect", "--once", *common, "--now", "2026-03-03T09:05:00Z"]) == 0
        assert main(["materialize", *common, "--quiet"]) == 0
        sent = tg.texts()
        bodies = json.dumps([r.payload for r in tg.requests])
    assert any("error_loop" in t.lower() or "error loop" in t.lower() for t in sent), sent
    assert raw_file.read_text().startswith(raw_text)  # the planted source, not something we wrote
    found: dict[str, set[str]] = {}
    written = [p for p in [*logs.rglob("*"), *data.rglob("*")] if p.is_file() and p != raw_file]
    assert any(p.suffix == ".parquet" for p in written) and any("quarantine" in str(p) for p in written)
    for path in written:
        hit = leaks(file_text(path))
        if hit:
            found[str(path.relative_to(tmp_path))] = hit
    hit = leaks(bodies)
    if hit:
        found["telegram"] = hit
    assert not found, json.dumps({k: sorted(v) for k, v in found.items()}, indent=0)


def test_a_few_new_lines_are_redacted_too(tmp_path: Path) -> None:
    """A sensor tick reads a few lines per file (screened in Python, not in one polars query): the
    same secrets go."""
    from agent_pipelines.ingest.importers import SOURCES, run_import

    records = [_salt(r) for r in fx.session_c()[:2]]
    assert len(records) <= 8
    fx.write_jsonl(tmp_path / "claude" / "p" / f"{fx.CC_C}.jsonl", records)
    logs, data = tmp_path / "logs", tmp_path / "data"
    report = run_import(SOURCES["claude-code"], [tmp_path / "claude"], logs_dir=logs, data_dir=data)
    assert report.total_events >= 1
    written = "".join(file_text(p) for p in [*logs.rglob("*"), *data.rglob("*")] if p.is_file())
    assert not leaks(written)

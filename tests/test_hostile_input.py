"""Hostile lines: a line is an event or a quarantined record with a reason; nothing in it raises.

Each test here reproduces a case of issue 8 (tabs and control characters losing valid events,
poison lines, huge lines swallowing the lines after them, byte-order marks and CRLF endings).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from conftest import cli_env

from agent_pipelines.core import paths
from agent_pipelines.core.contract import ContractError, Reason, check_event
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.reader import check_line, read_bytes, read_file, read_logs
from agent_pipelines.live.detectors import detect
from agent_pipelines.live.state import DetectorState

DAY = "2026-03-02"


def ev(event_type: str, data: dict, attempt: str = "a-1", **extra: object) -> dict:
    return {"timestamp": f"{DAY}T10:00:00.000Z", "attempt_id": attempt, "event_type": event_type,
            "data": data, **extra}  # fmt: skip


def lines_of(*events: dict | bytes) -> bytes:
    return b"".join((e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n" for e in events)


HOSTILE_TEXT = [
    "at Foo.bar()\n\tat Baz.qux()",  # a Java stack trace
    "tab\there",
    "nul \x00 and bell \x07 and esc \x1b",
    'quotes " and backslashes \\ and C:\\path\\x\\',
    "ends with a backslash \\",
    "lone surrogate \ud800 here",
    "emoji 😀 and line separator \u2028",
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_control_characters_in_data_keep_every_event(text: str, ensure_ascii: bool) -> None:
    if "\ud800" in text and not ensure_ascii:
        pytest.skip("a surrogate written raw is invalid UTF-8, not text: covered as invalid_utf8")
    events = [
        ev("session_start", {"prompt_type": "initial", "prompt": text}),
        ev("error", {"error_message": text, "stack_trace": text}),
        ev("session_end", {"completion_status": "success", "outcome": {"note": text, "n": [1, {"k": text}]}}),
        ev("tool_call", {"tool_name": "Bash", "tool_params": {"command": text}}),
    ]
    raw = b"".join(
        json.dumps(e, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass") + b"\n" for e in events
    )
    result = read_bytes(raw)
    assert result.reasons == {}
    assert result.events.height == 4
    expected = text.replace("\ud800", "\ufffd")  # a lone surrogate is not text: it becomes U+FFFD
    rows = result.events.rows(named=True)
    assert rows[0]["prompt_type"] == "initial"
    assert rows[0]["prompt"] == expected
    assert rows[1]["error_message"] == expected and rows[1]["stack_trace"] == expected
    assert rows[2]["completion_status"] == "success"
    assert json.loads(rows[2]["outcome"]) == {"note": expected, "n": [1, {"k": expected}]}
    assert json.loads(rows[3]["tool_params"]) == {"command": expected}
    for row in rows:  # the data column is valid JSON that says the same thing
        assert json.loads(row["data"])


def test_logged_events_with_tabs_are_all_valid_and_raise_an_error_loop_alert(tmp_path: Path) -> None:
    ticks = iter(range(100))
    logger = AgentWorkLogger(tmp_path, clock=lambda: datetime(2026, 3, 2, 10, 0, next(ticks), tzinfo=UTC))
    logger.start_session("a-1", prompt="fix\tit", task_id="t-1")
    for _ in range(5):
        logger.error("a-1", "boom\tat x", stack_trace="Traceback\n\tat Foo.bar()\n\tat Baz.qux()")
    logger.stop_session("a-1", "failed")
    result = read_logs(tmp_path)
    assert result.reasons == {}
    assert result.events.height == 7
    alerts = detect(result.events, DetectorState())
    assert any(a["type"] == "error_loop" for a in alerts)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
def test_deeply_nested_line_is_quarantined_and_the_next_lines_read(depth: int) -> None:
    good = ev("tool_call", {"tool_name": "Bash"})
    poison = (
        '{"timestamp":"2026-03-02T10:00:00Z","attempt_id":"a","event_type":"tool_call",'
        f'"data":{{"tool_name":"x","tool_params":{{"p":{deep(depth)}}}}}}}'
    ).encode()
    result = read_bytes(lines_of(good, poison, good))
    assert result.events.height == 2
    assert result.reasons == {Reason.TOO_DEEP.value: 1}
    with pytest.raises(ContractError) as info:
        check_event(json.loads('{"a":' * 10 + "1" + "}" * 10) | {"x": json.loads(deep(200))})
    assert info.value.reason == Reason.TOO_DEEP


def test_nesting_within_the_bound_is_valid() -> None:
    nested: dict = {}
    cursor = nested
    for _ in range(40):
        cursor["k"] = {}
        cursor = cursor["k"]
    result = read_bytes(lines_of(ev("tool_call", {"tool_name": "x", "tool_params": nested})))
    assert result.events.height == 1


def test_poison_lines_do_not_stop_validate_or_detect(tmp_path: Path) -> None:
    part = paths.stream_partition_path(tmp_path, DAY)
    part.parent.mkdir(parents=True)
    poison = (
        '{"timestamp":"2026-03-02T10:00:00Z","attempt_id":"a","event_type":"error","data":'
        + deep(1000).replace("[]", "{}", 0)
        + "}"
    )
    year0 = ev("error", {"error_message": "boom"}, timestamp="0000-01-01T00:00:00Z")
    errors = [ev("error", {"error_message": "same failure"}, attempt="a-2") for _ in range(5)]
    part.write_bytes(lines_of(poison.encode(), year0, *errors))
    for cmd in (["validate", "--json"], ["detect", "--once", "--json"], ["summary"]):
        proc = subprocess.run(
            [sys.executable, "-m", "agent_pipelines.cli", *cmd, "--logs-dir", str(tmp_path)],
            capture_output=True, text=True, env=cli_env(AGENT_PIPELINES_DATA_DIR=str(tmp_path / "data")),
            timeout=120,
        )  # fmt: skip
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == 0, (cmd, proc.stderr)
    summary = json.loads(
        subprocess.run(
            [sys.executable, "-m", "agent_pipelines.cli", "validate", "--json", "--logs-dir", str(tmp_path)],
            capture_output=True, text=True, env=cli_env(), timeout=120,
        ).stdout
    )  # fmt: skip
    assert summary["valid"] == 5
    assert summary["quarantined"] == 2


@pytest.mark.parametrize(
    "stamp", ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+01:00"]
)
def test_timestamps_python_cannot_hold_are_refused_alike(stamp: str) -> None:
    line = ev("error", {"error_message": "x"}, timestamp=stamp)
    result = read_bytes(lines_of(line))
    python_ok = True
    try:
        check_event(line)
    except ContractError:
        python_ok = False
    assert result.events.height == int(python_ok)
    if result.events.height:  # whatever is valid, detectors can make an alert of it
        detect(pl.concat([result.events] * 6), DetectorState())


def test_alert_construction_survives_any_moment() -> None:
    from agent_pipelines.live.alerts import make_alert

    for ms in (-62_135_596_800_000 - 1, 0, 253_402_300_799_999 + 1, 10**18):
        alert = make_alert("error_loop", "a", "k", ms, task_id=None, executor=None)
        assert alert["timestamp"]


def test_huge_line_is_quarantined_and_lines_after_it_are_read(tmp_path: Path) -> None:
    """A line just over the reader's block size (generated here, never committed)."""
    from agent_pipelines.core import reader

    path = tmp_path / "day.jsonl"
    good = json.dumps(ev("tool_call", {"tool_name": "Bash"})).encode() + b"\n"
    size = reader.BLOCK_BYTES * 2 + 17
    with open(path, "wb") as handle:
        handle.write(good)
        handle.write(b'{"timestamp":"' + b"x" * (size - 14) + b'"}\n')
        handle.write(good * 1000)
    result = read_file(path, final=True)
    assert result.events.height == 1001
    assert result.reasons == {Reason.LINE_TOO_LONG.value: 1}
    record = result.quarantine.row(0, named=True)
    assert record["line_number"] == 2 and record["raw_bytes"] == size + 2
    assert result.lines[str(path)] == 1002


def test_byte_order_mark_and_crlf_are_valid_input(tmp_path: Path) -> None:
    """Windows PowerShell 5.1 ``Add-Content -Encoding UTF8`` writes a BOM and CRLF line endings."""
    path = tmp_path / "ps.jsonl"
    body = b"\r\n".join(json.dumps(ev("tool_call", {"tool_name": f"T{i}"})).encode() for i in range(3))
    path.write_bytes(b"\xef\xbb\xbf" + body + b"\r\n")
    result = read_file(path, final=True)
    assert result.reasons == {}
    assert result.events["tool_name"].to_list() == ["T0", "T1", "T2"]
    assert result.offsets[str(path)] == path.stat().st_size
    # a mark anywhere but the start of the file is not one: that line is judged like any other
    result = read_bytes(lines_of(ev("tool_call", {"tool_name": "x"})) + b"\xef\xbb\xbf" + lines_of(
        ev("tool_call", {"tool_name": "y"})))  # fmt: skip
    assert result.events.height == 1 and result.quarantine.height == 1


def test_duplicate_keys_are_refused_not_guessed() -> None:
    hostile = [
        b'{"timestamp":"2026-03-02T10:00:00Z","attempt_id":"ok","attempt_id":"../../etc/passwd",'
        b'"event_type":"tool_call","data":{"tool_name":"x"}}',
        b'{"timestamp":"2026-03-02T10:00:00Z","attempt_id":"ok","event_type":"session_end",'
        b'"data":{"completion_status":"success","completion_status":"failed"}}',
        b'{"timestamp":"2026-03-02T10:00:00Z","\\u0061ttempt_id":"ok","attempt_id":"x",'
        b'"event_type":"tool_call","data":{"tool_name":"x"}}',
        # the second key spaced from its colon (space, tab): counted like any other
        b'{"timestamp":"2026-03-02T10:00:00Z","attempt_id":"ok","attempt_id" :"../../etc/passwd",'
        b'"event_type":"tool_call","data":{"tool_name":"x"}}',
        b'{"timestamp":"2026-03-02T10:00:00Z","attempt_id":"ok","event_type":"tool_call",'
        b'"data":{"tool_name":"x","tool_name"\t: "y"}}',
    ]
    result = read_bytes(lines_of(ev("tool_call", {"tool_name": "x"}), *hostile))
    assert result.events.height == 1
    assert result.reasons == {Reason.DUPLICATE_KEY.value: 5}


def test_keys_written_twice_at_any_depth_are_refused() -> None:
    """polars keeps a nested object's text whole, repeats included: the reader still refuses them."""
    head = b'{"timestamp":"2026-03-02T10:00:00Z","attempt_id":"ok","event_type":"tool_call",'
    hostile = [
        head + b'"data":{"tool_name":"x","tool_params":{"path":"a","path":"../../etc/passwd"}}}',
        head + b'"data":{"tool_name":"x","exit_code":1,"exit_code":2}}',  # a payload key we do not know
        head + b'"data":{"tool_name":"x","ctx":{"deep":[{"k":1,"k":2}]}}}',
        head + b'"data":{"tool_name":"x"},"pr":{"n":1,"n":2}}',  # an unknown top-level object
        head + b'"data":{"tool_name":"x"},"pr":1,"pr":2}',
    ]
    fine = [  # the same key in two objects is no repeat
        head + b'"data":{"tool_name":"x","tool_params":{"tool_name":"y","path":"a:b"}},"pr":{"path":"c"}}',
    ]
    result = read_bytes(lines_of(*fine, *hostile) * 3)  # enough lines for the block path
    assert result.reasons == {Reason.DUPLICATE_KEY.value: 15}
    assert result.events["line_number"].to_list() == [1, 7, 13]


def test_odd_keys_and_strings_that_look_like_objects_are_read_as_written() -> None:
    head = b'{"timestamp":"2026-03-02T10:00:00Z","attempt_id":"ok","event_type":"tool_call",'
    lines = [
        head + b'"data":{"tool_name":"x"},"d.tool_name":"y"}',  # once crashed the reader
        head + b'"data":{"tool_name":"{not an object"},"task_title":"[draft] fix"}',
        head + b'"data":{"tool_name":"x","tool_params":"{\\"a\\": 1}"}}',  # an object's text, as a string
    ]
    result = read_bytes(lines_of(*lines) * 3)
    assert (
        result.quarantine["reason"].to_list() == [Reason.WRONG_TYPE.value] * 3
    )  # tool_params: not an object
    assert result.events["tool_name"].to_list() == ["x", "{not an object"] * 3
    assert [check_line(line) is None for line in lines] == [True, True, False]


def test_keys_spaced_from_their_colon_are_ordinary() -> None:
    line = (
        b'{"timestamp" : "2026-03-02T10:00:00Z", "attempt_id"\t:"a1", "event_type" :"tool_call",'
        b' "data" : {"tool_name" : "x"}}'
    )
    result = read_bytes(lines_of(line))
    assert result.quarantine.height == 0
    assert result.events.select("attempt_id", "tool_name").row(0) == ("a1", "x")


def test_now_is_fine() -> None:  # a sanity anchor: ordinary events stay ordinary
    line = ev("tool_call", {"tool_name": "x"}, timestamp=datetime.now(UTC).isoformat())
    assert read_bytes(lines_of(line)).events.height == 1


DEEP_DATA = '{"error_message": "x", "nest": ' + "[" * 1000 + "]" * 1000 + "}"
REFUSED_DATA = [
    ('{"error_message": NaN}', "not valid JSON"),
    ('{"error_message": "x", "cost": 1e400}', "not valid JSON"),
    ('{"error_message": "x", "n": Infinity}', "not valid JSON"),
    (DEEP_DATA, "too_deep"),
    ('{"error_message": "x", "error_message": "../../etc/passwd"}', "duplicate_key"),
    ('{"error_message": "x", "ctx": {"a": 1, "a": 2}}', "duplicate_key"),
]


@pytest.mark.parametrize(("data", "words"), REFUSED_DATA, ids=[w for _, w in REFUSED_DATA])
def test_log_command_refuses_hostile_data_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: str, words: str
) -> None:
    from agent_pipelines.cli import main

    code = main(["log", "error", "--attempt-id", "a-1", "--data", data, "--logs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err, err
    assert not list(tmp_path.rglob("*.jsonl"))  # nothing written


def test_log_command_writes_a_lone_surrogate_as_replacement_character(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent_pipelines.cli import main

    data = '{"error_message": "bad \\ud800 text", "stack_trace": "\\tat x"}'
    code = main(["log", "error", "--attempt-id", "a-\udcff", "--data", data, "--logs-dir", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    result = read_logs(tmp_path)
    assert result.reasons == {}
    assert result.events.row(0, named=True)["error_message"] == "bad \ufffd text"
    assert result.events.row(0, named=True)["attempt_id"] == "a-\ufffd"


def test_log_command_refuses_ten_megabytes_on_stdin_without_writing(tmp_path: Path) -> None:
    big = json.dumps({"error_message": "x" * (10 << 20)})
    proc = subprocess.run(
        [sys.executable, "-m", "agent_pipelines.cli", "log", "error", "--attempt-id", "a-1", "--data", "-",
         "--logs-dir", str(tmp_path)],
        input=big, capture_output=True, text=True, timeout=120, env=cli_env(),
    )  # fmt: skip
    assert proc.returncode == 2 and "line_too_long" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("*.jsonl"))


def test_poison_lines_in_alerts_and_metrics_files_stop_nothing(tmp_path: Path) -> None:
    """The alerts and metrics files are written by other tools too (the original Node analyzer)."""
    part = paths.stream_partition_path(tmp_path, DAY)
    part.parent.mkdir(parents=True)
    part.write_bytes(
        lines_of(*[ev("error", {"error_message": "same failure"}, attempt="a-2") for _ in range(5)])
    )
    poison = [
        b'{"timestamp":"2026-03-01T10:00:00Z","x":' + deep(5_000).encode() + b"}",
        b'{"timestamp":"2026-03-01T10:00:00Z","alert_id":"a","alert_id":"b","type":"error_loop"}',
        b"[1, 2, 3]",
        b'{"timestamp": NaN}',
    ]
    for name in (paths.ALERTS_FILE, paths.METRICS_FILE):
        (tmp_path / name).write_bytes(b"\n".join(poison) + b"\n")
    env = cli_env(AGENT_PIPELINES_DATA_DIR=str(tmp_path / "data"), AGENT_PIPELINES_ROTATION_GRACE_SECONDS="0")
    for cmd in (
        ["detect", "--once", "--now", f"{DAY}T12:00:00Z"],
        ["summary"],
        ["rotate", "--today", "2026-03-10", "--json"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "agent_pipelines.cli", *cmd, "--logs-dir", str(tmp_path)],
            capture_output=True, text=True, env=env, timeout=180,
        )  # fmt: skip
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, (cmd, proc.stderr)
    report = json.loads(proc.stdout)
    assert report["lines_quarantined"] == 8  # every poison line of both files, with its reason
    assert set(report["quarantine_reasons"]) == {
        "too_deep",
        "duplicate_key",
        "not_an_object",
        "malformed_json",
    }


def test_every_reader_of_our_side_files_skips_a_poison_line(tmp_path: Path) -> None:
    """Alerts (live file and archive), their table, error loops and the quarantine are read by one
    tolerant reader (``agent_pipelines.core.jsonl``): a line nested 5,000 deep once raised RecursionError
    in the alerts table, which caught ValueError only."""
    from agent_pipelines.analytics import metrics
    from agent_pipelines.core import archive, quarantine
    from agent_pipelines.live import alerts, alerts_table

    good = {"timestamp": f"{DAY}T10:00:00Z", "type": "error_loop", "attempt_id": "a-1", "alert_id": "x1"}
    poison = [
        b'{"timestamp":"' + DAY.encode() + b'T10:00:00Z","x":' + deep(5_000).encode() + b"}",
        b"[1, 2, 3]",
        b'{"alert_id":"a","alert_id":"b"}',
        b"\xff\xfe not UTF-8",
    ]
    text = b"\n".join([*poison, json.dumps(good).encode()]) + b"\n"
    (tmp_path / paths.ALERTS_FILE).write_bytes(text)
    archived = archive.archive_path(tmp_path, archive.Kind.ALERTS, DAY)
    archived.parent.mkdir(parents=True, exist_ok=True)
    archived.write_bytes(archive.gzip_member(text))
    assert [r["alert_id"] for r in alerts.read_alerts(tmp_path)] == ["x1"]
    day = datetime.fromisoformat(DAY).date()
    assert [r["alert_id"] for r in alerts_table.read_alert_records(tmp_path, day)] == ["x1"]
    loops = metrics.read_error_loop_alerts(tmp_path)
    assert loops is not None and loops["attempt_id"].to_list() == ["a-1"]
    data = tmp_path / "data"
    bad = read_bytes(b"not json\n").quarantine.with_columns(pl.lit("stream/x.jsonl").alias("source_file"))
    assert quarantine.write_quarantine(data, bad) == 1
    with open(quarantine.quarantine_file(data, "stream/x.jsonl"), "ab") as handle:
        handle.write(poison[0] + b"\n")
    assert quarantine.read_quarantine(data).height == 1
    assert quarantine.write_quarantine(data, bad) == 0  # still recognised as kept

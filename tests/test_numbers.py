"""One number never stops anything (issue 22, item 2): a number beyond its bounds (an int of more than
18 digits, anything not finite as a double) is refused with its reason where it enters — the reader
(polars and Python paths alike), the ``log`` CLI, the logger — and every command goes on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_pipelines.cli import main
from agent_pipelines.core.contract import ContractError, check_event, int_problem, number_problem
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.reader import read_bytes
from agent_pipelines.live.alerts import read_alerts
from agent_pipelines.ops import rotation

HUGE = int("9" * 310)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _line(i: int, event_type: str, data: dict, attempt: str = "ve-num") -> str:
    stamp = (T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return json.dumps({"timestamp": stamp, "attempt_id": attempt, "event_type": event_type, "data": data})


def write_day(logs: Path) -> Path:
    """The reported day: a session_end with a 310-digit cost, then five looping errors."""
    lines = [_line(0, "session_start", {"prompt_type": "initial"})]
    lines.append(_line(1, "session_end", {"completion_status": "success", "cost_usd": HUGE}))
    lines.append(_line(2, "session_end", {"completion_status": "success", "total_tokens": HUGE}))
    lines.append(_line(3, "session_end", {"completion_status": "success", "cost_usd": "1e400"}))
    lines += [_line(10 + i, "error", {"error_message": "ECONNRESET on fetch"}, "ve-loop") for i in range(5)]
    path = logs / "stream" / f"{T0:%Y-%m-%d}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("value", [HUGE, -HUGE, 10**18, "1" * 19, "1e400", "-1e400", 1e308 * 10])
def test_out_of_range_numbers_have_a_reason(value: object) -> None:
    assert number_problem(value) is not None or int_problem(value) is not None
    event = {"timestamp": "2026-03-02T10:00:00.000Z", "attempt_id": "a", "event_type": "session_end",
             "data": {"completion_status": "success", "cost_usd": value, "total_tokens": value}}  # fmt: skip
    with pytest.raises(ContractError) as err:
        check_event(event)
    assert err.value.reason.value in ("wrong_type", "invalid_payload")


_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=10**17, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["1e400", "1" * 19, "-" + "9" * 18, "1.5e308"]),
)


@given(st.sampled_from(["cost_usd", "duration_ms"]), _NUMBERS)
def test_python_and_polars_agree_on_every_number(name: str, value: object) -> None:
    """The reader's two paths (Python for suspect lines, polars for the rest) give the same verdict.
    (An integral float such as ``2.0`` in an integer field is read as ``2`` by polars: not this test's.)"""
    if name == "duration_ms" and isinstance(value, float):
        return
    data = {"completion_status": "success", name: value}
    event = {
        "timestamp": "2026-03-02T10:00:00.000Z",
        "attempt_id": "a",
        "event_type": "session_end",
        "data": data,
    }
    try:
        check_event(event)
        python_ok = True
    except ContractError:
        python_ok = False
    try:
        line = json.dumps(event, allow_nan=True).encode() + b"\n"
    except (ValueError, OverflowError):
        return
    result = read_bytes(line)
    assert (result.events.height == 1) == python_ok, (value, result.reasons)


def test_one_huge_number_stops_no_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    logs, data = tmp_path / "logs", tmp_path / "data"
    write_day(logs)
    common = ["--logs-dir", str(logs)]
    assert main(["validate", *common, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["quarantined"] == 3 and report["reasons"] == {"wrong_type": 3}, report
    assert main(["detect", "--once", *common, "--data-dir", str(data), "--now", "2026-03-02T10:01:00Z"]) == 0
    assert "error_loop" in [a["type"] for a in read_alerts(logs)]
    assert main(["materialize", *common, "--data-dir", str(data), "--quiet"]) == 0
    monkeypatch.setenv(rotation.GRACE_ENV, "0")
    today = (T0 + timedelta(days=3)).date()
    assert (
        main(["rotate", *common, "--data-dir", str(data), "--today", str(today), "--stream-days", "1"]) == 0
    )
    assert not (logs / "stream" / f"{T0:%Y-%m-%d}.jsonl").exists()  # the day left staging, archived
    capsys.readouterr()


def test_log_cli_refuses_a_huge_number_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "logs"
    for payload in (f'{{"completion_status": "success", "cost_usd": {HUGE}}}',
                    f'{{"completion_status": "success", "total_tokens": {HUGE}}}'):  # fmt: skip
        code = main(
            ["log", "session_end", "--attempt-id", "ve-1", "--logs-dir", str(logs), "--data", payload]
        )
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert "must be a number" in err or "must be an integer" in err
    assert not list(logs.rglob("*.jsonl"))


def test_logger_refuses_before_writing(tmp_path: Path) -> None:
    log = AgentWorkLogger(tmp_path, enabled=True)
    with pytest.raises(ContractError):
        log.stop_session("ve-2", "success", cost_usd=HUGE)  # type: ignore[arg-type]
    with pytest.raises(ContractError):
        log.stop_session("ve-2", "success", total_tokens=2 * 10**19)
    assert not list(tmp_path.rglob("*.jsonl"))

"""Properties over open-ended inputs (hypothesis): chunk boundaries never change what is read or
alerted, and redaction is idempotent and never lets a known secret through.

Example counts are bounded for CI and there is no deadline (the machine may be loaded);
``AGENT_PIPELINES_PROPERTY_EXAMPLES`` runs more of them locally.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_pipelines.core import paths
from agent_pipelines.core.logger import build_event
from agent_pipelines.core.tailer import Cursor, read_new
from agent_pipelines.core.writer import serialize
from agent_pipelines.live.detectors import detect
from agent_pipelines.live.state import DetectorState
from agent_pipelines.text.redaction import REDACTED, redact

EXAMPLES = int(os.environ.get("AGENT_PIPELINES_PROPERTY_EXAMPLES", "25"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _event_line(i: int, attempt: str) -> bytes:
    kind, data = ("error", {"error_message": "fatal: boom", "error_category": "git"}) if i % 3 == 0 else (
        "tool_call", {"tool_name": "Bash"})  # fmt: skip
    event = build_event(kind, attempt, data, timestamp=T0 + timedelta(seconds=i))
    return (serialize(event) + "\n").encode()


GARBAGE = [
    b"{not json\n",
    b"\n",
    b'{"timestamp": "2026-03-02T09:00:00Z"}\n',
    b"\xff\xfe bad bytes\n",
    b"[1, 2]\n",
    b'{"timestamp": "2026-03-02T09:00:00Z", "attempt_id": "../../etc", "event_type": "tool_call"}\n',
]

log_bytes = st.lists(
    st.one_of(
        st.builds(_event_line, st.integers(0, 500), st.sampled_from(["ve-a", "ve-b", "ve/c"])),
        st.sampled_from(GARBAGE),
    ),
    min_size=1,
    max_size=40,
).map(b"".join)


def _cut(data: bytes, fractions: list[float]) -> list[bytes]:
    """``data`` split at the given relative positions (anywhere: mid-line, mid-UTF-8 sequence)."""
    points = sorted({int(f * len(data)) for f in fractions} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _read_in_chunks(root: Path, chunks: list[bytes]) -> tuple[list[str], list[tuple[int, int, str]]]:
    target = root / paths.STREAM_FILE
    cursor, events, quarantined = Cursor(), [], []
    for chunk in chunks:
        with open(target, "ab") as handle:
            handle.write(chunk)
        new = read_new(root, cursor)
        cursor = new.cursor
        events += new.result.events["event_id"].to_list()
        quarantined += list(new.result.quarantine.select("line_number", "byte_offset", "reason").iter_rows())
    return events, quarantined


@PROPERTY
@given(data=log_bytes, fractions=st.lists(st.floats(0, 1), max_size=12))
def test_tailer_reads_the_same_whatever_the_chunk_boundaries(data: bytes, fractions: list[float]) -> None:
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as many:
        whole = _read_in_chunks(Path(one), [data])
        chunked = _read_in_chunks(Path(many), _cut(data, fractions))
    assert chunked == whole
    events, quarantined = whole
    non_blank = sum(1 for line in data.split(b"\n")[:-1] if line.strip())
    assert len(events) + len(quarantined) == non_blank  # every line accounted for, once


@pytest.fixture(scope="module")
def fleet_lines(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small generated fleet's stream (with its incidents), as one byte string in time order."""
    from agent_pipelines.generator import generate

    out = tmp_path_factory.mktemp("property-fleet")
    generate(out, days=1, tasks=150, seed=5, start=date(2026, 3, 2), workers=1, transcripts=False)
    return b"".join(p.read_bytes() for p in sorted((out / paths.STREAM_DIR).glob("*.jsonl")))


def _alerts_in_chunks(root: Path, chunks: list[bytes], end_ms: int) -> set[str]:
    target = root / paths.STREAM_FILE
    state, ids = DetectorState(), set()
    for chunk in chunks:
        with open(target, "ab") as handle:
            handle.write(chunk)
        new = read_new(root, Cursor.from_json(state.cursor))
        state.cursor = new.cursor.to_json()
        events = new.result.events
        now = int(events["timestamp"].max().timestamp() * 1000) if events.height else None
        ids |= {a["alert_id"] for a in detect(events, state, now_ms=now)}
    ids |= {a["alert_id"] for a in detect(read_new(root, Cursor.from_json(state.cursor)).result.events,
                                          state, now_ms=end_ms)}  # fmt: skip
    return ids


@settings(PROPERTY, max_examples=max(5, EXAMPLES // 3))
@given(fractions=st.lists(st.floats(0, 1), min_size=1, max_size=10))
def test_detectors_alert_the_same_whatever_the_chunk_boundaries(
    fleet_lines: bytes, fractions: list[float]
) -> None:
    end_ms = int((datetime(2026, 3, 4, tzinfo=UTC)).timestamp() * 1000)
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as many:
        whole = _alerts_in_chunks(Path(one), [fleet_lines], end_ms)
        chunked = _alerts_in_chunks(Path(many), _cut(fleet_lines, fractions), end_ms)
    assert whole  # the fleet has incidents: an empty set would prove nothing
    assert chunked == whole


GITHUB_TOKEN = "ghp_" + "Q7w8E9r0T1y2U3i4O5p6A7s8D9f0G1h2J3k4"
SECRET_PIECES = [
    GITHUB_TOKEN,
    "password=hunter2",
    "Authorization: Bearer abc.def.ghi",
    "--token s3cr3t-value",
    "api_key: 'AKIA1234567890ABCDEF'",
    "sk-ant-api03-" + "x" * 40,
    REDACTED,
    "=",
    ":",
    " ",
    "\n",
    '"',
]


@PROPERTY
@given(
    pieces=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(SECRET_PIECES), st.text(max_size=12)),
            st.sampled_from([" ", "\n", "_", "=", ":", '"', "/", ","]),
        ),
        max_size=20,
    )
)
def test_redaction_is_idempotent_and_removes_known_tokens(pieces: list[tuple[str, str]]) -> None:
    """Any text; a known token is caught wherever a separator (not a letter or digit) precedes it.

    Two tokens glued with nothing between them are out of scope: the second has no boundary."""
    text = "".join(piece + sep for piece, sep in pieces)
    once = redact(text)
    assert redact(once) == once
    assert GITHUB_TOKEN not in once

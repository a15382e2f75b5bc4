"""Fuzzing the reader's entry points: random bytes and mutated valid lines never raise, every line is
counted once (valid, quarantined or blank), and a valid line next to garbage is still read.

Bounded for CI: a fixed number of examples and no deadline (the machine may be loaded); the
``AGENT_PIPELINES_FUZZ_EXAMPLES`` environment variable runs more of them locally.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_pipelines.core import paths
from agent_pipelines.core.contract import ContractError, check_event
from agent_pipelines.core.reader import BOM, check_line, read_bytes, read_file
from agent_pipelines.core.tailer import Cursor, read_new

EXAMPLES = int(os.environ.get("AGENT_PIPELINES_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

MARKER = "fuzz-known-good"
GOOD = json.dumps(
    {"timestamp": "2026-03-02T10:00:00.000Z", "attempt_id": MARKER, "event_type": "tool_call",
     "data": {"tool_name": "Bash"}}
).encode()  # fmt: skip
SAMPLES = [
    GOOD,
    json.dumps({"timestamp": "2026-03-02T10:00:00Z", "attempt_id": "a", "event_type": "error",
                "data": {"error_message": "x\ty", "stack_trace": "at\n\tb \\ c \"q\""}}).encode(),
    json.dumps({"timestamp": "2026-03-02T10:00:00Z", "attempt_id": "a", "event_type": "session_end",
                "data": {"completion_status": "success", "cost_usd": 0.5,
                         "outcome": {"k": [1, {"z": None}]}}}).encode(),
]  # fmt: skip

# Pieces an attacker or a broken writer would use: structure, escapes, big numbers, control bytes.
TOKENS = [b"{", b"}", b"[", b"]", b'"', b"\\", b"\\u", b"d800", b"\\ud800", b"\\\\", b":", b",", b"\n", b"\r",
          b"\t", b"\x00", b"\xff", b"\xef\xbb\xbf", b"1e400", b"NaN", b"-0", b"9" * 30, b'"attempt_id":',
          b'"data":', b'"timestamp":"0000-01-01T00:00:00Z"', b"[" * 70, b"{\"a\":" * 70, b" "]  # fmt: skip


def mutate(line: bytes, cuts: list[tuple[int, bytes]]) -> bytes:
    out = bytearray(line)
    for pos, token in cuts:
        pos = pos % (len(out) + 1)
        out[pos:pos] = token
    return bytes(out)


mutated_line = st.builds(
    mutate,
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.integers(0, 400), st.sampled_from(TOKENS)), max_size=4),
)
any_line = st.one_of(st.binary(max_size=200), mutated_line, st.sampled_from(SAMPLES))


def line_count(data: bytes) -> tuple[int, int]:
    """(lines a final read must account for, blank lines among them)."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    pieces = data.split(b"\n")
    complete, tail = pieces[:-1], pieces[-1]
    blank = sum(1 for p in complete if not p.strip())
    return len(complete) + (1 if tail else 0), blank


@FUZZ
@given(lines=st.lists(any_line, max_size=12), good_at=st.integers(0, 12))
def test_read_file_accounts_for_every_line(tmp_path: Path, lines: list[bytes], good_at: int) -> None:
    lines = [line.replace(b"\n", b"") if i == 0 else line for i, line in enumerate(lines)]
    body = b"\n".join(lines)
    data = (body + b"\n" if body else b"") + GOOD + b"\n"  # a known good line after the garbage
    if good_at % 2:
        data = GOOD + b"\n" + data
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(data)
    result = read_file(path, final=True)
    total, blank = line_count(data)
    assert result.events.height + result.quarantine.height + blank == total
    assert MARKER in result.events["attempt_id"].to_list()
    assert set(result.quarantine["reason"].to_list()) <= {
        r.value for r in __import__("agent_pipelines.core.contract", fromlist=["Reason"]).Reason
    }


@FUZZ
@given(first=st.lists(any_line, max_size=6), second=st.lists(any_line, max_size=6))
def test_tailer_reads_appends_of_garbage_without_raising(
    tmp_path_factory, first: list[bytes], second: list[bytes]
) -> None:
    root = tmp_path_factory.mktemp("tail")
    part = paths.stream_partition_path(root, "2026-03-02")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\n".join(first) + b"\n" + GOOD + b"\n")
    new = read_new(root, Cursor())
    with open(part, "ab") as handle:
        handle.write(b"\n".join(second) + b"\n" + GOOD + b"\n")
    more = read_new(root, new.cursor)
    found = new.result.events["attempt_id"].to_list() + more.result.events["attempt_id"].to_list()
    assert found.count(MARKER) >= 2  # both known lines, whatever garbage came before them
    again = read_new(root, more.cursor)
    assert again.result.events.is_empty() and again.result.quarantine.is_empty()  # nothing twice


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=20,
)


@FUZZ
@given(
    obj=st.dictionaries(st.sampled_from(["timestamp", "attempt_id", "event_type", "data", "x"]), json_values)
)
def test_check_event_only_raises_contract_errors(obj: dict) -> None:
    with contextlib.suppress(ContractError):
        check_event(obj)


def after_brace(line: bytes, which: int, member: bytes) -> bytes:
    """``member`` (``"key": value,``) inserted after the line's ``which``-th ``{``: a key the object
    may already hold, at any depth."""
    braces = [i for i, c in enumerate(line) if c == ord("{")]
    if not braces:
        return line
    at = braces[which % len(braces)] + 1
    return line[:at] + member + line[at:]


MEMBERS = [b'"attempt_id":"dup",', b'"tool_name":"dup",', b'"k":1,', b'"z":null,', b'"x":2,',
           b'"extra":{"k":1,"k":2},', b'"timestamp":"2026-03-03T00:00:00Z",', b'"outcome":{"a":1},',
           b'"d.tool_name":"y",', b'"pr":"a:b",']  # fmt: skip
member_line = st.builds(
    lambda line, cuts: functools.reduce(lambda acc, cut: after_brace(acc, *cut), cuts, line),
    st.sampled_from([*SAMPLES, json.dumps({**json.loads(SAMPLES[2]), "x": 1, "extra": {"k": 1}}).encode()]),
    st.lists(st.tuples(st.integers(0, 5), st.sampled_from(MEMBERS)), min_size=1, max_size=3),
)


@FUZZ
@given(
    lines=st.lists(st.one_of(member_line, mutated_line, st.sampled_from(SAMPLES)), min_size=1, max_size=12)
)
def test_every_line_gets_the_verdict_of_the_python_check(lines: list[bytes]) -> None:
    """Read in one block, each line is what :func:`check_line` (the contract in Python) says it is:
    an event, or quarantined with the same reason: keys written twice at any depth included."""
    lines = [line.replace(b"\n", b"") for line in lines]
    result = read_bytes(b"\n".join(lines) + b"\n")
    quarantine = result.quarantine
    reasons = dict(zip(quarantine["line_number"].to_list(), quarantine["reason"].to_list(), strict=True))
    events = set(result.events["line_number"].to_list())
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        problem = check_line(line)
        if problem is None:
            assert number in events, (line, reasons.get(number))
        else:
            assert reasons.get(number) == problem[0].value, (line, problem)


# --------------------------------------------------------------------------------------------
# The importers' entry points (issue 22): transcripts of the documented shapes with hostile values
# in random places (numbers beyond int64 or a double, wrong types), and links and FIFOs in the tree
# --------------------------------------------------------------------------------------------

HOSTILE = [10**19, -(10**19), 2 * 10**19, 10**400, "__1E400__", "__NAN__", "__-1E400__", 1e308, -1.5,
           "12", "", None, True, [], {}, [1, [2]], {"a": {"b": 1}}, "../../etc/passwd", "9" * 40]  # fmt: skip
OUTSIDE_MARKER = "fuzz-outside-the-tree"


def _leaves(value: object, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def _set(value: object, path: tuple, new: object) -> object:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)  # type: ignore[call-overload]
    copy[head] = _set(copy[head], rest, new)
    return copy


def _hostile_lines(records: list[dict], picks: list[tuple[int, int, int]]) -> bytes:
    records = [json.loads(json.dumps(r)) for r in records]
    for which, leaf, value in picks:
        i = which % len(records)
        leaves = _leaves(records[i])
        records[i] = _set(records[i], leaves[leaf % len(leaves)], HOSTILE[value % len(HOSTILE)])  # type: ignore[assignment]
    text = "".join(json.dumps(r) + "\n" for r in records)
    for token, raw in (('"__1E400__"', "1e400"), ('"__-1E400__"', "-1e400"), ('"__NAN__"', "NaN")):
        text = text.replace(token, raw)
    return text.encode()


picks = st.lists(
    st.tuples(st.integers(0, 99), st.integers(0, 999), st.integers(0, len(HOSTILE) - 1)), max_size=6
)


@FUZZ
@given(claude=picks, codex=picks, links=st.lists(st.sampled_from(["file", "dir", "fifo", "key"]), max_size=3))
def test_importers_take_hostile_transcripts_record_by_record(
    tmp_path_factory, claude: list, codex: list, links: list[str]
) -> None:
    import math
    import stat

    import transcript_fixtures as fx

    from agent_pipelines.core.quarantine import read_quarantine
    from agent_pipelines.core.reader import read_logs
    from agent_pipelines.ingest.importers import SOURCES, run_import

    root = tmp_path_factory.mktemp("fuzz-import")
    outside = root / "outside"
    outside.mkdir()
    (outside / "other.jsonl").write_text(json.dumps({"type": "user", "uuid": OUTSIDE_MARKER}) + "\n")
    (outside / "id_rsa").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{OUTSIDE_MARKER}\n")
    cc = root / "claude" / "-home-dev-shop"
    cc.mkdir(parents=True)
    (cc / f"{fx.CC_A}.jsonl").write_bytes(_hostile_lines(fx.session_a(), claude))
    cx = root / "codex" / "sessions" / "2025" / "10" / "01"
    cx.mkdir(parents=True)
    (cx / "rollout-1.jsonl").write_bytes(_hostile_lines(fx.codex_one(), codex))
    for i, kind in enumerate(links):
        where = cc / f"link-{i}.jsonl"
        if kind == "file":
            where.symlink_to(outside / "other.jsonl")
        elif kind == "key":
            where.symlink_to(outside / "id_rsa")
        elif kind == "dir":
            (cc / f"dir-{i}").symlink_to(outside, target_is_directory=True)
        else:
            os.mkfifo(where)
    logs, data = root / "logs", root / "data"
    for name, folder in (("claude-code", root / "claude"), ("codex", root / "codex")):
        report = run_import(SOURCES[name], [folder], logs_dir=logs, data_dir=data, now=fx_now())
        regular = sum(p.stat().st_size for p in folder.rglob("*.jsonl")
                      if stat.S_ISREG(p.lstat().st_mode))  # fmt: skip
        assert report.bytes_read == regular  # every byte of every regular file, nothing through links
        assert math.isfinite(report.cost_usd) and report.cost_usd < 1e4
    if logs.exists():
        result = read_logs(logs)
        assert result.quarantine.height == 0  # what the importers write always passes the contract
        costs = result.events["cost_usd"].drop_nulls().to_list()
        assert all(math.isfinite(c) and 0 <= c < 1e4 for c in costs)
        tokens = result.events["total_tokens"].drop_nulls().to_list()
        assert all(0 <= t < 10**13 for t in tokens)
    written = "".join(p.read_text(errors="replace") for p in root.rglob("*")
                      if p.is_file() and not p.is_symlink() and outside not in p.parents)  # fmt: skip
    assert OUTSIDE_MARKER not in written.replace(str(outside), "")
    quarantine = read_quarantine(data)
    assert quarantine.filter(quarantine["reason"].is_null() | (quarantine["line_number"] < 1)).height == 0


def fx_now():
    from datetime import UTC, datetime

    return datetime(2026, 6, 1, tzinfo=UTC)

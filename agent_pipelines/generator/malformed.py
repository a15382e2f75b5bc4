"""Malformed input: a little of every kind the reader must quarantine, merged into each day's file."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from agent_pipelines.core.writer import append_bytes, serialize
from agent_pipelines.generator.chunks import read_sorted_runs

MALFORMED_EVERY = 20_000  # about one bad line per this many events: "a little malformed input"

MALFORMED_KINDS: tuple[str, ...] = (
    "malformed_json",
    "wrong_type",
    "missing_field",
    "unknown_event_type",
    "invalid_utf8",
    "invalid_id",
    "not_an_object",
    "invalid_payload",
)


def _malformed_line(kind: str, rng: random.Random, day: str) -> bytes:
    ts = f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.000Z"
    if kind == "malformed_json":
        good = serialize({"timestamp": ts, "attempt_id": "ve-broken", "event_type": "tool_call",
                          "data": {"tool_name": "Bash"}})  # fmt: skip
        return good[: rng.randint(10, len(good) - 5)].encode()  # a torn write from a crashed writer
    if kind == "wrong_type":
        return serialize({"timestamp": ts, "attempt_id": "ve-wrongtype", "event_type": "tool_call",
                          "elapsed_ms": "twelve", "data": {"tool_name": "Bash"}}).encode()  # fmt: skip
    if kind == "missing_field":
        return serialize({"timestamp": ts, "event_type": "error", "data": {"error_message": "x"}}).encode()
    if kind == "unknown_event_type":
        return serialize(
            {"timestamp": ts, "attempt_id": "ve-unknown", "event_type": "heartbeat", "data": {}}
        ).encode()
    if kind == "invalid_utf8":  # Latin-1 bytes from a misconfigured writer
        return (
            b'{"timestamp":"' + ts.encode() + b'","attempt_id":"ve-caf\xe9","event_type":"error","data":{}}'
        )
    if kind == "invalid_id":
        return serialize({"timestamp": ts, "attempt_id": "../../etc/passwd", "event_type": "tool_call",
                          "data": {"tool_name": "Read"}}).encode()  # fmt: skip
    if kind == "not_an_object":
        return b'["session_start", "ve-array"]'
    if kind == "invalid_payload":
        return serialize({"timestamp": ts, "attempt_id": "ve-badstatus", "event_type": "session_end",
                          "data": {"completion_status": "done"}}).encode()  # fmt: skip
    raise ValueError(kind)


@dataclass(frozen=True)
class BadLines:
    """The bad input one day's file gets, decided from its day index and count of good lines
    alone, so the ground truth can state it before (and while) the day is written."""

    kinds: tuple[str, ...]  # malformed lines, in the order they are inserted
    duplicate: bool  # a writer retried: one line written twice
    huge: bool  # one line over the 1 MiB bound

    def counts(self) -> dict[str, int]:
        """Quarantine reason -> lines, as the reader will count them."""
        counts = Counter(self.kinds)
        if self.huge:
            counts["line_too_long"] += 1
        return dict(counts)


def bad_lines(day_index: int, n_lines: int) -> BadLines:
    n_bad = n_lines // MALFORMED_EVERY + (1 if day_index % 4 == 0 else 0)
    # Spread the kinds: over any 32 days every quarantine reason appears.
    kinds = tuple(
        MALFORMED_KINDS[(day_index + day_index // 4 + j) % len(MALFORMED_KINDS)] for j in range(n_bad)
    )
    duplicate = n_lines + n_bad > 0 and day_index % 3 == 1
    return BadLines(kinds, duplicate, huge=day_index == 0 and n_lines >= 50_000)


def merge_day(args: tuple[str, int, int, list[str], str]) -> tuple[str, int]:
    """Worker: merge one day's lines from the chunks' pieces (then deleted) in time order, with a
    little bad input. Returns the day and the lines written."""
    day, day_index, seed, pieces, target = args
    payload = read_sorted_runs([Path(p) for p in pieces])
    for piece in pieces:
        Path(piece).unlink(missing_ok=True)
    bad = bad_lines(day_index, len(payload))
    rng = random.Random(f"{seed}:malformed:{day}")
    for kind in bad.kinds:
        payload.insert(rng.randrange(len(payload) + 1), _malformed_line(kind, rng, day))
    if bad.duplicate:
        k = rng.randrange(len(payload))
        payload.insert(k + 1, payload[k])
    if bad.huge:
        huge = serialize({"timestamp": f"{day}T12:00:00.000Z", "attempt_id": "ve-huge",
                          "event_type": "error", "data": {"error_message": "x" * (1 << 20)}})  # fmt: skip
        payload.insert(rng.randrange(len(payload) + 1), huge.encode())
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    written = len(payload)
    payload.append(b"")  # the last line's newline, without copying the whole day once more
    append_bytes(path, b"\n".join(payload))
    return day, written

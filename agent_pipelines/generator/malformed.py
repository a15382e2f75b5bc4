"""Malformed input: a little of every kind the reader must quarantine, merged into each day's file."""

from __future__ import annotations

import heapq
import random
from collections import defaultdict
from pathlib import Path

from agent_pipelines.generator.chunks import _read_lines
from agent_pipelines.writer import append_bytes, serialize

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


def _merge_day(args: tuple[str, int, int, str, str]) -> tuple[str, int, dict[str, int], int]:
    """Worker: merge one day's lines from every chunk in time order, with a little bad input."""
    day, day_index, seed, tmp, target = args
    chunk_dirs = sorted(Path(tmp).glob("chunk-*"))
    lines = list(heapq.merge(*(sorted(_read_lines(d / f"{day}.jsonl")) for d in chunk_dirs)))
    payload = [line.encode("utf-8") for line in lines]
    rng = random.Random(f"{seed}:malformed:{day}")
    malformed: dict[str, int] = defaultdict(int)
    n_bad = len(lines) // MALFORMED_EVERY + (1 if day_index % 4 == 0 else 0)
    for j in range(n_bad):
        # Spread the kinds: over any 32 days every quarantine reason appears.
        kind = MALFORMED_KINDS[(day_index + day_index // 4 + j) % len(MALFORMED_KINDS)]
        payload.insert(rng.randrange(len(payload) + 1), _malformed_line(kind, rng, day))
        malformed[kind] += 1
    duplicates = 0
    if payload and day_index % 3 == 1:  # a writer retried: the same line twice
        k = rng.randrange(len(payload))
        payload.insert(k + 1, payload[k])
        duplicates += 1
    if day_index == 0 and len(lines) >= 50_000:  # one enormous line (over the 1 MiB bound)
        huge = serialize({"timestamp": f"{day}T12:00:00.000Z", "attempt_id": "ve-huge",
                          "event_type": "error", "data": {"error_message": "x" * (1 << 20)}})  # fmt: skip
        payload.insert(rng.randrange(len(payload) + 1), huge.encode())
        malformed["line_too_long"] += 1
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    append_bytes(path, b"\n".join(payload) + b"\n")
    return day, len(payload), dict(malformed), duplicates

"""Tolerant reading of the JSON Lines files we keep beside the logs: alerts, metrics lines, quarantine
records, transcripts read back by the logger.

Each line is decoded with the reader's strict rules (:func:`agent_pipelines.core.reader.loads_any`: no
RecursionError on a deeply nested line, no NaN, no duplicate keys); a line that does not decode to a
JSON object — half-written by a crash, another tool's garbage — is skipped, never fatal. The event
logs themselves go through :mod:`agent_pipelines.core.reader`, which quarantines what it refuses instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from agent_pipelines.core.reader import loads_any

_BOM = b"\xef\xbb\xbf"  # Windows PowerShell 5 writes UTF-8 with a byte-order mark


def json_objects(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON objects among ``lines``; every other line skipped (a BOM on the first is ignored)."""
    for number, line in enumerate(lines):
        if number == 0 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        try:
            value = loads_any(line)
        except ValueError:  # malformed, not UTF-8, too deep, a duplicate key, NaN
            continue
        if isinstance(value, dict):
            yield value


def iter_json_objects(
    path: str | os.PathLike[str], *, skip: int = 0, complete: bool = False
) -> Iterator[dict[str, Any]]:
    """The JSON objects of the file at ``path`` (none when it does not exist), after its first
    ``skip`` lines. With ``complete``, a last line without its newline is left alone: a writer is
    still on it."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the last line is yielded
    except FileNotFoundError:
        return
    with handle:
        lines: Iterator[bytes] = (line for i, line in enumerate(handle) if i >= skip)
        if complete:
            lines = _complete(lines)
        yield from json_objects(lines)


def read_json_objects(path: str | os.PathLike[str], *, skip: int = 0) -> list[dict[str, Any]]:
    """:func:`iter_json_objects` as a list."""
    return list(iter_json_objects(path, skip=skip))


def _complete(lines: Iterable[bytes]) -> Iterator[bytes]:
    for line in lines:
        if not line.endswith(b"\n"):
            return
        yield line


__all__ = ["iter_json_objects", "json_objects", "read_json_objects"]

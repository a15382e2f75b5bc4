"""Transcripts kept as whole JSON documents (Gemini CLI, OpenCode, SWE-agent), read as records.

These tools rewrite a session's file as it grows instead of appending lines, so a changed file is
read whole and its source turns it into records (:meth:`records_of`), each with an id of its own:
the records a file already had when it was read before are skipped by their ids like any repeated
record. The records of all the files read in a pass are handled in time order (OpenCode keeps a
session's messages and tool parts in separate files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from agent_pipelines.core.contract import Reason
from agent_pipelines.ingest.importers.files import Pending, open_regular

MAX_DOCUMENT_BYTES = 256 << 20


class DocumentSource(Protocol):
    def records_of(self, path: Path, doc: Any) -> list[dict[str, Any]]: ...


@dataclass
class Batch:
    """The records of a pass's changed documents, by file in time order, and what could not be read."""

    chunks: list[tuple[Path, list[tuple[int, int, bytes]]]] = field(default_factory=list)
    problems: list[tuple[Path, tuple[Reason, str]]] = field(default_factory=list)


def iso_ms(epoch_ms: float) -> str:
    """An ISO 8601 UTC timestamp with milliseconds, from epoch milliseconds."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def read(source: DocumentSource, items: list[Pending]) -> Batch:
    batch = Batch()
    entries: list[tuple[str, str, int, bytes]] = []
    for item in items:
        if item.size > MAX_DOCUMENT_BYTES:
            batch.problems.append((item.path, (Reason.LINE_TOO_LONG, f"document of {item.size} bytes")))
            continue
        try:
            with open_regular(item.path) as handle:  # never through a link swapped in since the listing
                data = handle.read(MAX_DOCUMENT_BYTES + 1)
            doc = json.loads(data.decode("utf-8"))
        except OSError:
            continue  # gone since it was listed: the next pass sees what is there
        except UnicodeDecodeError:
            batch.problems.append((item.path, (Reason.INVALID_UTF8, "bytes that are not UTF-8")))
            continue
        except (ValueError, RecursionError) as exc:
            batch.problems.append((item.path, (Reason.MALFORMED_JSON, f"malformed JSON: {exc}")))
            continue
        try:
            records = source.records_of(item.path, doc)
        except (LookupError, TypeError, ValueError, AttributeError, ArithmeticError, OSError) as exc:
            problem = (Reason.WRONG_TYPE, f"unexpected document shape: {type(exc).__name__}: {exc}")
            batch.problems.append((item.path, problem))
            continue
        for index, record in enumerate(records):
            when = record.get("timestamp")
            entries.append((when if isinstance(when, str) else "", str(item.path), index, _dump(record)))
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    for when, name, index, raw in entries:
        del when
        path = Path(name)
        if not batch.chunks or batch.chunks[-1][0] != path:
            batch.chunks.append((path, []))
        batch.chunks[-1][1].append((index + 1, 0, raw))
    return batch


def _dump(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), default=str).encode()

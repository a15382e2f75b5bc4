"""A chunk of a transcript's lines as records, secrets redacted before anything else sees them.

Lines the source knows mean nothing (``quiet_line``, read from their first bytes) are counted and
never decoded; each other line is decoded (orjson where it gives what ``json.loads`` would, see
:mod:`~agent_pipelines.ingest.importers.decoding`) or quarantined with its reason and place. Then the
screen for secrets runs over the chunk's texts at once in polars, and Python redacts only the records
it flags; a record whose handling reads no text (``plain_record``) is not screened at all.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from agent_pipelines.core.contract import ContractError, Reason
from agent_pipelines.ingest.importers.decoding import loads_record
from agent_pipelines.ingest.importers.sessions import SessionRecorder
from agent_pipelines.text.redaction import redact_value
from agent_pipelines.text.redaction_frame import flagged, might_hold_secret

MAX_RECORD_BYTES = 64 << 20  # transcripts hold pasted images and file dumps; an event never does
SMALL_CHUNK = 8  # records screened for secrets in Python; more go to polars at once

Parsed = tuple[int, int, bytes, dict[str, Any]]  # line number, byte offset, line, record


def records(
    rec: SessionRecorder, source: Any, name: str, chunk: list[tuple[int, int, bytes]]
) -> tuple[list[Parsed], int]:
    """The records of ``chunk`` (``(line_number, byte_offset, line)``, not empty) of file ``name``, and
    how many quiet lines were skipped; bad lines go to ``rec``'s quarantine. ``rec.where`` is left
    at the chunk's last line."""
    parsed: list[Parsed] = []
    quiet = getattr(source, "quiet_line", None)  # records that mean nothing, known by their start
    plain = getattr(source, "plain_record", None)  # records made nothing of but kinds and numbers
    skipped = 0
    texts: list[str] = []
    screened: list[int] = []  # the place in ``parsed`` of each text
    for line_no, off, raw in chunk:
        if quiet is not None and quiet(raw):
            skipped += 1
            continue
        if not raw.strip():
            continue
        if len(raw) > MAX_RECORD_BYTES:
            rec.where = (name, line_no, off)
            rec.bad(Reason.LINE_TOO_LONG, f"record of {len(raw)} bytes (limit {MAX_RECORD_BYTES})", raw)
            continue
        try:
            text = raw.decode("utf-8")
            record = loads_record(raw, text)  # numbers as the reader takes them: no NaN, no 1e400
        except UnicodeDecodeError:
            rec.where = (name, line_no, off)
            rec.bad(Reason.INVALID_UTF8, "bytes that are not UTF-8", raw)
            continue
        except ContractError as exc:
            rec.where = (name, line_no, off)
            rec.bad(exc.reason, exc.detail, raw)
            continue
        if not isinstance(record, dict):
            rec.where = (name, line_no, off)
            rec.bad(Reason.NOT_AN_OBJECT, f"a record must be a JSON object, got {type(record).__name__}", raw)
            continue
        if plain is None or not plain(record):
            screened.append(len(parsed))
            texts.append(text)
        parsed.append((line_no, off, raw, record))
    # Secrets go first: nothing below (state, events, quarantine) sees them. The screen runs
    # over the chunk at once in polars; Python redacts only the records it flags.
    if len(texts) > SMALL_CHUNK:
        hits = flagged(pl.Series(texts, dtype=pl.String)).arg_true().to_list()
    else:  # a sensor tick's few new lines: cheaper in Python than a polars query (~1.5 ms)
        hits = [i for i, text in enumerate(texts) if might_hold_secret(text)]
    for hit in hits:
        i = screened[hit]
        line_no, off, raw, record = parsed[i]
        parsed[i] = (line_no, off, raw, redact_value(record, screen=might_hold_secret))
    rec.where = (name, chunk[-1][0], chunk[-1][1])  # where a pass that handles nothing more stands
    return parsed, skipped

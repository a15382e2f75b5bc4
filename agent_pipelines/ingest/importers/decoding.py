"""One transcript record decoded: orjson where it gives what ``json.loads`` would, ``json.loads`` elsewhere.

Why: decoding was the largest single cost of importing Codex rollouts (~15% of the CPU) and orjson is
several times faster. But our results must not depend on the decoder, and the two differ at the edges:
orjson silently reads an integer beyond 64 bits as a float (``json.loads``: an exact ``int``), stops
nesting at 1024 levels (``json.loads``: at Python's recursion limit), and refuses what ``json.loads``
takes (NaN, Infinity, ``1e400``, lone surrogates). So a record with a run of 19+ digits anywhere or
many brackets goes straight to :func:`~agent_pipelines.core.reader.decode.loads_finite`, and so does
every record orjson refuses: that function stays the authority on what a record holds and on the
reason one is refused (tests/test_import_decoding.py compares both paths on open-ended input).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from agent_pipelines.core.reader.decode import loads_finite

# Integers of 19 digits or more may not fit 64 bits (orjson would give a float); a float with that
# many digits goes the slow way too, harmlessly, and so do digits inside strings. Found on a copy of
# the line with every digit made "0" and "[" made "{" (one pass in C, several times a regex's speed),
# where the brackets are counted too.
_FOLD = bytes(48 if 48 <= i <= 57 else 0x7B if i == 0x5B else i for i in range(256))
_LONG_DIGITS = b"0" * 19
_MAX_BRACKETS = 500  # fewer brackets than this nest shallower than json.loads's recursion limit


def loads_record(raw: bytes, text: str) -> object:
    """``raw`` (valid UTF-8; ``text`` is it decoded) as Python, exactly as
    :func:`~agent_pipelines.core.reader.decode.loads_finite` reads it, raising what it raises."""
    folded = raw.translate(_FOLD)
    if folded.count(b"{") < _MAX_BRACKETS and _LONG_DIGITS not in folded:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # json.loads decides: the same value or the same reason as before
    return loads_finite(text)


def loads_text(text: str) -> Any:
    """``json.loads(text)``, the same value or the same exception, through orjson where it gives that
    value (JSON held in a record's string: a tool call's arguments, a command's output and exit code)."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: orjson refuses it, json.loads decides
        return json.loads(text)
    folded = raw.translate(_FOLD)
    if folded.count(b"{") < _MAX_BRACKETS and _LONG_DIGITS not in folded:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # NaN, Infinity, 1e400... which json.loads takes, or text it refuses as well
    return json.loads(text)

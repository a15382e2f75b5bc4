"""Both shapes of a payload: the original system's field names beside ours, in one table.

The original PowerShell logger (``Write-AgentFollowup`` in ``agent-work-logger.ps1``) writes a
follow-up as ``data.prompt`` and ``data.followup_reason``; the original design document
(``agent-work-logging-design.md``) describes a tool result as ``data.result`` (``"success"`` or
``"error"``) and ``data.result_data``. We write and analyse ``message``/``reason`` and ``success``.
:data:`PAYLOAD_ALIASES` says, once, which of their fields stands for which of ours; the reader
(:func:`alias_exprs`, over a block's flattened payload) and Python code reading decoded lines
(:func:`canonical_payload`) both take it from here, so a line in either shape is analysed alike.

When a line carries both, ours wins (a writer that knows both names meant ours). Their fields are
never removed: ``prompt`` and ``followup_reason`` stay in their columns, ``result`` and
``result_data`` in the row's ``data`` text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl


@dataclass(frozen=True)
class PayloadAlias:
    """One of their payload fields standing for one of ours, for one event type."""

    event_type: str
    ours: str  # our field (a column of the cleaned table)
    theirs: str  # the original logger's or design document's field
    source: str  # where their name comes from
    # Their value -> ours (``None``: the value as it is). A value not listed reads as unknown.
    values: Mapping[str, Any] | None = field(default=None, hash=False)


_FOLLOWUP = "original logger (Write-AgentFollowup), design doc"
PAYLOAD_ALIASES: tuple[PayloadAlias, ...] = (
    PayloadAlias("followup_sent", "message", "prompt", _FOLLOWUP),
    PayloadAlias("followup_sent", "reason", "followup_reason", _FOLLOWUP),
    PayloadAlias("tool_result", "success", "result", "design doc", {"success": True, "error": False}),
)

# Their fields the reader must parse to apply the table (``prompt`` and ``followup_reason`` are
# columns already, as ``session_start`` fields).
ALIAS_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(a.theirs for a in PAYLOAD_ALIASES))
# Fields of theirs with no counterpart of ours: kept in the row's ``data`` text, listed for the docs.
KEPT_IN_DATA: dict[str, tuple[str, ...]] = {"tool_result": ("result_data",)}


def canonical_payload(event_type: str | None, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """``data`` with our fields filled from theirs where ours are missing (a copy; nothing removed)."""
    out = dict(data or {})
    for alias in PAYLOAD_ALIASES:
        if alias.event_type != event_type or out.get(alias.ours) is not None:
            continue
        value = out.get(alias.theirs)
        if value is None:
            continue
        if alias.values is not None:
            value = alias.values.get(value) if isinstance(value, str) else None
            if value is None:
                continue
        out[alias.ours] = value
    return out


def _text(value: Any) -> str:
    """A value as the reader holds payload fields before typing them (JSON text of scalars)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def alias_exprs(prefix: str = "") -> list[pl.Expr]:
    """Our payload columns with theirs filled in, as expressions over text columns named
    ``<prefix><field>`` (the reader's flattened payload: every value still JSON text)."""
    event_type = pl.col("event_type")
    exprs: list[pl.Expr] = []
    for ours in dict.fromkeys(a.ours for a in PAYLOAD_ALIASES):
        expr = pl.col(f"{prefix}{ours}")
        for alias in (a for a in PAYLOAD_ALIASES if a.ours == ours):
            theirs: pl.Expr = pl.col(f"{prefix}{alias.theirs}")
            if alias.values is not None:
                theirs = theirs.replace_strict(
                    {k: _text(v) for k, v in alias.values.items()}, default=None, return_dtype=pl.String
                )
            expr = pl.when((event_type == alias.event_type) & expr.is_null()).then(theirs).otherwise(expr)
        exprs.append(expr.alias(f"{prefix}{ours}"))
    return exprs


__all__ = [
    "ALIAS_FIELDS",
    "KEPT_IN_DATA",
    "PAYLOAD_ALIASES",
    "PayloadAlias",
    "alias_exprs",
    "canonical_payload",
]

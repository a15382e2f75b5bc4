"""The event contract: what a line of an agent work log may hold.

Everything that reads or writes logs goes through this package — the logger before it writes,
the reader when it parses, the assets' pandera checks on the cleaned table, the rotation job
before it archives. The field names, event types and payloads are the original PowerShell logger's
(``AGENT_LOGGING_SUMMARY.md``); what we add is precision about what is *invalid* and why, so a bad
line is quarantined with a reason instead of silently skewing a metric.

* :mod:`~agent_pipelines.core.contract.fields` — event types, payloads, fields and their types, limits,
reasons;
* :mod:`~agent_pipelines.core.contract.timestamps` — one timestamp grammar, in Python and in polars;
* :mod:`~agent_pipelines.core.contract.rules` — one rule table, run by :func:`check_event` on one decoded
  line and turned into polars expressions by :func:`violation_exprs` for the reader's blocks;
* :mod:`~agent_pipelines.core.contract.shapes` — the original system's payload field names beside ours
  (one table), read alike;
* :mod:`~agent_pipelines.core.contract.schemas` — the pandera models and the cleaned table's schema.
"""

from __future__ import annotations

from agent_pipelines.core.contract.fields import (
    COMPLETION_STATUSES,
    EVENT_TYPES,
    ID_CONTROL_PATTERN,
    ID_FIELDS,
    ID_TRAVERSAL_PATTERN,
    INT_FIELDS,
    MAX_DEPTH,
    MAX_ID_CHARS,
    MAX_LINE_BYTES,
    MAX_YEAR,
    MIN_YEAR,
    PAYLOAD_BOOL_FIELDS,
    PAYLOAD_COLUMNS,
    PAYLOAD_FLOAT_FIELDS,
    PAYLOAD_INT_FIELDS,
    PAYLOAD_OBJECT_FIELDS,
    PAYLOAD_TYPES,
    PROMPT_TYPES,
    REQUIRED_FIELDS,
    REQUIRED_PAYLOAD,
    STRING_FIELDS,
    SUCCESS_STATUS,
    TOP_LEVEL_FIELDS,
    TURN_CLOSED_STATUSES,
    TURN_OPEN_STATUS,
    TURN_STATUSES,
    ContractError,
    ErrorData,
    FollowupSentData,
    Reason,
    SessionEndData,
    SessionStartData,
    StatusChangeData,
    ToolCallData,
    ToolResultData,
    id_problem,
)
from agent_pipelines.core.contract.numbers import (
    INT_TEXT,
    NUMBER_TEXT,
    as_int,
    as_number,
    int_problem,
    number_problem,
)
from agent_pipelines.core.contract.rules import (
    RULES,
    Check,
    Rule,
    check_event,
    check_values,
    text_only,
    violation_exprs,
)
from agent_pipelines.core.contract.schemas import (
    CLEANED_SCHEMA,
    CleanedEvent,
)
from agent_pipelines.core.contract.shapes import (
    ALIAS_FIELDS,
    KEPT_IN_DATA,
    PAYLOAD_ALIASES,
    PayloadAlias,
    alias_exprs,
    canonical_payload,
)
from agent_pipelines.core.contract.timestamps import (
    TIMESTAMP_DAY,
    TIMESTAMP_DAY_PATTERN,
    TIMESTAMP_PATTERN,
    format_timestamp,
    parse_timestamp,
    timestamp_expr,
)

__all__ = [
    "ALIAS_FIELDS",
    "CLEANED_SCHEMA",
    "COMPLETION_STATUSES",
    "EVENT_TYPES",
    "ID_CONTROL_PATTERN",
    "ID_FIELDS",
    "ID_TRAVERSAL_PATTERN",
    "INT_FIELDS",
    "INT_TEXT",
    "KEPT_IN_DATA",
    "MAX_DEPTH",
    "MAX_ID_CHARS",
    "MAX_LINE_BYTES",
    "MAX_YEAR",
    "MIN_YEAR",
    "NUMBER_TEXT",
    "PAYLOAD_ALIASES",
    "PAYLOAD_BOOL_FIELDS",
    "PAYLOAD_COLUMNS",
    "PAYLOAD_FLOAT_FIELDS",
    "PAYLOAD_INT_FIELDS",
    "PAYLOAD_OBJECT_FIELDS",
    "PAYLOAD_TYPES",
    "PROMPT_TYPES",
    "REQUIRED_FIELDS",
    "REQUIRED_PAYLOAD",
    "RULES",
    "STRING_FIELDS",
    "SUCCESS_STATUS",
    "TIMESTAMP_DAY",
    "TIMESTAMP_DAY_PATTERN",
    "TIMESTAMP_PATTERN",
    "TOP_LEVEL_FIELDS",
    "TURN_CLOSED_STATUSES",
    "TURN_OPEN_STATUS",
    "TURN_STATUSES",
    "Check",
    "CleanedEvent",
    "ContractError",
    "ErrorData",
    "FollowupSentData",
    "PayloadAlias",
    "Reason",
    "Rule",
    "SessionEndData",
    "SessionStartData",
    "StatusChangeData",
    "ToolCallData",
    "ToolResultData",
    "alias_exprs",
    "as_int",
    "as_number",
    "canonical_payload",
    "check_event",
    "check_values",
    "format_timestamp",
    "id_problem",
    "int_problem",
    "number_problem",
    "parse_timestamp",
    "text_only",
    "timestamp_expr",
    "violation_exprs",
]

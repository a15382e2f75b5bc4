"""The contract's rules, written once: one table that both checks run.

:data:`RULES` lists, in order, every rule a line must follow: a field, what its value must be (a
:class:`Check`), the :class:`Reason` and the detail a quarantined line carries. From it come

* :func:`check_event` — one decoded line in Python (the logger before it writes, the reader's
  per-line fallback when a block of lines does not parse);
* :func:`violation_exprs` — the same rules as polars expressions over a frame of raw rows, which the
  reader runs on millions of lines at once.

Each :class:`Check` is implemented twice below — over a Python value and over a polars column of
JSON text — and nowhere else, so the two agree on every line and report the same first reason
(``tests/test_contract.py`` and the property tests in ``tests/test_fuzz_reader.py`` hold them to it).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import polars as pl

from agent_pipelines.core.contract.fields import (
    COMPLETION_STATUSES,
    EVENT_TYPES,
    ID_CONTROL_PATTERN,
    ID_FIELDS,
    ID_TRAVERSAL_PATTERN,
    INT_FIELDS,
    MAX_DEPTH,
    MAX_ID_CHARS,
    PAYLOAD_BOOL_FIELDS,
    PAYLOAD_COLUMNS,
    PAYLOAD_FLOAT_FIELDS,
    PAYLOAD_INT_FIELDS,
    PAYLOAD_OBJECT_FIELDS,
    PROMPT_TYPES,
    REQUIRED_FIELDS,
    REQUIRED_PAYLOAD,
    STRING_FIELDS,
    ContractError,
    Reason,
    id_problem,
)
from agent_pipelines.core.contract.numbers import (
    as_number,
    int_problem,
    int_text_fails,
    number_problem,
    number_text_fails,
)
from agent_pipelines.core.contract.timestamps import parse_timestamp

# Scalars written as strings ("12", "0.5", "true") are accepted: PowerShell and shell writers
# produce them, and no information is lost. Anything else of the wrong type is quarantined, and so is
# a number beyond its bounds (:mod:`~agent_pipelines.core.contract.numbers`: the one bounded parse).


class Check(Enum):
    """What a field's value must be (a null value passes every check but :attr:`PRESENT`)."""

    PRESENT = "present"
    SCALAR = "scalar"  # not an object or a list
    INTEGER = "integer"  # an integer below 10^18, or a string of its digits
    NUMBER = "number"  # a number, or a string of one
    BOOLEAN = "boolean"  # true or false, or the string of one
    OBJECT = "object"  # a JSON object
    TIMESTAMP = "timestamp"  # what :func:`parse_timestamp` accepts
    SAFE_ID = "safe_id"  # what :func:`id_problem` finds nothing wrong with
    ONE_OF = "one_of"  # one of the rule's ``allowed`` values
    NON_NEGATIVE = "non_negative"


@dataclass(frozen=True)
class Rule:
    """One rule of the contract, run by both checks."""

    field: str  # a top-level field, or ``data.<name>`` for a payload field
    check: Check
    reason: Reason
    detail: str  # what a quarantined line says
    event_type: str | None = None  # the rule holds for this event type only
    allowed: tuple[str, ...] = ()  # ONE_OF's values
    # The Python check also shows the offending value: a format of ``value`` (as decoded), ``text``
    # (as the reader sees it, :func:`_text`) and ``kind`` (its type's name).
    shows: str = ""
    echo: int = 0  # the polars detail ends with this many characters of the value (0: none)

    @property
    def name(self) -> str:
        return self.field.removeprefix("data.")

    @property
    def payload(self) -> bool:
        return self.field.startswith("data.")

    @property
    def column(self) -> str:
        """The raw frame's column: payload fields are flattened there as ``_d.<name>`` (no
        top-level key the reader keeps starts with ``_``, so none can collide with it)."""
        return f"_d.{self.name}" if self.payload else self.field


_GOT_VALUE = ", got {value!r:.40}"
_GOT_KIND = ", got {kind}"


def _rules() -> tuple[Rule, ...]:
    wrong, missing, invalid = Reason.WRONG_TYPE, Reason.MISSING_FIELD, Reason.INVALID_PAYLOAD
    rules = [Rule(n, Check.PRESENT, missing, f"'{n}' is required") for n in REQUIRED_FIELDS]
    rules += [
        Rule(n, Check.SCALAR, wrong, f"'{n}' must be a string", shows=_GOT_KIND)
        for n in (*STRING_FIELDS, "timestamp")
    ]
    rules += [
        Rule(n, Check.INTEGER, wrong, f"'{n}' must be an integer", shows=_GOT_VALUE) for n in INT_FIELDS
    ]
    rules.append(
        Rule(
            "timestamp",
            Check.TIMESTAMP,
            Reason.INVALID_TIMESTAMP,
            "'timestamp' is not ISO 8601",
            shows=": {value!r:.60}",
        )
    )
    rules += [Rule(n, Check.SAFE_ID, Reason.INVALID_ID, f"'{n}' is not a safe id") for n in ID_FIELDS]
    rules.append(
        Rule(
            "event_type",
            Check.ONE_OF,
            Reason.UNKNOWN_EVENT_TYPE,
            "unknown event_type",
            allowed=EVENT_TYPES,
            shows=" {text!r:.60}",
            echo=60,
        )
    )
    rules.append(Rule("data", Check.OBJECT, wrong, "'data' must be an object", shows=_GOT_KIND))
    rules += [
        Rule(f"data.{n}", Check.PRESENT, missing, f"'data.{n}' is required for {event_type}", event_type)
        for event_type, names in REQUIRED_PAYLOAD.items()
        for n in names
    ]
    for check, fields, must in (
        (Check.INTEGER, PAYLOAD_INT_FIELDS, "must be an integer"),
        (Check.NUMBER, PAYLOAD_FLOAT_FIELDS, "must be a number"),
        (Check.BOOLEAN, PAYLOAD_BOOL_FIELDS, "must be true or false"),
    ):
        rules += [Rule(f"data.{n}", check, wrong, f"'data.{n}' {must}", shows=_GOT_VALUE) for n in fields]
    rules += [
        Rule(f"data.{n}", Check.OBJECT, wrong, f"'data.{n}' must be an object") for n in PAYLOAD_OBJECT_FIELDS
    ]
    rules += [
        Rule(f"data.{n}", Check.SCALAR, wrong, f"'data.{n}' must not be an object or list")
        for n in PAYLOAD_COLUMNS
        if n not in PAYLOAD_OBJECT_FIELDS
    ]
    for event_type, name, allowed in (
        ("session_start", "prompt_type", PROMPT_TYPES),
        ("session_end", "completion_status", COMPLETION_STATUSES),
    ):
        detail = f"'data.{name}' must be one of {allowed}"
        rules.append(Rule(f"data.{name}", Check.ONE_OF, invalid, detail, event_type, allowed))
    rules.append(Rule("data.cost_usd", Check.NON_NEGATIVE, invalid, "'data.cost_usd' must not be negative"))
    return tuple(rules)


RULES: tuple[Rule, ...] = _rules()

# --------------------------------------------------------------------------------------------
# The checks over one Python value (``None`` never reaches them but PRESENT's)
# --------------------------------------------------------------------------------------------


def _text(value: Any) -> Any:
    """A scalar as the reader sees it: JSON text for numbers and booleans, the string itself else."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _is_int(value: Any) -> bool:
    return int_problem(value) is None


def _is_number(value: Any) -> bool:
    return number_problem(value) is None


def _non_negative(value: Any) -> bool:
    number = as_number(value)
    return number is None or number >= 0  # not a number at all: the NUMBER rule says so


def _is_timestamp(value: Any) -> bool:
    try:
        parse_timestamp(str(value))
    except ValueError:
        return False
    return True


# Each returns True when the value passes.
_PYTHON: dict[Check, Callable[[Any, Rule], bool]] = {
    Check.SCALAR: lambda v, _: not isinstance(v, dict | list),
    Check.INTEGER: lambda v, _: _is_int(v),
    Check.NUMBER: lambda v, _: _is_number(v),
    Check.BOOLEAN: lambda v, _: isinstance(v, bool) or v in ("true", "false"),
    Check.OBJECT: lambda v, _: isinstance(v, dict),
    Check.TIMESTAMP: lambda v, _: _is_timestamp(v),
    Check.SAFE_ID: lambda v, _: id_problem(_text(v)) is None,
    Check.ONE_OF: lambda v, rule: _text(v) in rule.allowed,
    Check.NON_NEGATIVE: lambda v, _: _non_negative(v),
}


def _python_detail(rule: Rule, value: Any) -> str:
    if rule.check is Check.SAFE_ID:
        return f"'{rule.field}' {id_problem(_text(value))}"
    return rule.detail + rule.shows.format(value=value, text=_text(value), kind=type(value).__name__)


def check_values(obj: Any) -> None:
    """Refuse what no JSON line can faithfully hold: nesting deeper than :data:`MAX_DEPTH`, NaN and
    infinities, keys that are not strings, values that are not JSON (bytes, sets...). Iterative, so
    a hostile object cannot exhaust the stack."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list | tuple):
            if depth > MAX_DEPTH:
                raise ContractError(Reason.TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels")
            if isinstance(value, dict):
                for key in value:
                    if not isinstance(key, str):
                        raise ContractError(Reason.WRONG_TYPE, f"keys must be strings, got {key!r:.40}")
                items: Iterable[Any] = value.values()
            else:
                items = value
            stack.extend((item, depth + 1) for item in items)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ContractError(Reason.WRONG_TYPE, f"{value} is not a JSON number")
        elif value is not None and not isinstance(value, str | int):
            raise ContractError(Reason.WRONG_TYPE, f"a {type(value).__name__} is not a JSON value")


_SURROGATE = re.compile("[\ud800-\udfff]")


def text_only(value: Any) -> Any:
    """``value`` with lone surrogates (``"\\ud800"``: valid JSON, not Unicode, not writable as UTF-8)
    replaced by U+FFFD in every string and key, as the reader reads them. Call after
    :func:`check_values` (it recurses)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {text_only(k): text_only(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [text_only(v) for v in value]
    return value


def check_event(obj: Any) -> None:
    """Raise :class:`ContractError` if a decoded line breaks the contract; return quietly otherwise.

    Extra keys, top-level or in ``data``, are allowed (the reader keeps them)."""
    if not isinstance(obj, dict):
        raise ContractError(Reason.NOT_AN_OBJECT, f"a line must be a JSON object, got {type(obj).__name__}")
    check_values(obj)
    event_type = _text(obj.get("event_type"))
    data: Any = None
    for rule in RULES:
        if rule.event_type is not None and rule.event_type != event_type:
            continue
        if rule.payload:
            if data is None:  # the rule on 'data' itself came first: an object, or absent
                data = obj.get("data") or {}
            value = data.get(rule.name)
        else:
            value = obj.get(rule.field)
        if rule.check is Check.PRESENT:
            if value is None:
                raise ContractError(rule.reason, rule.detail)
        elif value is not None and not _PYTHON[rule.check](value, rule):
            raise ContractError(rule.reason, _python_detail(rule, value))


# --------------------------------------------------------------------------------------------
# The same checks over a frame of raw rows (every column JSON text, as the reader parses them)
# --------------------------------------------------------------------------------------------


def _is_object_text(col: pl.Expr) -> pl.Expr:
    return col.str.starts_with("{") | col.str.starts_with("[")


def _unsafe_id(col: pl.Expr) -> pl.Expr:
    return (
        (col.str.len_chars() == 0)
        | (col.str.len_chars() > MAX_ID_CHARS)
        | col.str.contains(ID_CONTROL_PATTERN)
        | col.str.contains(ID_TRAVERSAL_PATTERN)
        | col.str.starts_with("/")
        | col.str.starts_with("\\")
    )


# Each returns the condition under which a non-null value *fails*.
_POLARS: dict[Check, Callable[[pl.Expr, Rule], pl.Expr]] = {
    Check.SCALAR: lambda c, _: _is_object_text(c),
    Check.INTEGER: lambda c, _: int_text_fails(c),
    Check.NUMBER: lambda c, _: number_text_fails(c),
    Check.BOOLEAN: lambda c, _: ~c.is_in(["true", "false"]),
    Check.OBJECT: lambda c, _: ~c.str.starts_with("{"),
    Check.TIMESTAMP: lambda c, _: pl.col("_ts").is_null(),  # the reader parsed it with timestamp_expr
    Check.SAFE_ID: lambda c, _: _unsafe_id(c),
    Check.ONE_OF: lambda c, rule: ~c.is_in(list(rule.allowed)),
    Check.NON_NEGATIVE: lambda c, _: c.cast(pl.Float64, strict=False) < 0,
}


def _polars_rule(rule: Rule) -> tuple[pl.Expr, Reason, pl.Expr]:
    col = pl.col(rule.column)
    if rule.check is Check.PRESENT:
        condition = col.is_null()
    else:
        condition = col.is_not_null() & _POLARS[rule.check](col, rule)
    if rule.event_type is not None:
        condition = (pl.col("event_type") == rule.event_type) & condition
    detail = pl.lit(rule.detail)
    if rule.echo:
        detail = pl.lit(rule.detail + " ") + col.str.slice(0, rule.echo)
    return condition, rule.reason, detail


def rule_broken(rule: Rule) -> pl.Expr:
    """Where a raw row breaks ``rule`` (never null): the rule's condition in
    :func:`violation_exprs`, for a reader that runs some rules on fewer rows."""
    return _polars_rule(rule)[0].fill_null(False)


# The checks that look at the value alone (PRESENT looks at its absence, TIMESTAMP at ``_ts``).
VALUE_CHECKS = frozenset(Check) - {Check.PRESENT, Check.TIMESTAMP}


def value_fails(rule: Rule, values: pl.Expr) -> pl.Expr:
    """Where a non-null value of ``rule``'s field fails its check (a check in
    :data:`VALUE_CHECKS`): run over a column's distinct values, it says whether the rule can break
    on any row at all (the event type a rule is limited to only narrows where it applies)."""
    if rule.check not in VALUE_CHECKS:
        raise ValueError(f"{rule.check} does not look at the value alone")
    return values.is_not_null() & _POLARS[rule.check](values, rule)


@functools.cache
def violation_exprs(rules: tuple[Rule, ...] = RULES) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(is_bad, reason, detail) expressions over a raw frame; reason and detail are null when valid.

    ``is_bad`` is a plain OR of every rule: cheap enough to run on every row, so the costlier
    first-rule-wins ``reason``/``detail`` need only run on the few rows that fail. ``rules``, a
    part of :data:`RULES` in its order, gives the same for those rules alone.

    The raw frame holds each top-level field and each payload field (as ``_d.<name>``) as JSON text
    (strings as themselves, numbers as their digits, objects as JSON), which is what
    ``polars.read_ndjson`` gives for a ``String`` schema — that is what lets one parse of a block
    keep every value, even a wrongly typed one, so this can say exactly what is wrong with it. The
    timestamp arrives parsed as ``_ts`` (:func:`agent_pipelines.core.contract.timestamps.timestamp_expr`).
    """
    built = [_polars_rule(rule) for rule in rules]
    conditions = [condition.fill_null(False) for condition, _, _ in built]
    # the first rule that breaks wins: a flat coalesce (a nested when/then chain of ~50 rules costs
    # polars tens of milliseconds to plan on every call)
    reason = pl.coalesce(
        [pl.when(c).then(pl.lit(code.value)) for c, (_, code, _) in zip(conditions, built, strict=True)]
        + [pl.lit(None, dtype=pl.String)]
    )
    detail = pl.coalesce(
        [pl.when(c).then(text) for c, (_, _, text) in zip(conditions, built, strict=True)]
        + [pl.lit(None, dtype=pl.String)]
    )
    is_bad = pl.any_horizontal(conditions) if conditions else pl.lit(False)
    return is_bad, reason, detail

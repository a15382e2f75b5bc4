"""The importers' numbers: token counts and a record's own cost, through the contract's bounded parse.

Why: a transcript is another program's file, and one absurd value in it (``input_tokens`` of 2e19,
``costUSD`` of ``1e400``) used to end a session never (its end refused by the contract) or print
``$120,000,000,000,000.0156`` and ``$nan`` in reports, or raise ``OverflowError`` out of the whole import.
Here such a value is refused with a :class:`~agent_pipelines.core.contract.ContractError`, so the one
record holding it is quarantined with its reason and position, and every other record goes on.

What was lenient stays lenient: a usage field that is absent, negative or not a number counts 0,
and a ``costUSD`` that is not a number is ignored (the cost is then computed from tokens).
"""

from __future__ import annotations

from typing import Any

from agent_pipelines.core.contract import ContractError, Reason, as_number, int_problem, number_problem

MAX_TOKENS = 10**12
"""No request (nor a session's running total) holds a trillion tokens; above it, sums of a session
could leave the int64 the tables hold."""
MAX_RECORD_COST_USD = 1e6
"""No single request costs a million dollars."""


def token_count(value: Any, name: str) -> int:
    """A usage field as a count: 0 when absent or not a positive number; refused beyond bounds."""
    if type(value) is int and 0 < value <= MAX_TOKENS:  # the usual case, first (MAX_TOKENS < INT_LIMIT)
        return value
    if value is None or isinstance(value, bool | str):
        return 0
    if isinstance(value, float):
        if number_problem(value) is not None:
            raise ContractError(Reason.WRONG_TYPE, f"'{name}' {number_problem(value)}")
        return 0  # tokens are whole: a float is not a count (as before)
    if not isinstance(value, int) or value <= 0:
        return 0
    problem = int_problem(value)
    if problem is None and value > MAX_TOKENS:
        problem = f"{value} is over {MAX_TOKENS:.0e} tokens"
    if problem is not None:
        raise ContractError(Reason.WRONG_TYPE, f"'{name}' {problem}")
    return value


def record_cost(value: Any, name: str = "costUSD") -> float | None:
    """A record's own cost in USD: ``None`` when absent, not a number or negative; refused when not
    finite or beyond :data:`MAX_RECORD_COST_USD`."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    cost = as_number(value)
    if cost is None:
        raise ContractError(Reason.WRONG_TYPE, f"'{name}' {number_problem(value)}")
    if cost < 0:
        return None
    if cost > MAX_RECORD_COST_USD:
        raise ContractError(Reason.WRONG_TYPE, f"'{name}' {cost:.3g} is over {MAX_RECORD_COST_USD:.0e} USD")
    return cost

"""An attempt's tool calls: two thirds of all generated lines, so written flat for speed.

The draws of ``rng.uniform``, :func:`~.profiles.pick`, :func:`~.profiles.tool_params_json` and
:func:`~.profiles.below` (the same calls of ``random()`` and ``getrandbits`` in the same order),
:func:`.clock.seconds` and :func:`.clock.timestamp` are inlined, and both lines of a call are
formatted here; everything else an attempt does is :mod:`.scenarios`' (which calls this). A test
checks the lines against the logger's ``build_event``.
"""

from __future__ import annotations

from bisect import bisect
from typing import TYPE_CHECKING, Any

from agent_pipelines.generator import clock
from agent_pipelines.generator import signal as sig
from agent_pipelines.generator.error_catalog import KINDS, ErrorKind
from agent_pipelines.generator.incidents import error, inject
from agent_pipelines.generator.profiles import (
    BASH_JSON,
    FILE_JSON,
    FILE_TOOLS,
    FOLLOWUP_REASONS,
    PATTERN_JSON,
    PATTERN_TOOLS,
    TOOL_DRAW,
    TOOLS,
)

if TYPE_CHECKING:
    from agent_pipelines.generator.emit import AttemptLog
    from agent_pipelines.generator.scenarios import Chunk, Plan

_MS = 1000  # microseconds
RISKY_KINDS: tuple[ErrorKind, ...] = tuple(k for k in KINDS if k.kind in sig.RISKY)


def tool_calls(chunk: Chunk, a: AttemptLog, plan: Plan, spec: dict[str, Any], us: int) -> tuple[int, int]:
    """The tool calls, with the planned errors, follow-ups and incident among them; returns
    the time after the last one and the number of session restarts.

    A tool call and its result are two thirds of all lines, so this loop is written flat: the
    draws of ``rng.uniform``, :func:`~.profiles.pick`, :func:`~.profiles.tool_params_json` and
    :func:`~.profiles.below` (the same calls of ``random()`` and ``getrandbits`` in the same
    order), :func:`.clock.seconds` and :func:`.clock.timestamp` are inlined, and both lines are
    formatted here. A test checks the lines against the logger's ``build_event``.
    """
    rng = chunk.rng
    random_ = rng.random
    bits = rng.getrandbits
    speed = spec["speed"]
    slow = 7.0 * (speed < 1)
    cum, total, hi = TOOL_DRAW.cum, TOOL_DRAW.total, TOOL_DRAW.hi
    hms, ms_text, day_text = clock.HMS, clock.MS, clock.DAY_TEXT
    lines = a.lines
    start_ms = a.start_ms
    prefix = a.prefix
    call_head = prefix + 'tool_call","data":{"tool_name":"'
    result_head = prefix + 'tool_result","data":{"tool_name":"'
    special = plan.special_slot if plan.incident else -1
    error_slots, followup_slots = plan.error_slots, plan.followup_slots
    restarts = tool_calls = 0
    last_tool = None
    for i in range(plan.n_tools):
        # us += clock.seconds(rng.uniform(7.0, 45.0) / speed + slow)
        value = (7.0 + 38.0 * random_()) / speed + slow
        whole = int(value)
        scaled = 1e6 * (value - whole)
        step = int(scaled)
        left = scaled - step
        step += whole * 1_000_000
        if left > 0.5 or (left == 0.5 and step & 1):  # half to even, as timedelta rounds
            step += 1
        us += step
        if i == special:
            us = inject(chunk, a, plan.incident, us)  # type: ignore[arg-type]
            last_tool = None
        tool = TOOLS[bisect(cum, random_() * total, 0, hi)]  # pick(rng, TOOL_DRAW)
        if tool == last_tool == "Bash" and random_() < 0.5:
            tool = "Read"
        last_tool = tool
        # tool_params_json(rng, tool), with below(rng, n) drawing n.bit_length() bits
        if tool == "Bash":
            r = bits(3)
            while r >= 6:
                r = bits(3)
            params = BASH_JSON[r]
        elif tool in FILE_TOOLS:
            r = bits(3)
            while r >= 4:
                r = bits(3)
            files = FILE_JSON[r]
            r = bits(6)
            while r >= 60:
                r = bits(6)
            params = files[r]
        elif tool in PATTERN_TOOLS:
            r = bits(3)
            while r >= 4:
                r = bits(3)
            params = PATTERN_JSON[r]
        else:
            params = "{}"
        r = bits(12)  # rng.randint(20, 4000)
        while r >= 3981:
            r = bits(12)
        duration = 20 + r
        ok = random_() > 0.08
        # the call at us and its result duration ms later (clock.timestamp inlined)
        result_us = us + duration * 1000
        ms = us // 1000
        sec = ms // 1000
        number = sec // 86_400
        call_ts = (
            (day_text.get(number) or clock.day(us)) + hms[sec - number * 86_400] + ms_text[ms - sec * 1000]
        )
        ms = result_us // 1000
        sec = ms // 1000
        number = sec // 86_400
        result_ts = (
            (day_text.get(number) or clock.day(result_us))
            + hms[sec - number * 86_400]
            + ms_text[ms - sec * 1000]
        )
        call_elapsed = int(us / 1_000_000 * 1000) - start_ms
        result_elapsed = int(result_us / 1_000_000 * 1000) - start_ms
        lines += (
            f'{{"timestamp":"{call_ts}{call_head}{tool}","tool_params":{params}}},'
            f'"elapsed_ms":{call_elapsed if call_elapsed > 0 else 0}}}',
            f'{{"timestamp":"{result_ts}{result_head}{tool}","success":{"true" if ok else "false"},'
            f'"duration_ms":{duration},"exit_code":{0 if ok else 1}}},'
            f'"elapsed_ms":{result_elapsed if result_elapsed > 0 else 0}}}',
        )
        a.last_us = result_us
        tool_calls += 1
        if i in error_slots:  # never the loop's kind: a near miss must stay a near miss
            kinds = RISKY_KINDS if i in plan.risky_slots else KINDS  # risky: the signal's struggling start
            kind = rng.choice(kinds)
            while kind is a.loop_kind:
                kind = rng.choice(kinds)
            plan.risky_seen += kind.kind in sig.RISKY
            error(chunk, a, kind, result_us + 5 * _MS)
        if i in followup_slots:
            followup_us = result_us + clock.seconds(rng.uniform(5, 40))
            reason = rng.choice(FOLLOWUP_REASONS)
            chunk.followup(a, reason, followup_us)
            if restarts < plan.restarts_planned:
                restarts += 1
                restart_us = followup_us + 2 * clock.US_PER_SECOND
                chunk.session_start(a, "followup", f"Follow-up: {reason}", reason, restart_us)
            us = followup_us + 2 * clock.US_PER_SECOND
    a.tool_calls += tool_calls
    return us, restarts

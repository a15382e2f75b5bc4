"""The template miner, steps 1 and 2: tokens, what a token looks like, and one bucket mined.

A bucket is the distinct masked messages of one token count (see :mod:`agent_pipelines.text.miner`). In a
bucket, each column (token position) on which messages differ either *splits* the group (its few
values name different kinds of event) or is *variable* (generalised to :data:`VAR`). Whether a column
varies is judged from the shape of its values, the token before it and how many values it has,
never from per-data-set thresholds: that judgement, and the splitting it drives, live here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

__all__ = ["MIN_DISTINCT_WORDS", "VAR", "is_code", "is_value_like", "mine_bucket", "split_tokens"]

#: The placeholder of a position the miner found variable.
VAR = "<VAR>"
#: Distinct word values at which a column counts as variable without any other evidence.
MIN_DISTINCT_WORDS = 4
# Names a failure rather than varying within one: ENOENT, TS2322, E0502, 127 (a status number the
# masking kept), HTTP, IOException, java.net.ConnectException:.
_CODE_LIKE = re.compile(
    r"^[^A-Za-z0-9]*(?:[A-Z][A-Z0-9_]*|[0-9]{1,4}|[A-Za-z]*[A-Z][0-9]{2,}[A-Za-z]*|"
    r"(?:[A-Za-z_$][A-Za-z0-9_$]*\.)*[A-Za-z_$][A-Za-z0-9_$]*(?:Exception|Error|Errno|Warning)|"
    r"(?:[A-Za-z_$][A-Za-z0-9_$]*\.)+[A-Z][A-Z0-9_]*)"
    r"[^A-Za-z0-9]*$"
)
# Looks like a value: digits, a masked placeholder, a path or address character, a dotted or
# colon-joined name.
_VALUE_LIKE = re.compile(r"[0-9]|<[A-Z]+>|[/\\@#]|[A-Za-z0-9][.:][A-Za-z0-9]")
# Words after which the next token is a value (compared lower-cased, trailing ``:``/``=`` dropped).
_VALUE_KEYS = frozenset(
    """user username uid gid pid ppid tid host hostname node port branch ref pod container image
    workspace repo repository account owner bucket topic rhost ruser logname tty""".split()  # noqa: SIM905
)
_KEY_PREFIX = re.compile(r"^(.*?[=:])[^=:]*$")  # "user=root" -> "user="


def split_tokens(masked: str) -> tuple[str, ...]:
    """The tokens of a masked message; a run of one masked token repeated is one token.

    ``node-<NUM> node-<NUM> node-<NUM>`` is a list of values whatever its length: the masking
    collapses runs of bare placeholders, this collapses runs of equal tokens that hold one.
    """
    tokens = masked.split(" ")
    if "<" in masked and any(map(str.__eq__, tokens, tokens[1:])):
        kept = [tokens[0]]
        for token in tokens[1:]:
            if token != kept[-1] or "<" not in token:
                kept.append(token)
        tokens = kept
    return tuple(tokens)


# An error code in a token: error[E0308]:, (TS2345), SC2086:, but not the A10 of [Thunderbird_A10].
_EMBEDDED_CODE = re.compile(r"(?:^|[\[(])[A-Z]{1,5}[0-9]{2,5}(?:[\])]|:|,|$)")


# A short name with one trailing digit names a device or a variant: eth0, alt0, sda1, tty2.
_DEVICE = re.compile(r"^[A-Za-z]+[0-9][^A-Za-z0-9]*$")


# A placeholder the masking wrote (<NUM>, <PATH>...) or the miner's <VAR>: a value, never a code.
_PLACEHOLDER = re.compile(r"<[A-Z]+>")

_EMPTY_VALUE = frozenset({"()", "[]", "{}", "''", '""', "<>"})  # a value given as nothing

# Token classes are asked for again and again (every group a token is in, at every split) and
# tokens repeat across messages: each distinct token is classified once.
_CACHE_LIMIT = 1 << 18
_code_cache: dict[str, bool] = {}
_value_cache: dict[str, bool] = {}


def is_code(token: str) -> bool:
    """Whether ``token`` names a failure (``ENOENT``, ``TS2322``, ``IOException``): such columns split."""
    found = _code_cache.get(token)
    if found is None:
        value = token.rsplit("=", 1)[-1]  # action=ACTION_DOWN, -> ACTION_DOWN,
        code = bool(_CODE_LIKE.match(value) or _EMBEDDED_CODE.search(token))
        found = code and not _PLACEHOLDER.search(value)
        if len(_code_cache) >= _CACHE_LIMIT:
            _code_cache.clear()
        _code_cache[token] = found
    return found


def is_value_like(token: str) -> bool:
    """Whether ``token`` has the shape of a value (digits, a placeholder, a path or dotted name)."""
    found = _value_cache.get(token)
    if found is None:
        found = (bool(_VALUE_LIKE.search(token)) and not _DEVICE.match(token)) or token in _EMPTY_VALUE
        if len(_value_cache) >= _CACHE_LIMIT:
            _value_cache.clear()
        _value_cache[token] = found
    return found


def _common_prefix(values: Sequence[str]) -> str:
    first, last = min(values), max(values)
    i = 0
    while i < len(first) and i < len(last) and first[i] == last[i]:
        i += 1
    return first[:i]


def _generalise(values: Sequence[str]) -> str:
    """``<VAR>`` with the punctuation-bounded prefix and suffix all ``values`` share."""
    prefix = _common_prefix(values)
    # Cut back to just after a delimiter, never inside a word or a <PLACEHOLDER>.
    cut = max((i + 1 for i, ch in enumerate(prefix) if ch in "=:/([{'\",;@"), default=0)
    prefix = prefix[:cut]
    if "<" in prefix and ">" not in prefix[prefix.rindex("<") :]:
        prefix = prefix[: prefix.rindex("<")]
    rest = [v[len(prefix) :] for v in values]
    suffix = _common_prefix([v[::-1] for v in rest])[::-1]
    cut = min((i for i, ch in enumerate(suffix) if ch in ")]}'\",;:."), default=len(suffix))
    suffix = suffix[cut:]
    if ">" in suffix and "<" not in suffix[: suffix.index(">")]:
        suffix = suffix[suffix.index(">") + 1 :]
    if any(len(v) < len(prefix) + len(suffix) for v in values):
        return VAR
    return prefix + VAR + suffix


def _siblings(values: Sequence[str]) -> bool:
    """Three or more values of one length that differ only in their last one or two characters.

    ``[LNKA]``/``[LNKB]``/``[LNKC]`` or ``R01``/``R02``/``R03`` enumerate instances of one thing;
    codes that name different failures differ more (``ENOENT``/``EACCES``, ``E0308``/``E0502``) or
    come in twos (``TS2322``/``TS2345``).
    """
    if len(values) < 3 or len({len(v) for v in values}) != 1:
        return False
    shared = _common_prefix(values)
    return len(shared) >= 2 and len(values[0]) - len(shared) <= 2


def _variable_because(values: Sequence[str], previous: str | None, *, first_column: bool) -> str | None:
    """Why a column whose rows show ``values`` is variable (``None``: it splits the group)."""
    if any(map(is_code, values)):
        return "siblings" if _siblings(values) else None
    if all(map(is_value_like, values)):
        return "shape"
    if previous is not None:
        key = previous.rstrip(":=").lower()
        if previous.endswith("=") or key in _VALUE_KEYS:
            return "key"
    prefix = _KEY_PREFIX.match(min(values))
    if prefix and all(v.startswith(prefix.group(1)) for v in values) and len(prefix.group(1)) > 1:
        return "key"
    # The first word names the event more often than not (Drain's assumption): ``git failure`` and
    # ``npm failure`` are two errors, whatever the count; only value-like first tokens generalise.
    if not first_column and len(values) >= MIN_DISTINCT_WORDS:
        return "count"
    return None


def mine_bucket(rows: list[tuple[str, ...]]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Template (as tokens) of every row of one bucket (rows of equal length, distinct)."""
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    # Row order never matters: a group's constant columns are the same in every row, and every
    # choice below is by value (fewest values, leftmost column, min/max), never by position.
    stack = [rows]
    while stack:
        group = stack.pop()
        if len(group) == 1:
            out[group[0]] = group[0]
            continue
        first = group[0]
        width = len(first)
        columns: list[tuple[int, list[str]]] = []
        for c, column in enumerate(zip(*group, strict=True)):
            seen = set(column)
            if len(seen) > 1:
                columns.append((c, list(seen)))
        varying = {c for c, _ in columns}
        variable: dict[int, list[str]] = {}
        split: tuple[int, int] | None = None
        by_count: list[int] = []
        for c, values in columns:
            previous = first[c - 1] if c > 0 and (c - 1) not in varying else None
            why = _variable_because(values, previous, first_column=c == 0)
            if why is None:
                if split is None or len(values) < split[0]:
                    split = (len(values), c)
            else:
                variable[c] = values
                if why == "count":
                    by_count.append(c)
        if split is None and len(by_count) > 1:
            # Word columns that change together (Bad file descriptor / No child processes) are a
            # phrase naming different events, not independent variables: split on them.
            combos = {tuple(row[c] for c in by_count) for row in group}
            if len(combos) == max(len(variable[c]) for c in by_count):
                split = min((len(variable[c]), c) for c in by_count)
        if split is None and 2 * len(variable) > width:
            # Most of the message would be <VAR>: too little left to call it one kind. Split on the
            # variable column with the fewest values instead (leftmost on a tie).
            split = min((len(values), c) for c, values in variable.items())
        if split is not None:
            c = split[1]
            parts: dict[str, list[tuple[str, ...]]] = defaultdict(list)
            for row in group:
                parts[row[c]].append(row)
            stack.extend(parts.values())
            continue
        template = tuple(_generalise(variable[c]) if c in variable else first[c] for c in range(width))
        for row in group:
            out[row] = template
    return out

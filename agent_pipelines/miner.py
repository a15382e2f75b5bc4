"""The template miner: which token positions of masked messages vary, learned from the whole set.

Masking (:mod:`agent_pipelines.masking`) replaces what is recognisably variable in one message. What
it cannot recognise (a function name, a user name, a branch, a word-like id) only gives itself away
across messages: many messages equal but for one position, with a different word there each time.
This module finds those positions, in the spirit of the public log parsers Drain (a tree over token
positions), Brain (frequency of a token at a position) and LogBatcher (a whole batch at once):

1. **Buckets.** Masked messages are split on spaces; messages with the same number of tokens form a
   bucket. Only *distinct* masked messages count: a message repeated a million times is one piece
   of evidence, so the result does not depend on how often or in which order messages arrive.
2. **Columns split or generalise.** In a bucket, a column (token position) on which messages
   differ is *variable* when

   * its values are all value-like (digits, placeholders, ``/``, ``\\``, ``@``, dotted or
     colon-joined names; not a device-like ``eth0``/``alt0``) and none is code-like, or
   * it follows a key that names a value (``user``, ``branch``, ``pid``..., ``key=`` or a shared
     ``key=`` prefix inside the token), or
   * it holds :data:`MIN_DISTINCT_WORDS` or more different words, none of them code-like, and is
     not the first token (which names the event more often than not, as Drain assumes) —
     unless several such word columns change together (``Bad file descriptor`` / ``No child
     processes``): a phrase naming different events, not independent variables;

   otherwise it *splits* the group: its few values are different kinds of event (``Connection
   established`` / ``Connection closed``). Code-like values (``ENOENT``, ``TS2322``, a status
   number the masking kept, ``IOException``, ``action=ACTION_DOWN``) split: they name the
   failure — unless three or more of them differ only in their last one or two characters
   (``[LNKA]``/``[LNKB]``/``[LNKC]``): those enumerate instances of one thing.
   The group is split on the splitting column with the fewest values (leftmost on a tie), and each
   part is judged again, so a column that looks variable only because two kinds are mixed in one
   group is decided inside each kind. A group with no splitting column left is one template, its
   variable columns written as :data:`VAR` (keeping a common ``key=`` prefix or suffix:
   ``user=<VAR>``).
3. **Across lengths.** A variable part can be several tokens long or missing (a list of nodes, an
   address given or not, a free-text reason). A run of one masked token repeated
   (``node-<NUM> node-<NUM>``) counts once; templates of different lengths that are equal once
   each run of value tokens is one value (their *skeleton*; a ``key=`` value keeps its key) are
   one template; and a message left alone in its bucket joins the most specific template of
   another length that matches it with each ``<VAR>`` standing for one or more tokens.

Every step is a function of the *set* of distinct masked messages, with ties broken by position and
then by text, so the result is deterministic and the same whether the set was given at once (batch)
or grew message by message (online: :meth:`TemplateMiner.add` re-mines only the buckets that
gained a message, then redoes the cheap step 3). One configuration serves every kind of text: no
threshold is tuned per data set.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["MIN_DISTINCT_WORDS", "VAR", "TemplateMiner"]

#: The placeholder of a position the miner found variable.
VAR = "<VAR>"
#: Distinct word values at which a column counts as variable without any other evidence.
MIN_DISTINCT_WORDS = 4
#: Distinct masked messages an online model keeps (the detector state must stay small). Past it,
#: new messages are matched against the templates learned so far but not learned from.
DEFAULT_LIMIT = 10_000
# 2: the messages are masked by the rules of issue 9 (one <TIME>, <REF>, fewer kept numbers); a
# model saved by an older version holds messages masked otherwise, so it starts afresh.
MODEL_VERSION = 2

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


def _tokens(masked: str) -> tuple[str, ...]:
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


def _is_code(token: str) -> bool:
    found = _code_cache.get(token)
    if found is None:
        value = token.rsplit("=", 1)[-1]  # action=ACTION_DOWN, -> ACTION_DOWN,
        code = bool(_CODE_LIKE.match(value) or _EMBEDDED_CODE.search(token))
        found = code and not _PLACEHOLDER.search(value)
        if len(_code_cache) >= _CACHE_LIMIT:
            _code_cache.clear()
        _code_cache[token] = found
    return found


def _value_like(token: str) -> bool:
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
    if any(map(_is_code, values)):
        return "siblings" if _siblings(values) else None
    if all(map(_value_like, values)):
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


def _mine_bucket(rows: list[tuple[str, ...]]) -> dict[tuple[str, ...], tuple[str, ...]]:
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


def _collapse(tokens: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for t in tokens:
        if t == VAR and out and out[-1] == VAR:
            continue
        out.append(t)
    return tuple(out)


def _pattern(tokens: Sequence[str]) -> re.Pattern[str]:
    parts = []
    for t in tokens:
        if VAR in t:
            pre, _, post = t.partition(VAR)
            parts.append(re.escape(pre) + r"[^ ]+(?: [^ ]+)*?" + re.escape(post))
        else:
            parts.append(re.escape(t))
    return re.compile(" ".join(parts))


_RUN = "\x00"  # a run of value tokens in a skeleton


def _is_value(token: str) -> bool:
    return VAR in token or (_value_like(token) and not _is_code(token))


_KEYED = re.compile(r"^\(?[A-Za-z_][A-Za-z0-9_.-]*[=:]")  # user=<USER>, rhost=<IP>, (uid=<NUM>)


def _skeleton(template: tuple[str, ...]) -> tuple[str, ...] | None:
    """``template`` with each run of value tokens as one :data:`_RUN` (``None``: too little else).

    Two templates of different lengths with one skeleton differ only in how many values stand
    somewhere (a list of nodes, an address given or not): one event. A value after a key
    (``user=<USER>``) keeps its key: ``rhost=<IP>`` and ``rhost=<IP> user=<USER>`` are two events. A
    skeleton needs two constant tokens and at least as many constants as runs, so that
    mostly-variable messages stay apart.
    """
    out: list[str] = []
    constants = runs = 0
    for token in template:
        key = _KEYED.match(token)
        if key and _is_value(token):
            out.append(key.group() + _RUN)
            constants += 1
        elif _is_value(token):
            if not out or out[-1] != _RUN:
                out.append(_RUN)
                runs += 1
        else:
            out.append(token)
            constants += 1
    if constants < 2 or constants < runs:
        return None
    return tuple(out)


def _segments(template: tuple[str, ...]) -> list[tuple[str, ...]]:
    """``template`` cut as :func:`_skeleton` cuts it: one segment per skeleton token."""
    out: list[tuple[str, ...]] = []
    in_run = False
    for token in template:
        if _is_value(token) and not _KEYED.match(token):
            if in_run:
                out[-1] = (*out[-1], token)
            else:
                out.append((token,))
            in_run = True
        else:
            out.append((token,))
            in_run = False
    return out


def _join_runs(skeleton: tuple[str, ...], templates: list[tuple[str, ...]]) -> tuple[str, ...]:
    """One template for ``templates`` (all of ``skeleton``): what they all share is kept, else VAR."""
    cut = [_segments(t) for t in templates]
    out: list[str] = []
    for i, token in enumerate(skeleton):
        seen = {segments[i] for segments in cut}
        if len(seen) == 1:
            out.extend(next(iter(seen)))
        elif token.endswith(_RUN):
            out.append(token[: -len(_RUN)] + VAR)
        else:
            out.append(VAR)
    return tuple(out)


class TemplateMiner:
    """Learns templates from masked messages; gives each masked message its template.

    Batch: ``TemplateMiner(all_masked)``. Online: ``miner.add(new_masked)`` as messages arrive, with
    the model kept between runs through :meth:`to_json` / :meth:`from_json`. Both give the same
    templates for the same set of messages (see the module docstring). Messages must already be
    masked (:func:`agent_pipelines.masking.mask`): the miner only reasons about tokens.
    """

    def __init__(self, masked: Iterable[str] = (), *, limit: int | None = None) -> None:
        self.limit = limit
        self._buckets: dict[int, set[tuple[str, ...]]] = {}
        self._count = 0
        self._dirty: set[int] = set()
        self._bucket_templates: dict[int, dict[tuple[str, ...], tuple[str, ...]]] = {}
        self._final: dict[tuple[str, ...], str] = {}
        self._patterns: list[tuple[int, str, frozenset[int], re.Pattern[str]]] = []
        self._stale = False
        self.add(masked)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, masked: str) -> bool:
        tokens = _tokens(masked)
        return tokens in self._buckets.get(len(tokens), ())

    # -- learning ---------------------------------------------------------------------------

    def add(self, masked: Iterable[str]) -> list[str]:
        """Learn from ``masked`` messages (duplicates and known ones are free); returns the new ones."""
        return [text for text, _ in self._add((text, _tokens(text)) for text in masked)]

    def _add(self, messages: Iterable[tuple[str, tuple[str, ...]]]) -> list[tuple[str, tuple[str, ...]]]:
        added = []
        for text, tokens in messages:
            bucket = self._buckets.setdefault(len(tokens), set())
            if tokens in bucket:
                continue
            if self.limit is not None and self._count >= self.limit:
                continue
            bucket.add(tokens)
            self._count += 1
            self._dirty.add(len(tokens))
            added.append((text, tokens))
        if added:
            self._stale = True
        return added

    def learn(self, masked: Sequence[str]) -> list[str]:
        """:meth:`add` ``masked``, then :meth:`templates` of them: the batch path, tokenising once."""
        tokens = [_tokens(text) for text in masked]
        self._add(zip(masked, tokens, strict=True))
        self._refresh()
        final = self._final
        out = []
        for text, row in zip(masked, tokens, strict=True):
            found = final.get(row)
            out.append(found if found is not None else self.template(text))
        return out

    def _refresh(self) -> None:
        if not self._stale:
            return
        for length in sorted(self._dirty):
            self._bucket_templates[length] = _mine_bucket(list(self._buckets[length]))
        self._dirty.clear()
        # Step 3: across lengths. Templates equal but for runs of values (a list, an optional
        # address) are one template.
        members: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
        for mapping in self._bucket_templates.values():
            for row, template in mapping.items():
                members[template].append(row)
        by_skeleton: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
        for template in members:
            skeleton = _skeleton(template)
            if skeleton is not None:
                by_skeleton[skeleton].append(template)
        merged: dict[tuple[str, ...], tuple[str, ...]] = {}
        for skeleton, templates in by_skeleton.items():
            lengths = [len(t) for t in templates]
            # Only across lengths: templates of one length were told apart by the bucket miner.
            if len(templates) > 1 and len(set(lengths)) == len(lengths):
                joined = _join_runs(skeleton, templates)
                for template in templates:
                    merged[template] = joined
        final: dict[tuple[str, ...], str] = {}
        singles: list[tuple[str, ...]] = []
        patterns: dict[tuple[str, ...], set[int]] = defaultdict(set)
        for template, rows in members.items():
            shown = _collapse(merged.get(template, template))
            text = " ".join(shown)
            for row in rows:
                final[row] = text
            if len(rows) == 1 and template == rows[0] and template not in merged:
                singles.append(rows[0])
            elif 0 < 2 * sum(VAR in t for t in shown) <= len(shown):
                patterns[shown].update(len(row) for row in rows)
        # A message alone in its bucket joins the most specific matching template of another length.
        self._patterns = sorted(
            (
                (-sum(len(t) for t in tpl if VAR not in t), " ".join(tpl), frozenset(lengths), _pattern(tpl))
                for tpl, lengths in patterns.items()
            ),
            key=lambda p: (p[0], p[1]),
        )
        self._first: dict[str, list[int]] = defaultdict(list)
        for i, (_, text, _, _) in enumerate(self._patterns):
            first = text.split(" ", 1)[0]
            self._first["" if VAR in first else first].append(i)
        for row in sorted(singles):
            match = self._match(row, exclude_length=len(row))
            if match is not None:
                final[row] = match
        self._final = final
        self._stale = False

    def _match(self, row: tuple[str, ...], *, exclude_length: int | None) -> str | None:
        text = " ".join(row)
        # Only patterns whose first token is this row's, or a variable, can match it.
        candidates = sorted(self._first.get(row[0], []) + self._first.get("", []))
        for i in candidates:
            _, template, lengths, pattern = self._patterns[i]
            if exclude_length is not None and exclude_length in lengths:
                continue
            if pattern.fullmatch(text):
                return template
        return None

    # -- answers ----------------------------------------------------------------------------

    def template(self, masked: str) -> str:
        """The template of one masked message (learned or not; an unknown one is not learned)."""
        self._refresh()
        tokens = _tokens(masked)
        found = self._final.get(tokens)
        if found is not None:
            return found
        match = self._match(tokens, exclude_length=None)
        return match if match is not None else masked

    def templates(self, masked: Iterable[str]) -> list[str]:
        """:meth:`template` of each of ``masked``, in order."""
        self._refresh()
        final = self._final
        out = []
        for m in masked:
            found = final.get(_tokens(m))
            out.append(found if found is not None else self.template(m))
        return out

    def mapping(self) -> dict[str, str]:
        """masked message -> template, for every message learned."""
        self._refresh()
        return {" ".join(row): template for row, template in self._final.items()}

    # -- persistence ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The model as plain JSON: the distinct masked messages (the templates follow from them)."""
        messages = sorted(" ".join(row) for bucket in self._buckets.values() for row in bucket)
        return {"version": MODEL_VERSION, "limit": self.limit, "messages": messages}

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None, *, limit: int | None = DEFAULT_LIMIT) -> TemplateMiner:
        """A model saved by :meth:`to_json`; an empty one for ``None`` or an unknown version."""
        if not raw or raw.get("version") != MODEL_VERSION:
            return cls(limit=limit)
        return cls((str(m) for m in raw.get("messages") or ()), limit=raw.get("limit", limit))

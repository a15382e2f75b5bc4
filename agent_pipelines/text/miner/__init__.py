"""The template miner: which token positions of masked messages vary, learned from the whole set.

Masking (:mod:`agent_pipelines.text.masking`) replaces what is recognisably variable in one message. What
it cannot recognise (a function name, a user name, a branch, a word-like id) only gives itself away
across messages: many messages equal but for one position, with a different word there each time.
The miner finds those positions, in the spirit of the public log parsers Drain (a tree over token
positions), Brain (frequency of a token at a position) and LogBatcher (a whole batch at once). This
module holds the model (what is learned, persisted, answered); :mod:`agent_pipelines.text.miner.columns`
steps 1 and 2, :mod:`agent_pipelines.text.miner.lengths` step 3:

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

from agent_pipelines.text.miner.columns import MIN_DISTINCT_WORDS, VAR, mine_bucket, split_tokens
from agent_pipelines.text.miner.lengths import collapse_vars, merge_across_lengths, var_pattern

__all__ = ["MIN_DISTINCT_WORDS", "VAR", "TemplateMiner"]

#: Distinct masked messages an online model keeps (the detector state must stay small). Past it,
#: new messages are matched against the templates learned so far but not learned from.
DEFAULT_LIMIT = 10_000
# 2: the messages are masked by the rules of issue 9 (one <TIME>, <REF>, fewer kept numbers); a
# model saved by an older version holds messages masked otherwise, so it starts afresh.
MODEL_VERSION = 2


class TemplateMiner:
    """Learns templates from masked messages; gives each masked message its template.

    Batch: ``TemplateMiner(all_masked)``. Online: ``miner.add(new_masked)`` as messages arrive, with
    the model kept between runs through :meth:`to_json` / :meth:`from_json`. Both give the same
    templates for the same set of messages (see the module docstring). Messages must already be
    masked (:func:`agent_pipelines.text.masking.mask`): the miner only reasons about tokens.
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
        tokens = split_tokens(masked)
        return tokens in self._buckets.get(len(tokens), ())

    # -- learning ---------------------------------------------------------------------------

    def add(self, masked: Iterable[str]) -> list[str]:
        """Learn from ``masked`` messages (duplicates and known ones are free); returns the new ones."""
        return [text for text, _ in self._add((text, split_tokens(text)) for text in masked)]

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
        tokens = [split_tokens(text) for text in masked]
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
            self._bucket_templates[length] = mine_bucket(list(self._buckets[length]))
        self._dirty.clear()
        # Step 3: across lengths (see agent_pipelines.text.miner.lengths).
        members: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
        for mapping in self._bucket_templates.values():
            for row, template in mapping.items():
                members[template].append(row)
        merged = merge_across_lengths(members)
        final: dict[tuple[str, ...], str] = {}
        singles: list[tuple[str, ...]] = []
        patterns: dict[tuple[str, ...], set[int]] = defaultdict(set)
        for template, rows in members.items():
            shown = collapse_vars(merged.get(template, template))
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
                (
                    -sum(len(t) for t in tpl if VAR not in t),
                    " ".join(tpl),
                    frozenset(lengths),
                    var_pattern(tpl),
                )
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
        tokens = split_tokens(masked)
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
            found = final.get(split_tokens(m))
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

"""The template miner, step 3: templates of different lengths that are one event.

A variable part can be several tokens long or missing (a list of nodes, an address given or not, a
free-text reason). Templates equal once each run of value tokens counts as one value (their
*skeleton*) are merged, and a message alone in its bucket can match a template of another length
with each ``<VAR>`` standing for one or more tokens (:func:`var_pattern`). See
:mod:`agent_pipelines.text.miner` for the whole algorithm.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from agent_pipelines.text.miner.columns import VAR, is_code, is_value_like

__all__ = ["collapse_vars", "join_runs", "merge_across_lengths", "skeleton", "var_pattern"]


def collapse_vars(tokens: Sequence[str]) -> tuple[str, ...]:
    """``tokens`` with each run of bare :data:`VAR` as one: a variable part of any length."""
    out: list[str] = []
    for t in tokens:
        if t == VAR and out and out[-1] == VAR:
            continue
        out.append(t)
    return tuple(out)


def var_pattern(tokens: Sequence[str]) -> re.Pattern[str]:
    """A regex for messages of ``tokens``, each :data:`VAR` standing for one or more tokens."""
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
    return VAR in token or (is_value_like(token) and not is_code(token))


_KEYED = re.compile(r"^\(?[A-Za-z_][A-Za-z0-9_.-]*[=:]")  # user=<USER>, rhost=<IP>, (uid=<NUM>)


def skeleton(template: tuple[str, ...]) -> tuple[str, ...] | None:
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
    """``template`` cut as :func:`skeleton` cuts it: one segment per skeleton token."""
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


def join_runs(shape: tuple[str, ...], templates: list[tuple[str, ...]]) -> tuple[str, ...]:
    """One template for ``templates`` (all of skeleton ``shape``): what they all share is kept, else VAR."""
    cut = [_segments(t) for t in templates]
    out: list[str] = []
    for i, token in enumerate(shape):
        seen = {segments[i] for segments in cut}
        if len(seen) == 1:
            out.extend(next(iter(seen)))
        elif token.endswith(_RUN):
            out.append(token[: -len(_RUN)] + VAR)
        else:
            out.append(VAR)
    return tuple(out)


def merge_across_lengths(templates: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Template -> the one template it joins, for templates that differ only in runs of values.

    Templates equal but for how many values stand somewhere (a list, an optional address: one
    :func:`skeleton`) are one template; only across lengths, because templates of one length were
    told apart by the bucket miner. Templates that join nothing are left out.
    """
    by_skeleton: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for template in templates:
        shape = skeleton(template)
        if shape is not None:
            by_skeleton[shape].append(template)
    merged: dict[tuple[str, ...], tuple[str, ...]] = {}
    for shape, group in by_skeleton.items():
        lengths = [len(t) for t in group]
        if len(group) > 1 and len(set(lengths)) == len(lengths):
            joined = join_runs(shape, group)
            for template in group:
                merged[template] = joined
    return merged

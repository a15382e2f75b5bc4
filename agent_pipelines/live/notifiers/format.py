"""Turn alerts and summaries into Telegram HTML messages.

Why a dedicated module: every value we interpolate comes from agent logs (attacker- or
accident-controlled text), so each one is **redacted, then HTML-escaped** here, in one place, before
it reaches Telegram. Telegram rejects a whole message on a single stray ``<`` (``can't parse
entities``), and would happily post a leaked token, so neither step is optional.

Telegram limits a message to 4096 characters *after* entity parsing, counted in UTF-16 code units.
We count the raw HTML (tags and entities included) in UTF-16 code units, which is always at least
the parsed length, so a chunk we accept is never too long for Telegram.

Public functions:

* :func:`format_alert` — one alert, full form (the original Telegram monitor's layout).
* :func:`format_digest` — many alerts from one run, packed into as few messages as possible.
* :func:`format_text` — any other summary (weekly report...), escaped, redacted and split.
* :func:`split_html` (from :mod:`~agent_pipelines.live.notifiers.html_split`) — split already-safe HTML
  into ≤ limit chunks without cutting tags/entities.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from agent_pipelines.live.notifiers.html_split import (
    TELEGRAM_MAX_MESSAGE_LENGTH,
    split_html,
    telegram_len,
)
from agent_pipelines.text.redaction import redact

"""Telegram's hard limit for ``sendMessage`` text, in UTF-16 code units after entity parsing."""

_MAX_VALUE_CHARS = 300
"""Long values (sample error messages) are cut so one alert cannot crowd out a digest."""

_COMMON_KEYS = frozenset(
    {"alert_id", "timestamp", "type", "attempt_id", "task_id", "executor", "recommendation", "severity"}
)

_TITLES: dict[str, tuple[str, str]] = {
    # type -> (emoji, title); matches the original Telegram monitor's wording where it had one.
    "error_loop": ("⚠️", "ERROR LOOP DETECTED"),
    "tool_loop": ("⚠️", "TOOL LOOP DETECTED"),
    "stuck_agent": ("⏳", "STUCK AGENT"),
    "cost_anomaly": ("ℹ️", "COST ANOMALY"),
    "excessive_restarts": ("🔁", "EXCESSIVE RESTARTS"),
    "failed_session_high_errors": ("❌", "FAILED SESSION WITH ERRORS"),
    "failed_session_errors": ("❌", "FAILED SESSION WITH ERRORS"),
    "failed_with_errors": ("❌", "FAILED SESSION WITH ERRORS"),
}
_FAILED_SESSION_TYPES = ("failed_session_high_errors", "failed_session_errors", "failed_with_errors")
_SEVERITY_EMOJI = {"critical": "🚨", "high": "🚨", "error": "⚠️", "warning": "⚠️", "medium": "⚠️"}
_DEFAULT_EMOJI = "🔔"


def _clean(value: Any, limit: int = _MAX_VALUE_CHARS) -> str:
    """Redact, shorten, then HTML-escape one interpolated value (order matters: redact the raw text)."""
    text = redact("" if value is None else str(value))
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True)


def _num(value: Any) -> float | None:
    try:
        if value is None or isinstance(value, bool):
            return None
        return float(value)
    except (TypeError, ValueError):
        return None


def _fmt_count(value: Any) -> str:
    number = _num(value)
    if number is None:
        return _clean(value if value is not None else "?")
    return str(int(number)) if number == int(number) else f"{number:g}"


def _fmt_window(ms: Any) -> str:
    """``600000`` -> ``10 min``; ``90000`` -> ``1.5 min``; ``30000`` -> ``30 s``."""
    number = _num(ms)
    if number is None:
        return "?"
    seconds = number / 1000
    if seconds < 60:
        return f"{seconds:g} s"
    minutes = round(seconds / 60, 1)
    return f"{minutes:g} min"


def _fmt_minutes(ms: Any) -> str:
    number = _num(ms)
    if number is None:
        return "?"
    minutes = round(number / 60000, 1)
    return f"{minutes:g} minute" if minutes == 1 else f"{minutes:g} minutes"


def _fmt_usd(value: Any) -> str:
    number = _num(value)
    return f"${number:,.2f}" if number is not None else "?"


def _title(alert: Mapping[str, Any]) -> tuple[str, str]:
    alert_type = str(alert.get("type") or "alert")
    if alert_type in _TITLES:
        return _TITLES[alert_type]
    emoji = _SEVERITY_EMOJI.get(str(alert.get("severity") or "").lower(), _DEFAULT_EMOJI)
    return emoji, re.sub(r"[_\-\s]+", " ", alert_type).strip().upper() or "ALERT"


def _detail_lines(alert: Mapping[str, Any]) -> list[str]:
    """Type-specific lines (already escaped). Unknown types list their extra fields generically."""
    alert_type = alert.get("type")
    if alert_type == "error_loop":
        lines = [
            f"Error: {_clean(alert.get('error_fingerprint') or '?')} "
            f"({_fmt_count(alert.get('occurrences'))} occurrences in {_fmt_window(alert.get('window_ms'))})"
        ]
        if alert.get("sample_message"):
            lines.append(f"Sample: <code>{_clean(alert.get('sample_message'), 200)}</code>")
        return lines
    if alert_type == "tool_loop":
        return [
            f"Tool: {_clean(alert.get('tool_name') or '?')} "
            f"({_fmt_count(alert.get('occurrences'))} calls in {_fmt_window(alert.get('window_ms'))})"
        ]
    if alert_type == "stuck_agent":
        return [
            f"Idle: {_fmt_minutes(alert.get('idle_time_ms'))} "
            f"(threshold: {_fmt_minutes(alert.get('threshold_ms'))})"
        ]
    if alert_type == "cost_anomaly":
        lines = [
            f"Cost: {_fmt_usd(alert.get('cost_usd'))} (threshold: {_fmt_usd(alert.get('threshold_usd'))})"
        ]
        if alert.get("duration_ms") is not None:
            lines.append(f"Duration: {_fmt_minutes(alert.get('duration_ms'))}")
        return lines
    if alert_type == "excessive_restarts":
        return [f"Restarts: {_fmt_count(alert.get('restart_count'))}"]
    if alert_type in _FAILED_SESSION_TYPES:
        lines = [f"Errors: {_fmt_count(alert.get('error_count'))}"]
        fingerprints = alert.get("error_fingerprints")
        if isinstance(fingerprints, list) and fingerprints:
            lines.append(f"Fingerprints: {_clean(', '.join(str(f) for f in fingerprints[:5]), 200)}")
        return lines
    lines = []
    for key in sorted(k for k in alert if k not in _COMMON_KEYS)[:10]:
        label = re.sub(r"[_\-]+", " ", str(key)).strip().capitalize()
        lines.append(f"{_clean(label, 60)}: {_clean(alert[key], 200)}")
    return lines


def format_alert(alert: Mapping[str, Any]) -> str:
    """One alert as a full Telegram HTML message, e.g.::

        ⚠️ <b>ERROR LOOP DETECTED</b>
        Attempt: ve-a1b2-implement-auth
        Executor: CODEX
        Error: git_push_failed (4 occurrences in 10 min)
        Recommendation: trigger_ai_autofix

    Every value is redacted and escaped; missing fields degrade to ``?`` or are omitted rather than
    failing, because an alert that cannot be formatted is an alert that is lost.
    """
    emoji, title = _title(alert)
    lines = [f"{emoji} <b>{html.escape(title)}</b>"]
    lines.append(f"Attempt: {_clean(alert.get('attempt_id') or '?')}")
    if alert.get("executor"):
        lines.append(f"Executor: {_clean(str(alert['executor']).upper())}")
    lines.extend(_detail_lines(alert))
    if alert.get("recommendation"):
        lines.append(f"Recommendation: {_clean(alert['recommendation'])}")
    message = "\n".join(lines)
    # A single alert is bounded by _clean's truncation, but stay safe for odd unknown types.
    return split_html(message)[0] if telegram_len(message) > TELEGRAM_MAX_MESSAGE_LENGTH else message


def _compact_summary(alert: Mapping[str, Any]) -> str:
    """The short type-specific part of a digest line (escaped)."""
    alert_type = alert.get("type")
    if alert_type == "error_loop":
        return (
            f"{_clean(alert.get('error_fingerprint') or '?', 120)} ×{_fmt_count(alert.get('occurrences'))}"
            f" in {_fmt_window(alert.get('window_ms'))}"
        )
    if alert_type == "tool_loop":
        return (
            f"{_clean(alert.get('tool_name') or '?', 80)} ×{_fmt_count(alert.get('occurrences'))}"
            f" in {_fmt_window(alert.get('window_ms'))}"
        )
    if alert_type == "stuck_agent":
        return f"idle {_fmt_minutes(alert.get('idle_time_ms'))}"
    if alert_type == "cost_anomaly":
        return f"{_fmt_usd(alert.get('cost_usd'))} (threshold {_fmt_usd(alert.get('threshold_usd'))})"
    if alert_type == "excessive_restarts":
        return f"{_fmt_count(alert.get('restart_count'))} restarts"
    if alert_type in _FAILED_SESSION_TYPES:
        return f"{_fmt_count(alert.get('error_count'))} errors"
    extras = [
        f"{_clean(k, 40)}={_clean(alert[k], 60)}" for k in sorted(k for k in alert if k not in _COMMON_KEYS)
    ]
    return ", ".join(extras[:4])


def format_alert_compact(alert: Mapping[str, Any]) -> str:
    """One alert as a two-line digest entry (escaped HTML)."""
    emoji, title = _title(alert)
    title = title.removesuffix(" DETECTED")
    head = f"{emoji} <b>{html.escape(title)}</b> · <code>{_clean(alert.get('attempt_id') or '?', 120)}</code>"
    if alert.get("executor"):
        head += f" · {_clean(str(alert['executor']).upper(), 40)}"
    detail = _compact_summary(alert)
    if alert.get("recommendation"):
        detail = (
            f"{detail} → {_clean(alert['recommendation'], 80)}" if detail else _clean(alert["recommendation"])
        )
    return f"{head}\n    {detail}" if detail else head


def _digest_header(total: int, type_counts: Counter[str], part: int, parts: int) -> str:
    noun = "alert" if total == 1 else "alerts"
    header = f"🚨 <b>{total} agent {noun}</b>"
    if parts > 1:
        header += f" ({part}/{parts})"
    if part == 1 and type_counts:
        summary = ", ".join(f"{n}× {html.escape(t.replace('_', ' '))}" for t, n in type_counts.most_common())
        header += f"\n{summary}"
    return header + "\n\n"


def format_digest(alerts: Sequence[Mapping[str, Any]], limit: int = TELEGRAM_MAX_MESSAGE_LENGTH) -> list[str]:
    """Several alerts from one run → one digest message (or as few as fit in ``limit`` each).

    One alert returns its full :func:`format_alert` form; none returns ``[]``. Alerts are packed in
    order, greedily; with a fixed capacity per message, greedy packing of an ordered list is optimal
    in the number of messages. The header carries ``(i/n)`` when split, and we repack until the
    header width we reserved matches the real part count.
    """
    if not alerts:
        return []
    if len(alerts) == 1:
        return [format_alert(alerts[0])]
    type_counts: Counter[str] = Counter(str(a.get("type") or "alert") for a in alerts)
    blocks = [format_alert_compact(a) for a in alerts]
    separator = "\n\n"
    parts_guess = 1
    for _ in range(5):

        def header_for(i: int, parts: int = parts_guess) -> str:
            return _digest_header(len(alerts), type_counts, i + 1, parts)

        chunks = _pack_blocks(
            blocks,
            separator,
            header_for,
            limit,
        )
        if len(chunks) == parts_guess:
            break
        parts_guess = len(chunks)
    parts = len(chunks)
    return [
        _digest_header(len(alerts), type_counts, i + 1, parts) + separator.join(chunk)
        for i, chunk in enumerate(chunks)
    ]


def _pack_blocks(
    blocks: Sequence[str], separator: str, header_for: Callable[[int], str], limit: int
) -> list[list[str]]:
    """Greedy in-order packing of blocks into chunks whose header + joined blocks ≤ ``limit``."""
    chunks: list[list[str]] = []
    current: list[str] = []
    size = telegram_len(header_for(0))
    sep_len = telegram_len(separator)
    for block in blocks:
        block_len = telegram_len(block)
        budget = limit - telegram_len(header_for(len(chunks)))
        if block_len > budget:
            # Cannot happen with compact blocks (bounded fields), but never emit an oversize chunk.
            block = split_html(block, max(budget, 64))[0]
            block_len = telegram_len(block)
        added = block_len + (sep_len if current else 0)
        if current and size + added > limit:
            chunks.append(current)
            current = []
            size = telegram_len(header_for(len(chunks)))
            added = block_len
        current.append(block)
        size += added
    if current:
        chunks.append(current)
    return chunks


def format_text(
    text: str,
    *,
    title: str | None = None,
    preformatted: bool = False,
    limit: int = TELEGRAM_MAX_MESSAGE_LENGTH,
) -> list[str]:
    """Any plain-text summary (e.g. the weekly report) as safe Telegram HTML, split to fit.

    The text is redacted and escaped (it is treated as plain text, never as HTML); ``title`` becomes
    a bold first line; ``preformatted`` wraps the body in ``<pre>`` so tables keep their columns
    (the tag is closed and reopened across splits). Returns one string per message.
    """
    body = html.escape(redact(text), quote=False)
    if preformatted:
        body = f"<pre>{body}</pre>"
    if title:
        body = f"<b>{html.escape(redact(title), quote=False)}</b>\n{body}"
    return split_html(body, limit)


def alert_ids(alerts: Iterable[Mapping[str, Any]]) -> list[str]:
    """The alert ids of ``alerts`` (falls back to a content hash when an alert has none)."""
    import hashlib
    import json

    ids = []
    for alert in alerts:
        alert_id = alert.get("alert_id")
        if not alert_id:
            payload = json.dumps(alert, sort_keys=True, default=str).encode()
            alert_id = "sha256:" + hashlib.sha256(payload).hexdigest()[:32]
        ids.append(str(alert_id))
    return ids

"""Telegram's length rule and HTML-aware splitting.

Telegram limits a message to 4096 characters *after* entity parsing, counted in UTF-16 code units.
:func:`split_html` cuts already-safe HTML into chunks within that limit without ever cutting a tag or
an entity, closing the open tags at the end of a chunk and reopening them at the start of the next.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

TELEGRAM_MAX_MESSAGE_LENGTH = 4096


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, Telegram's unit (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


_ANY_TAG_RE = re.compile(r"<[^<>]*>")


def telegram_len(text: str, parse_mode: str | None = "HTML") -> int:
    """The length Telegram checks against the 4096 limit: UTF-16 units of the text *after* parsing.

    For HTML that means tags count zero and an entity counts as the character it stands for.
    """
    if parse_mode and parse_mode.upper() == "HTML":
        text = html.unescape(_ANY_TAG_RE.sub("", text))
    return utf16_len(text)


_TOKEN_RE = re.compile(r"<[^<>]*>|&#?[A-Za-z0-9]+;|\s+|[^<&\s]+|[<&]")
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*>")


def _closers(stack: Sequence[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _openers(stack: Sequence[tuple[str, str]]) -> str:
    return "".join(opening for _, opening in stack)


def _apply_tags(stack: list[tuple[str, str]], fragment: str) -> list[tuple[str, str]]:
    """The open-tag stack after ``fragment`` (a tolerant tracker; input is our own well-formed HTML)."""
    new_stack = list(stack)
    for match in _TAG_RE.finditer(fragment):
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            for i in range(len(new_stack) - 1, -1, -1):
                if new_stack[i][0] == name:
                    del new_stack[i:]
                    break
        else:
            new_stack.append((name, match.group(0)))
    return new_stack


def _units(fragment: str, budget: int) -> list[str]:
    """Break a fragment into indivisible units no longer than ``budget`` where possible.

    Tags and entities are never split. Words longer than the budget are cut by code point (Python
    strings are code points, so surrogate pairs are never separated).
    """
    units: list[str] = []
    for token in _TOKEN_RE.findall(fragment):
        if token.startswith(("<", "&")) or telegram_len(token) <= budget:
            units.append(token)
            continue
        piece: list[str] = []
        piece_len = 0
        for ch in token:
            ch_len = 2 if ord(ch) > 0xFFFF else 1
            if piece and piece_len + ch_len > budget:
                units.append("".join(piece))
                piece, piece_len = [], 0
            piece.append(ch)
            piece_len += ch_len
        if piece:
            units.append("".join(piece))
    return units


def split_html(text: str, limit: int = TELEGRAM_MAX_MESSAGE_LENGTH) -> list[str]:
    """Split well-formed Telegram HTML into chunks whose :func:`telegram_len` is at most ``limit``.

    Prefers line boundaries, then whitespace, then code points; never cuts inside a tag or an
    entity; closes tags still open at a cut and reopens them at the start of the next chunk, so
    each chunk parses on its own. Whitespace-only chunks are dropped (Telegram rejects empty text).
    Lengths are tracked incrementally, so splitting is linear in the input size.
    """
    if telegram_len(text) <= limit:
        return [text]
    if limit < 16:
        raise ValueError("limit too small to split HTML safely")
    chunks: list[str] = []
    parts: list[str] = []  # pieces of the current chunk, after the reopened-tags prefix
    size = 0  # telegram_len of the current chunk
    stack: list[tuple[str, str]] = []  # tags open at the end of the current chunk
    prefix = ""  # tags reopened at the start of the current chunk

    def flush() -> None:
        nonlocal parts, size, prefix
        body = "".join(parts).rstrip("\n")
        if _ANY_TAG_RE.sub("", body).strip():
            chunks.append(prefix + body + _closers(stack))
        parts, size, prefix = [], 0, _openers(stack)

    lines = text.split("\n")
    for index, line in enumerate(lines):
        segment = line + ("\n" if index < len(lines) - 1 else "")
        seg_len = telegram_len(segment)
        if parts and size + seg_len > limit:
            flush()
        if size + seg_len <= limit:
            parts.append(segment)
            size += seg_len
            stack = _apply_tags(stack, segment)
            continue
        # The line alone is too long: pack it unit by unit (words, tags, entities, code points).
        for unit in _units(segment, limit):
            unit_len = telegram_len(unit)
            if parts and size + unit_len > limit:
                flush()
            parts.append(unit)
            size += unit_len
            stack = _apply_tags(stack, unit)
    if parts:
        flush()
    return chunks or [text[:0]]


__all__ = ["TELEGRAM_MAX_MESSAGE_LENGTH", "split_html", "telegram_len", "utf16_len"]

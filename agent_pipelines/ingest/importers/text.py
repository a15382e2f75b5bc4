"""Small helpers the transcript sources share: clipping text, shrinking tool parameters, naming
tasks, classifying API errors, reading exit codes and timestamps."""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path
from typing import Any

from agent_pipelines.core.contract import parse_timestamp

MESSAGE_CHARS = 4000  # an error message or prompt is for reading and clustering, not archiving
PARAM_CHARS = 500  # tool parameters: enough to see what was done (a whole written file is not)

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def shrink(value: Any, limit: int = PARAM_CHARS, depth: int = 0) -> Any:
    """Tool parameters small enough for an event: long strings cut, deep nesting summarized."""
    if isinstance(value, str):
        return clip(value, limit)
    if depth >= 4:
        return f"<{type(value).__name__}>"
    if isinstance(value, dict):
        return {str(k): shrink(v, limit, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list):
        return [shrink(v, limit, depth + 1) for v in value[:50]]
    return value


def classify_api_error(text: str) -> str:
    """A category for an API failure, from its text (the formats give no code we can rely on)."""
    low = text.lower()
    if "rate limit" in low or "rate_limit" in low or " 429" in low or "usage limit" in low or "quota" in low:
        return "rate_limit"
    if any(k in low for k in ("401", "403", "authentication", "api key", "unauthorized", "/login", "oauth")):
        return "authentication"
    if any(
        k in low
        for k in (
            "prompt is too long",
            "context window",
            "context_length",
            "too many tokens",
            "maximum context",
        )
    ):
        return "context_overflow"
    if "overloaded" in low or " 529" in low or " 503" in low or " 500" in low:
        return "overloaded"
    return "api"


_EXIT = re.compile(r"(?i)\b(?:exit(?:ed)?(?: with)? code|exit status|process exited with code)[:\s]+(-?\d+)")


EXIT_LINE = re.compile(r"^\s*(?:Error: )?Exit code:? -?\d+\s*\n?", re.IGNORECASE)
TOOL_ERROR_TAG = re.compile(r"</?tool_use_error>")


def exit_code_in(text: str) -> int | None:
    match = _EXIT.search(text[:2000])
    return int(match.group(1)) if match else None


def task_for(project: str | None, prompt: str | None, session_id: str) -> tuple[str, str | None]:
    """``(task_id, task_title)``: the project folder and the first prompt name the task.

    The same prompt in the same project is the same task (a retry is another attempt at it).
    """
    name = _SLUG.sub("-", Path(project).name if project else "").strip("-.")[:60] or "session"
    if not prompt:
        return f"{name}-{hashlib.blake2b(session_id.encode(), digest_size=5).hexdigest()}", None
    digest = hashlib.blake2b(f"{project}\n{prompt.strip()}".encode(), digest_size=5).hexdigest()
    title = prompt.strip().splitlines()[0][:120] if prompt.strip() else None
    return f"{name}-{digest}", title


@functools.lru_cache(maxsize=1 << 14)
def to_ms(ts: str) -> int:
    """Epoch milliseconds of an ISO 8601 timestamp (``ValueError`` when it is not one); a record's
    timestamp is read several times while it is handled, so the last few thousand are remembered."""
    return int(parse_timestamp(ts).timestamp() * 1000)


def obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (transcripts' optional parts)."""
    return value if isinstance(value, dict) else {}


def seq(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def string(value: Any) -> str | None:
    """``value`` when it is a string, else ``None``."""
    return value if isinstance(value, str) else None

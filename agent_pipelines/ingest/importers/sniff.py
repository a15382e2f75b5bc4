"""Recognizing transcripts that are not ours, so a command can say which import to run.

A user of Claude Code, Codex, Gemini CLI, Copilot CLI, OpenCode or SWE-agent who points ``validate``,
``summary`` or ``detect`` at their transcripts would otherwise get a wall of ``'attempt_id' is
required``. This looks at the first lines of the JSONL files in a folder (and at the names of JSON
documents) and names what they are.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from agent_pipelines.core import paths
from agent_pipelines.core.archive import open_log
from agent_pipelines.core.reader import loads_any

SNIFF_FILES = 200
SNIFF_LINES = 5
SNIFF_BYTES = 256 << 10
CODEX_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted"})
CLAUDE_TYPES = frozenset({"user", "assistant", "summary", "system", "file-history-snapshot"})
LABELS = {
    "claude-code": "Claude Code transcripts",
    "codex": "Codex CLI rollouts",
    "copilot-cli": "GitHub Copilot CLI sessions",
    "gemini-cli": "Gemini CLI chats",
    "opencode": "OpenCode sessions",
    "swe-agent": "SWE-agent trajectories",
    "mini-swe-agent": "mini-swe-agent trajectories",
    "other": "foreign JSON lines",
}
IMPORTABLE = [k for k in LABELS if k != "other"]


def kind_of(record: object) -> str | None:
    """``claude-code``, ``codex``, ``ours`` or ``other`` for one decoded line (``None``: not JSON)."""
    if not isinstance(record, dict):
        return "other"
    if "event_type" in record and "attempt_id" in record:
        return "ours"
    kind = record.get("type")
    if not isinstance(kind, str):  # a list or an object as a type: no tool writes that
        return "other"
    if "." in kind and isinstance(record.get("data"), dict) and "parentId" in record:
        return "copilot-cli"
    if kind in CODEX_TYPES and isinstance(record.get("payload"), dict):
        return "codex"
    if kind in CLAUDE_TYPES and ("sessionId" in record or "leafUuid" in record or "uuid" in record):
        return "claude-code"
    return "other"


def file_kind(path: Path) -> str | None:
    """The kind most of a file's first lines have, or ``None`` (empty, unreadable, ours)."""
    votes: Counter[str] = Counter()
    try:
        # regular files only (a FIFO would hang, a symlink may lead out of the folder), and a bounded
        # read: one enormous first line is not read whole
        with open_log(path) as handle:
            for raw in handle.read(SNIFF_BYTES).splitlines()[: SNIFF_LINES * 4]:
                if not raw.strip():
                    continue
                try:
                    votes[kind_of(loads_any(raw))] += 1  # type: ignore[index]
                except ValueError:  # malformed, too deep, duplicate keys: not a vote
                    continue
                if sum(votes.values()) >= SNIFF_LINES:
                    break
    except OSError:
        return None
    if not votes:
        return None
    kind = votes.most_common(1)[0][0]
    return None if kind == "ours" else kind


def name_kind(path: Path) -> str | None:
    """The kind a JSON document's name and place say (these tools write whole files, not lines)."""
    name = path.name
    if name.endswith(".traj.json"):
        return "mini-swe-agent"
    if name.endswith(".traj"):
        return "swe-agent"
    if name.endswith(".json") and name.startswith("session-") and path.parent.name == "chats":
        return "gemini-cli"
    if name.endswith(".json") and path.parent.parent.name == "message" and path.parents[2].name == "storage":
        return "opencode"
    return None


def foreign_files(root: Path) -> dict[str, list[Path]]:
    """Files under ``root`` (not our archive or per-attempt transcripts) that are not agent events."""
    found: dict[str, list[Path]] = {}
    looked = 0
    skip = {paths.ARCHIVE_DIR, paths.SESSIONS_DIR}
    for dirpath, dirs, names in os.walk(root):
        if Path(dirpath) == root:
            dirs[:] = [d for d in dirs if d not in skip]
        for name in sorted(names):
            named = name_kind(Path(dirpath) / name)
            if named is not None:
                found.setdefault(named, []).append(Path(dirpath) / name)
                continue
            if not name.endswith(".jsonl") or name.startswith(
                ("ground-truth", "agent-alerts", "agent-metrics")
            ):
                continue
            looked += 1
            if looked > SNIFF_FILES:
                return found
            kind = file_kind(Path(dirpath) / name)
            if kind is not None:
                found.setdefault(kind, []).append(Path(dirpath) / name)
    return found


def foreign_hint(root: Path) -> str | None:
    """One or two lines saying what foreign files are here and which command imports them."""
    found = foreign_files(root)
    if not found:
        return None
    lines = []
    for kind in IMPORTABLE:
        files = found.get(kind)
        if files:
            folder = _common_folder(files)
            lines.append(
                f"{len(files)} file(s) here are {LABELS[kind]} (e.g. {files[0]}), not agent work events: "
                f"run `agent-pipelines import {kind} {folder}` to turn them into events of the log folder"
            )
    other = found.get("other")
    if other:
        lines.append(
            f"{len(other)} file(s) here hold JSON lines that are not agent work events (e.g. {other[0]}): "
            "see docs/contract.md for the event format"
        )
    return "\n".join(lines)


def _common_folder(files: list[Path]) -> Path:
    try:
        return Path(os.path.commonpath([str(f.parent) for f in files]))
    except ValueError:
        return files[0].parent


def with_import_hint(message: str, logs_dir: str | os.PathLike[str] | None) -> str:
    """``message`` and, on the same line (a failing command says why in one line), what to import
    when the log folder holds foreign transcripts."""
    root = paths.logs_dir(logs_dir)
    hint = foreign_hint(root) if root.is_dir() else None
    return f"{message}; {hint.replace(chr(10), '; ')}" if hint else message

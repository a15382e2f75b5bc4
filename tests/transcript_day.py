"""A working day of Codex CLI and Claude Code sessions, for the detectors on real transcript shapes.

Written from the formats' public descriptions and the samples in public parsers' tests (Codex:
rollouts of ``{"timestamp", "type", "payload"}`` with ``session_meta``, ``turn_context``,
``event_msg`` ``task_started {turn_id, started_at, model_context_window}`` / ``user_message`` /
``agent_message`` / ``token_count`` / ``task_complete {turn_id, last_agent_message}``, and
``response_item`` ``function_call`` ``exec_command`` with ``arguments`` ``{"cmd", "workdir",
"yield_time_ms"}`` and its ``function_call_output``; Claude Code: ``user``/``assistant`` records
with ``message.content`` blocks ``tool_use``/``tool_result``/``text`` and ``message.stop_reason``
``tool_use`` / ``end_turn``). Nothing here is copied from a real session.

The day is what issue 21 measured on six real Codex sessions: healthy agents that do all their work
through one shell tool, ten and more *different* commands a minute (reading files page by page,
searching, running tests), the same command repeated at most 7 times in a minute (a test rerun
while fixing), people who take minutes to answer and one who answers the next morning (11.7 h).
Seeded: the same seed writes the same bytes.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DAY = datetime(2026, 3, 9, 8, 30, tzinfo=UTC)
MODEL = "gpt-5-codex"
SONNET = "claude-sonnet-4-5-20250929"
FILES = [
    "src/api/router.py",
    "src/api/auth.py",
    "src/db/models.py",
    "src/db/session.py",
    "tests/test_auth.py",
    "tests/test_router.py",
    "src/cli.py",
    "pyproject.toml",
    "README.md",
    "src/api/errors.py",
]
TESTS = ["tests/test_auth.py", "tests/test_router.py", "tests/test_models.py"]


def ts(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def shell_command(rng: random.Random) -> str:
    """One command of a busy, healthy agent: reading, searching, inspecting, testing."""
    f = rng.choice(FILES)
    start = rng.randrange(1, 400, 20)
    return rng.choice(
        [
            f"sed -n '{start},{start + 80}p' {f}",
            f"sed -n '{start},{start + 40}p' {f}",
            f"cat {f}",
            f'rg -n "{rng.choice(["def ", "class ", "import ", "TODO", "raise "])}" {f.rsplit("/", 1)[0]}',
            f"rg --files {f.split('/')[0]}",
            "git status --short",
            "git diff --stat",
            f"git diff {f}",
            f"ls -la {f.rsplit('/', 1)[0]}",
            f"wc -l {f}",
            f"python -m pytest -q {rng.choice(TESTS)} -x",
            f"python -m pytest -q {rng.choice(TESTS)}::test_{rng.choice(['login', 'token', 'save'])}",
        ]
    )


def _c(at: datetime, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": ts(at), "type": kind, "payload": payload}


def _usage(inp: int, cached: int, out: int) -> dict[str, int]:
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": out // 3,
        "total_tokens": inp + out,
    }


class CodexSession:
    """One rollout, built turn by turn."""

    def __init__(self, sid: str, start: datetime, rng: random.Random) -> None:
        self.sid, self.t, self.rng = sid, start, rng
        self.records: list[dict[str, Any]] = [
            _c(
                start,
                "session_meta",
                {
                    "id": sid,
                    "timestamp": ts(start),
                    "cwd": "/home/dev/api",
                    "originator": "codex_cli_rs",
                    "cli_version": "0.46.0",
                    "git": {"branch": "main"},
                },
            ),
        ]
        self.calls = 0
        self.total = [0, 0, 0]

    def step(self, seconds: float) -> datetime:
        self.t += timedelta(seconds=seconds)
        return self.t

    def call(self, cmd: str, *, output: bool = True, exit_code: int = 0) -> None:
        self.calls += 1
        call_id = f"call_{self.sid[-4:]}_{self.calls}"
        args = {"cmd": cmd, "workdir": "/home/dev/api", "yield_time_ms": 1000}
        self.records.append(
            _c(
                self.step(self.rng.uniform(2.0, 5.5)),
                "response_item",
                {
                    "type": "function_call",
                    "name": "exec_command",
                    "arguments": json.dumps(args),
                    "call_id": call_id,
                },
            )
        )
        if output:
            text = "1 failed, 12 passed" if exit_code else "ok"
            body = {"output": text, "metadata": {"exit_code": exit_code, "duration_seconds": 0.4}}
            self.records.append(
                _c(
                    self.step(self.rng.uniform(0.2, 1.5)),
                    "response_item",
                    {"type": "function_call_output", "call_id": call_id, "output": json.dumps(body)},
                )
            )

    def turn(
        self, prompt: str, commands: list[str], *, fails: frozenset[int] = frozenset(), complete: bool = True
    ) -> None:
        turn_id = f"turn-{self.sid[-4:]}-{len(self.records)}"
        self.records.append(
            _c(
                self.t,
                "turn_context",
                {"cwd": "/home/dev/api", "model": MODEL, "approval_policy": "on-request"},
            )
        )
        self.records.append(
            _c(
                self.t,
                "event_msg",
                {"type": "task_started", "turn_id": turn_id, "model_context_window": 272000},
            )
        )
        self.records.append(_c(self.step(0.1), "event_msg", {"type": "user_message", "message": prompt}))
        for i, cmd in enumerate(commands):
            self.call(cmd, exit_code=1 if i in fails else 0)
            if i % 4 == 3:
                self.tokens()
        if not complete:
            return
        self.tokens()
        answer = "Done: " + prompt.lower()
        self.records.append(_c(self.step(3), "event_msg", {"type": "agent_message", "message": answer}))
        self.records.append(
            _c(
                self.step(0.1),
                "event_msg",
                {"type": "task_complete", "turn_id": turn_id, "last_agent_message": answer},
            )
        )

    def tokens(self) -> None:
        last = [self.rng.randrange(3000, 9000), 0, self.rng.randrange(100, 900)]
        last[1] = last[0] // 2
        self.total = [a + b for a, b in zip(self.total, last, strict=True)]
        info = {
            "total_token_usage": _usage(*self.total),
            "last_token_usage": _usage(*last),
            "model_context_window": 272000,
        }
        self.records.append(_c(self.step(0.2), "event_msg", {"type": "token_count", "info": info}))


def codex_day(seed: int = 21) -> dict[str, list[dict[str, Any]]]:
    """Six healthy Codex sessions of one working day: file name -> records."""
    rng = random.Random(seed)
    out: dict[str, list[dict[str, Any]]] = {}
    prompts = [
        "Fix the failing auth test",
        "Add pagination to the router",
        "Explain the session handling",
        "Rename the models module",
        "Make the CLI print JSON",
        "Tidy the error types",
    ]
    for n in range(6):
        sid = f"0199c0de-0000-7000-8000-{n:012d}"
        s = CodexSession(sid, DAY + timedelta(minutes=75 * n), rng)
        for turn in range(rng.randint(6, 11)):
            commands = [shell_command(rng) for _ in range(rng.randint(6, 26))]
            fails: set[int] = set()
            if turn % 3 == 1:  # fixing a test: the same run repeated between edits, up to 7 times
                rerun = f"python -m pytest -q {rng.choice(TESTS)} -x"
                at = rng.randrange(0, len(commands))
                for k in range(rng.randint(3, 7)):
                    commands.insert(at + k, rerun)
                    if k < 2:
                        fails.add(at + k)
            s.turn(prompts[n] if turn == 0 else f"Next: step {turn}", commands, fails=frozenset(fails))
            # The person reads the answer and thinks: minutes; once, until the next morning.
            s.step(42_120 if (n == 2 and turn == 3) else rng.uniform(60, 2400))
        out[f"sessions/2026/03/09/rollout-2026-03-09T08-30-00-{sid}.jsonl"] = s.records
    return out


def codex_stuck(start: datetime = DAY) -> list[dict[str, Any]]:
    """A session whose last call never returns (a command hung): the turn stays open."""
    s = CodexSession("0199c0de-0000-7000-8000-00000000dead", start, random.Random(1))
    s.turn("Run the migrations", ["git status --short", "python manage.py migrate"], complete=False)
    s.call("python manage.py migrate --run-syncdb", output=False)
    return s.records


def codex_loop(start: datetime = DAY) -> list[dict[str, Any]]:
    """An agent repeating one identical command twelve times in a minute (a real loop)."""
    s = CodexSession("0199c0de-0000-7000-8000-00000000100b", start, random.Random(2))
    s.turn(
        "Make the tests pass", ["python -m pytest -q tests/test_auth.py -x"] * 12, fails=frozenset(range(12))
    )
    return s.records


# -- Claude Code ----------------------------------------------------------------------------------


class ClaudeSession:
    def __init__(self, sid: str, start: datetime, rng: random.Random) -> None:
        self.sid, self.t, self.rng = sid, start, rng
        self.records: list[dict[str, Any]] = []
        self.n = 0

    def _rec(self, kind: str, message: dict[str, Any], **extra: Any) -> None:
        self.n += 1
        self.records.append(
            {
                "parentUuid": None,
                "isSidechain": False,
                "userType": "external",
                "cwd": "/home/dev/shop",
                "sessionId": self.sid,
                "version": "2.0.14",
                "gitBranch": "main",
                "type": kind,
                "message": message,
                "uuid": f"{self.sid[-4:]}-{self.n:05d}",
                "timestamp": ts(self.t),
                **extra,
            }
        )

    def _assistant(self, content: list[dict[str, Any]], stop: str) -> None:
        usage = {
            "input_tokens": 12,
            "output_tokens": self.rng.randrange(40, 400),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 20_000,
        }
        message = {
            "id": f"msg_{self.sid[-4:]}{self.n}",
            "type": "message",
            "role": "assistant",
            "model": SONNET,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        self._rec("assistant", message, requestId=f"req_{self.sid[-4:]}{self.n}")

    def prompt(self, text: str) -> None:
        self._rec("user", {"role": "user", "content": text})

    def tool(self, name: str, params: dict[str, Any], *, result: bool = True, error: bool = False) -> None:
        self.t += timedelta(seconds=self.rng.uniform(2, 6))
        tool_id = f"toolu_{self.sid[-4:]}{self.n}"
        self._assistant([{"type": "tool_use", "id": tool_id, "name": name, "input": params}], "tool_use")
        if result:
            self.t += timedelta(seconds=self.rng.uniform(0.3, 2))
            block = {
                "type": "tool_result",
                "tool_use_id": tool_id,
                "is_error": error,
                "content": "Exit code 1\nFAILED" if error else "ok",
            }
            self._rec("user", {"role": "user", "content": [block]})

    def answer(self, text: str) -> None:
        self.t += timedelta(seconds=3)
        self._assistant([{"type": "text", "text": text}], "end_turn")


def claude_tool(rng: random.Random) -> tuple[str, dict[str, Any]]:
    f = "/home/dev/shop/" + rng.choice(FILES)
    choices: list[tuple[str, dict[str, Any]]] = [
        ("Read", {"file_path": f}),
        ("Read", {"file_path": f, "offset": rng.randrange(1, 300, 50), "limit": 100}),
        ("Grep", {"pattern": rng.choice(["cart", "total", "discount"]), "path": "/home/dev/shop/src"}),
        ("Bash", {"command": shell_command(rng), "description": "inspect"}),
        ("Edit", {"file_path": f, "old_string": "a", "new_string": "b"}),
    ]
    return rng.choice(choices)


def claude_day(seed: int = 21, sessions: int = 3) -> dict[str, list[dict[str, Any]]]:
    """Healthy Claude Code sessions: project file name -> records."""
    rng = random.Random(seed)
    out: dict[str, list[dict[str, Any]]] = {}
    for n in range(sessions):
        sid = f"5c1a0de0-0000-4000-8000-{n:012d}"
        s = ClaudeSession(sid, DAY + timedelta(minutes=50 * n + 20), rng)
        for turn in range(rng.randint(4, 8)):
            s.prompt("Add a cart total" if turn == 0 else f"Now step {turn}")
            for _ in range(rng.randint(5, 20)):
                s.tool(*claude_tool(rng))
            s.answer("Done.")
            s.t += timedelta(seconds=rng.uniform(90, 3000) if turn != 2 else 5 * 3600)
        out[f"-home-dev-shop/{sid}.jsonl"] = s.records
    return out


def claude_stuck(start: datetime = DAY) -> list[dict[str, Any]]:
    """A ``tool_use`` whose ``tool_result`` never comes (a command that hangs)."""
    s = ClaudeSession("5c1a0de0-0000-4000-8000-00000000dead", start, random.Random(3))
    s.prompt("Deploy to staging")
    s.tool("Bash", {"command": "git status --short"})
    s.tool("Bash", {"command": "./deploy.sh staging"}, result=False)
    return s.records


def write_rollouts(root: Path, files: dict[str, list[dict[str, Any]]]) -> Path:
    for name, records in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return root

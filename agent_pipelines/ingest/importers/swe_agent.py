"""SWE-agent (``*.traj``) and mini-swe-agent (``*.traj.json``) trajectories as sessions.

The research harnesses teams evaluate agents with write one JSON document per task instance:

* **SWE-agent** (SWE-agent/SWE-agent, ``sweagent/agent/agents.py``: ``save_trajectory``):
  ``{"trajectory": [{"action", "observation", "response", "thought", "execution_time", ...}],
  "history": [{"role", "content", ...}], "info": {"exit_status", "submission", "model_stats":
  {"instance_cost", "tokens_sent", "tokens_received", "api_calls"}}, "replay_config"}`` in
  ``<run>/<instance>/<instance>.traj`` (older: ``<run>/<instance>.traj``).
* **mini-swe-agent** (SWE-agent/mini-swe-agent, ``minisweagent/run/utils/save.py``):
  ``{"info": {"exit_status", "submission", "model_stats": {"instance_cost", "api_calls"},
  "config": {"model": {"model_name"}}}, "messages": [{"role", "content", "extra"?}]}`` in
  ``<run>/<instance>/<instance>.traj.json``. Its actions are the ```` ```bash ```` blocks of the
  assistant's messages (version 1) or the messages' ``tool_calls`` (version 2); the observation that
  follows carries ``<returncode>N</returncode>``. Usage is read from each message's
  ``extra.response.usage`` when it was saved.

One trajectory is one session: the task (the issue text) is its prompt, each action a
``tool_call`` with its ``tool_result`` (a non-zero return code is a failure), the run's tokens and
its own cost (``instance_cost``, which wins like Claude Code's ``costUSD``) counted at its end.
**Outcome**: a ``results.json`` or ``report.json`` beside the trajectory or up to two folders up
(SWE-bench's evaluation report: ``resolved_ids`` / ``unresolved_ids``, or SWE-agent's ``resolved``
lists) decides: resolved → ``success``, evaluated and not resolved → ``failed``. Without one, the
exit status does: submitted → ``success``, anything else (cost or step limit, format errors,
crashes) → ``failed``. **Time**: trajectories carry none, so the session ends at the file's
modification time and each step lasts its ``execution_time`` (mini-swe-agent: a message's
``extra.timestamp`` when saved, else one second a step).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agent_pipelines.core.contract import Reason, id_problem
from agent_pipelines.core.settings import Settings
from agent_pipelines.ingest.importers.core import Importer
from agent_pipelines.ingest.importers.documents import iso_ms
from agent_pipelines.ingest.importers.pricing import Usage
from agent_pipelines.ingest.importers.text import obj, seq, string

RESULT_FILES = ("results.json", "report.json")
_BASH = re.compile(r"```(?:bash|sh)\s*\n(.*?)```", re.DOTALL)
_RETURNCODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>")
_TASK = re.compile(r"<pr_description>(.*?)</pr_description>", re.DOTALL)


def instance_of(path: Path) -> str:
    name = path.name
    for suffix in (".traj.json", ".traj"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def session_for(path: Path) -> str:
    """``<run>/<instance>``: the same instance in two runs is two sessions; a copied run is the same."""
    instance = instance_of(path)
    run = path.parent.parent.name if path.parent.name == instance else path.parent.name
    sid = f"{run}/{instance}" if run else instance
    return sid if not id_problem(sid) else instance


def outcome(path: Path, instance: str) -> str | None:
    """``resolved`` / ``unresolved`` from an evaluation report near the trajectory, else ``None``."""
    folder = path.parent
    for _ in range(3):
        for name in RESULT_FILES:
            report = folder / name
            try:
                data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict):
                for key, verdict in (("resolved_ids", "resolved"), ("resolved", "resolved")):
                    if isinstance(data.get(key), list) and instance in data[key]:
                        return verdict
                for key in ("unresolved_ids", "unresolved", "error_ids", "empty_patch_ids", "completed_ids"):
                    if isinstance(data.get(key), list) and instance in data[key]:
                        return "unresolved"
        folder = folder.parent
    return None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text") or "") for b in content if isinstance(b, dict))
    return ""


def _n(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class _Harness:
    known_types = frozenset({"start", "step", "end"})
    suffixes: tuple[str, ...] = ()
    documents = True

    def file_session(self, path: Path) -> str | None:
        return None

    def record_id(self, record: dict[str, Any], file_session: str | None) -> str | None:
        rid = record.get("rid")
        return string(rid)

    def handle(self, record: dict[str, Any], imp: Importer) -> None:
        sid, ts, kind = record["sessionId"], record["timestamp"], record.get("kind")
        if problem := id_problem(sid):
            imp.bad(Reason.INVALID_ID, f"session id {problem}")
            return
        s = imp.session(sid, ts)
        if kind == "start":
            if isinstance(record.get("model"), str):
                s["ctx"]["model"] = record["model"]
            s["ctx"]["executor_variant"] = record.get("variant")
            imp.prompt(s, ts, record.get("prompt") or record["instance"], record["instance"])
        elif kind == "step":
            call_id = f"{sid}#{record['index']}"
            imp.tool_call(s, ts, call_id, record.get("tool") or "bash", {"command": record.get("action")})
            code = record.get("exit_code")
            output = str(record.get("observation") or "")
            imp.tool_result(s, record.get("end") or ts, call_id, output, is_error=bool(code), exit_code=code)
        elif kind == "end":
            usage = Usage(
                input=_n(record.get("input")),
                output=_n(record.get("output")),
                cache_write=0,
                cache_read=_n(record.get("cached")),
            )
            cost = record.get("cost")
            own = (
                float(cost)
                if isinstance(cost, int | float) and not isinstance(cost, bool) and cost > 0
                else None
            )
            if usage.total or own is not None:
                imp.add_usage(s, s["ctx"].get("model"), usage, ts, own)
            verdict, status = record.get("outcome"), str(record.get("exit_status") or "")
            s["tools"] = {}
            if verdict == "resolved" or (
                verdict is None and status.lower().startswith("submitted") and "(" not in status
            ):
                s["turn"] = "done"
            else:
                s["turn"] = "failed"
                reason = "not resolved (evaluation report)" if verdict else f"exit status: {status or 'none'}"
                imp.emit(s, "error", ts, {"error_message": reason, "error_category": "task"})


class SweAgent(_Harness):
    name = "swe-agent"
    executor = "SWE_AGENT"
    suffixes = (".traj",)

    def default_roots(self, settings: Settings) -> list[Path]:
        """``trajectories/`` of the folder the command runs in: where SWE-agent writes by default."""
        return [Path("trajectories")]

    def records_of(self, path: Path, doc: Any) -> list[dict[str, Any]]:
        if not isinstance(doc, dict) or not isinstance(doc.get("trajectory"), list):
            return []
        sid, instance = session_for(path), instance_of(path)
        steps = [t for t in doc["trajectory"] if isinstance(t, dict)]
        durations = [
            float(t["execution_time"]) if isinstance(t.get("execution_time"), int | float) else 0.0
            for t in steps
        ]
        end_ms = path.stat().st_mtime * 1000
        clock = end_ms - sum(durations) * 1000 - 1000
        history = seq(doc.get("history"))
        task = next(
            (_text(h.get("content")) for h in history if isinstance(h, dict) and h.get("role") == "user"), ""
        )
        info = obj(doc.get("info"))
        base: dict[str, Any] = {"sessionId": sid, "instance": instance}
        out = [
            {
                **base,
                "rid": f"swe:{sid}:start",
                "kind": "start",
                "timestamp": iso_ms(clock),
                "prompt": task.strip()[:4000],
                "model": _model(doc),
                "variant": f"swe-agent {info.get('swe_agent_version') or ''}".strip(),
            }
        ]
        for index, (step, seconds) in enumerate(zip(steps, durations, strict=True)):
            start, clock = clock, clock + seconds * 1000
            out.append(
                {
                    **base,
                    "rid": f"swe:{sid}:step:{index}",
                    "kind": "step",
                    "index": index,
                    "timestamp": iso_ms(start + 1),
                    "end": iso_ms(clock + 1),
                    "action": str(step.get("action") or "")[:2000],
                    "observation": str(step.get("observation") or "")[:2000],
                }
            )
        if info.get("exit_status") is not None:
            stats = obj(info.get("model_stats"))
            verdict = outcome(path, instance)
            out.append(
                {
                    **base,
                    "rid": f"swe:{sid}:end:{verdict}",
                    "kind": "end",
                    "timestamp": iso_ms(max(clock, end_ms) + 2),
                    "exit_status": info.get("exit_status"),
                    "outcome": verdict,
                    "input": stats.get("tokens_sent"),
                    "output": stats.get("tokens_received"),
                    "cost": stats.get("instance_cost"),
                }
            )
        return out


def _model(doc: dict[str, Any]) -> str | None:
    config = doc.get("replay_config")
    try:
        parsed: Any = json.loads(config) if isinstance(config, str) else config
        name = parsed["agent"]["model"]["name"]
    except (ValueError, TypeError, KeyError):
        return None
    return string(name)


class MiniSweAgent(_Harness):
    name = "mini-swe-agent"
    executor = "MINI_SWE_AGENT"
    suffixes = (".traj.json",)

    def default_roots(self, settings: Settings) -> list[Path]:
        """mini-swe-agent's config folder, where it saves the last run (batch runs: give ``-o``'s folder)."""
        configured = settings.mini_swe_agent_config_dir
        return [Path(configured).expanduser() if configured else Path.home() / ".config" / "mini-swe-agent"]

    def records_of(self, path: Path, doc: Any) -> list[dict[str, Any]]:
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
            return []
        sid, instance = session_for(path), instance_of(path)
        messages = [m for m in doc["messages"] if isinstance(m, dict)]
        if not messages:
            return []
        info = obj(doc.get("info"))
        config = obj(info.get("config"))
        model = (
            (config.get("model") or {}).get("model_name") if isinstance(config.get("model"), dict) else None
        )
        end_ms = path.stat().st_mtime * 1000
        stamps = [_stamp(m) for m in messages]
        base: dict[str, Any] = {"sessionId": sid, "instance": instance}
        first_user = next((m for m in messages if m.get("role") == "user"), {})
        task_text = _text(first_user.get("content"))
        task = _TASK.search(task_text)

        def clock(i: int) -> float:
            stamp = stamps[i]
            return stamp if stamp is not None else end_ms - (len(messages) - i) * 1000

        out = [
            {
                **base,
                "rid": f"mini:{sid}:start",
                "kind": "start",
                "timestamp": iso_ms(clock(0)),
                "prompt": (task.group(1) if task else task_text).strip()[:4000],
                "model": model,
                "variant": f"mini-swe-agent {info.get('mini_version') or ''}".strip(),
            }
        ]
        totals = [0, 0, 0]
        step = 0
        for i, m in enumerate(messages):
            usage = (
                ((m.get("extra") or {}).get("response") or {}).get("usage")
                if isinstance(m.get("extra"), dict)
                else None
            )
            if isinstance(usage, dict):
                details = obj(usage.get("prompt_tokens_details"))
                cached = _n(details.get("cached_tokens"))
                totals[0] += max(0, _n(usage.get("prompt_tokens")) - cached)
                totals[1] += _n(usage.get("completion_tokens"))
                totals[2] += cached
            if m.get("role") != "assistant":
                continue
            for command, result in _actions(m, messages[i + 1 :]):
                code_match = _RETURNCODE.search(result)
                out.append(
                    {
                        **base,
                        "rid": f"mini:{sid}:step:{step}",
                        "kind": "step",
                        "index": step,
                        "timestamp": iso_ms(clock(i) + step % 1000 / 1000),
                        "end": iso_ms(clock(min(i + 1, len(messages) - 1))),
                        "action": command[:2000],
                        "observation": result[:2000],
                        "exit_code": int(code_match.group(1)) if code_match else None,
                    }
                )
                step += 1
        if info.get("exit_status") is not None:
            stats = obj(info.get("model_stats"))
            verdict = outcome(path, instance)
            out.append(
                {
                    **base,
                    "rid": f"mini:{sid}:end:{verdict}",
                    "kind": "end",
                    "timestamp": iso_ms(max(end_ms, clock(len(messages) - 1)) + 1),
                    "exit_status": info.get("exit_status"),
                    "outcome": verdict,
                    "input": totals[0],
                    "output": totals[1],
                    "cached": totals[2],
                    "cost": stats.get("instance_cost"),
                }
            )
        return out


def _stamp(message: dict[str, Any]) -> float | None:
    extra = message.get("extra")
    when = extra.get("timestamp") if isinstance(extra, dict) else None
    return (
        float(when) * 1000
        if isinstance(when, int | float) and not isinstance(when, bool) and when > 0
        else None
    )


def _actions(message: dict[str, Any], after: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(command, observation) of an assistant message: its tool calls, else its bash blocks."""
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        results = {
            m.get("tool_call_id"): _text(m.get("content"))
            for m in after[: len(calls) + 2]
            if m.get("role") == "tool"
        }
        out = []
        for call in calls:
            if not isinstance(call, dict):
                continue
            fn = obj(call.get("function"))
            try:
                args = json.loads(fn.get("arguments") or "{}")
            except ValueError:
                args = {}
            command = args.get("command") if isinstance(args, dict) else None
            out.append((str(command or fn.get("arguments") or ""), results.get(call.get("id"), "")))
        return out
    blocks = _BASH.findall(_text(message.get("content")))
    observation = next((_text(m.get("content")) for m in after[:1] if m.get("role") == "user"), "")
    return [(b.strip(), observation) for b in blocks]

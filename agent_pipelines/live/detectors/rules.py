"""The six detectors over events in event-time order (see :mod:`agent_pipelines.live.detectors`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import polars as pl

from agent_pipelines.core.contract import TURN_CLOSED_STATUSES, TURN_OPEN_STATUS
from agent_pipelines.live.alerts import make_alert
from agent_pipelines.live.detectors.columns import ROW, masked_templates
from agent_pipelines.live.detectors.thresholds import Thresholds
from agent_pipelines.live.detectors.tool_windows import count_tool_calls
from agent_pipelines.live.detectors.visits import rows_to_visit
from agent_pipelines.live.state import AttemptState, DetectorState, Suppression, Window
from agent_pipelines.text.miner import TemplateMiner

RESTART_PROMPT_TYPES = ("followup", "retry")
MAX_IDS_PER_ATTEMPT = 32
MAX_TEMPLATE_MAP = 5_000
MAX_FINGERPRINTS_LISTED = 50
MAX_RETIRED = 100_000  # suppression records of pruned attempts kept at most (the oldest go first)
SAMPLE_CHARS = 500
# Events that are the agent at work: after a turn ended (``awaiting_input``), one of these opens the next.
ACTIVITY_TYPES = (
    "session_start",
    "followup_sent",
    "tool_call",
    "tool_result",
    "error",
    "agent_output",
    "agent_thinking",
)


class Detectors:
    """Runs every detector over events, updating ``state`` and collecting alerts."""

    def __init__(self, state: DetectorState, thresholds: Thresholds | None = None) -> None:
        self.state = state
        self.t = thresholds or Thresholds()
        self.alerts: list[dict[str, Any]] = []
        # Error loops are counted per template, learned online: the model lives in the state, so a
        # run sees the templates every earlier run learned (and the same ones a batch run would).
        self.miner = TemplateMiner.from_json(state.template_model)
        self._learned: dict[str, str] = {}  # masked message -> the miner's template, for this batch
        self._carried: dict[str, str] | None = None  # learned template -> the fingerprint it carries

    # -- entry points -------------------------------------------------------------------------

    def process(self, events: pl.DataFrame) -> list[dict[str, Any]]:
        """Feed events (already deduped, in event-time order). Returns the alerts fired."""
        if events.is_empty():
            return []
        start = len(self.alerts)
        # Masked text of the distinct error messages in one vectorized pass, on another thread: its
        # regexes (compiled per call, ~10 ms) run outside the GIL while this one prepares the rows.
        errors = events.get_column("error_message").filter(events.get_column("event_type") == "error")
        with ThreadPoolExecutor(1, thread_name_prefix="error-masking") as pool:
            masking = pool.submit(masked_templates, errors)
            kept, tool_windows = rows_to_visit(events, self.t, self._tool_windows)
            templates = masking.result()
        if self.miner.add(templates.get_column("tpl").sort().to_list()):
            self.state.template_model = self.miner.to_json()
        self._learned = {}  # the miner learns here only: its answers hold for the whole batch
        self._carried = None
        kept = kept.join(templates, on="error_message", how="left", maintain_order="left", nulls_equal=False)
        # Column by column into Python, then zipped: several times cheaper than ``iter_rows``.
        for row in zip(*(kept.get_column(c).to_list() for c in ROW), strict=True):
            self._event(*row)
        self._keep_tool_windows(tool_windows)
        batch_max = cast(int, events.get_column("timestamp").dt.epoch("ms").max())
        known = self.state.watermark_ms
        self.state.watermark_ms = batch_max if known is None else max(known, batch_max)
        return self.alerts[start:]

    def check_stuck(self, now_ms: int) -> list[dict[str, Any]]:
        """The live check: open sessions silent for longer than the threshold at ``now_ms``."""
        start = len(self.alerts)
        for attempt_id in sorted(self.state.attempts):
            a = self.state.attempts[attempt_id]
            if a.last is not None and now_ms - a.last >= self.t.stuck_ms and owes_a_step(a):
                self._stuck(attempt_id, a, now_ms - a.last)
        return self.alerts[start:]

    def prune(self) -> None:
        """Forget attempts silent for ``retain_ms`` of event time (their alerts have fired by then),
        all but the alerts they fired: those are kept (``retired``) for ``seen_ms``, as long as the
        seen-ids window says lines that old are still handled, so late lines of a pruned attempt do
        not raise its alerts again on every run."""
        if self.state.watermark_ms is None:
            return
        horizon = self.state.watermark_ms - self.t.retain_ms
        retired = self.state.retired
        for attempt_id in [k for k, a in self.state.attempts.items() if a.last is None or a.last < horizon]:
            a = self.state.attempts.pop(attempt_id)
            if a.fired or a.stuck or a.rs_fired:
                retired[attempt_id] = Suppression.of(a)
        keep_from = self.state.watermark_ms - self.t.seen_ms
        for attempt_id in [k for k, r in retired.items() if r.last < keep_from]:
            del retired[attempt_id]
        if len(retired) > MAX_RETIRED:
            oldest = sorted(retired, key=lambda k: retired[k].last)[: len(retired) - MAX_RETIRED]
            for attempt_id in oldest:
                del retired[attempt_id]
        tfp = self.state.template_fingerprints
        if len(tfp) > MAX_TEMPLATE_MAP:
            for key in list(tfp)[: len(tfp) - MAX_TEMPLATE_MAP]:
                del tfp[key]

    # -- per event ----------------------------------------------------------------------------

    def _template(self, masked: str) -> str:
        """The miner's template of a masked message (each error compares its attempt's every window)."""
        found = self._learned.get(masked)
        if found is None:
            found = self._learned[masked] = self.miner.template(masked)
        return found

    def _carried_fingerprint(self, learned: str) -> str | None:
        """The fingerprint a learned template carries elsewhere (an error of that template that had
        one), as batch clustering joins them: the alphabetically first when several do."""
        if self._carried is None:
            self._carried = {}
            for masked, fingerprint in self.state.template_fingerprints.items():
                self._carry(self._template(masked), fingerprint)
        return self._carried.get(learned)

    def _carry(self, learned: str, fingerprint: str) -> None:
        if self._carried is not None:
            known = self._carried.get(learned)
            self._carried[learned] = fingerprint if known is None else min(known, fingerprint)

    def _attempt(self, attempt_id: str) -> AttemptState:
        a = self.state.attempts.get(attempt_id)
        if a is None:
            a = self.state.attempts[attempt_id] = AttemptState()
            retired = self.state.retired.pop(attempt_id, None)
            if retired is not None:  # a late line of a pruned attempt: what it fired still holds
                retired.restore(a)
        return a

    def _event(
        self,
        ts: int,
        event_id: str,
        attempt_id: str,
        event_type: str,
        task_id: str | None,
        executor: str | None,
        project_id: str | None,
        prompt_type: str | None,
        completion_status: str | None,
        cost_usd: float | None,
        duration_ms: int | None,
        error_message: str | None,
        error_fingerprint: str | None,
        tool_name: str | None,
        followup_reason: str | None,
        new_status: str | None,
        template: str | None,
        prev_ts: int | None = None,
        prev_id: str | None = None,
        tool_key: str | None = None,
        tool_n: int | None = None,
        tool_first: str | None = None,
    ) -> None:
        a = self._attempt(attempt_id)
        if task_id:
            a.task = task_id
        if executor:
            a.exec = executor
        if project_id:
            a.project = project_id
        if prev_ts is not None and (a.last is None or prev_ts >= a.last):
            a.last, a.lid = prev_ts, prev_id  # rows skipped in between moved "last seen"
        last = a.last
        # Silence before this event: a stuck agent that came back (or a replay of one).
        if last is not None and ts - last >= self.t.stuck_ms and owes_a_step(a):
            self._stuck(attempt_id, a, ts - last)
        if last is None or ts >= last:
            a.last, a.lid = ts, event_id
        if event_type == "error":
            self._error(attempt_id, a, ts, event_id, error_message or "", error_fingerprint, template or "")
        elif event_type == "tool_call" and tool_name and tool_key:
            if tool_n is None:  # a window carried over from an earlier run: counted here
                self._tool(attempt_id, a, ts, event_id, tool_name, tool_key)
            elif tool_n >= self.t.tool_loop:  # counted in polars (see _tool_windows)
                self._tool_loop(attempt_id, a, ts, event_id, tool_name, tool_n, tool_first or event_id)
        elif event_type == "session_start" and prompt_type in RESTART_PROMPT_TYPES:
            a.rs += 1
            if a.rs >= self.t.restarts and not a.rs_fired:
                a.rs_fired = self._fire(
                    attempt_id, a, "excessive_restarts", event_id, ts, restart_count=a.rs,
                    last_reason=followup_reason,
                )  # fmt: skip
        if event_type == "status_change" and new_status in TURN_CLOSED_STATUSES:
            a.turn = "closed"  # the agent answered (or was stopped) and waits for its person
        elif (event_type == "status_change" and new_status == TURN_OPEN_STATUS) or (
            a.turn is not None and event_type in ACTIVITY_TYPES
        ):
            a.turn = "open"
        if event_type == "session_end":
            a.open = False
            if cost_usd is not None and cost_usd > self.t.cost_usd:
                self._fire(attempt_id, a, "cost_anomaly", event_id, ts, cost_usd=cost_usd,
                           duration_ms=duration_ms, threshold_usd=self.t.cost_usd)  # fmt: skip
            if completion_status == "failed" and a.ne >= self.t.failed_errors:
                self._fire(attempt_id, a, "failed_session_high_errors", event_id, ts, error_count=a.ne,
                           error_fingerprints=list(a.fps))  # fmt: skip
        else:
            a.open = True  # any other event: the session is live (seen mid-session or restarted)

    def _error(
        self,
        attempt_id: str,
        a: AttemptState,
        ts: int,
        event_id: str,
        message: str,
        fingerprint: str | None,
        template: str,
    ) -> None:
        # The caller's fingerprint wins, as in batch clustering: errors with a fingerprint count in
        # its window ("f:<fingerprint>") only, so different fingerprints are never one loop, however
        # alike their text; an error without one whose learned template carries a fingerprint
        # elsewhere joins that window. The others are counted per masked message ("t:<masked>"), and
        # a loop counts every such window whose message has the same learned template *now*: a
        # template that generalises mid-loop ("user root" + "user bob" -> "user <VAR>") still
        # counts the earlier errors.
        a.ne += 1
        # The session's distinct fingerprints, as the original analyzer listed them (no fingerprint
        # → "unknown"), capped so a pathological session cannot grow the state without bound.
        shown_fp = fingerprint or "unknown"
        if shown_fp not in a.fps and len(a.fps) < MAX_FINGERPRINTS_LISTED:
            a.fps.append(shown_fp)
        tfp = self.state.template_fingerprints
        horizon = ts - self.t.error_window_ms
        learned = self._template(template)
        own = a.errs.setdefault(f"f:{fingerprint}" if fingerprint else f"t:{template}", [])
        own.append([ts, event_id])
        _trim(own, horizon)
        if fingerprint:
            tfp[template] = fingerprint
            self._carry(learned, fingerprint)
        carried = self._carried_fingerprint(learned)
        joined = fingerprint or carried
        # Errors without a fingerprint of this template (those carrying ``joined`` when there is one).
        family = (
            sorted(k[2:] for k in a.errs if k.startswith("t:") and self._template(k[2:]) == learned)
            if joined is None or carried == joined
            else []
        )
        window = sorted(e for k in family for e in a.errs[f"t:{k}"] if e[0] >= horizon)
        if joined:
            window = sorted([*window, *(e for e in a.errs.get(f"f:{joined}", []) if e[0] >= horizon)])
        shown = joined or learned
        if len(window) >= self.t.error_loop:
            self._fire(
                attempt_id,
                a,
                "error_loop",
                self._incident_key(a, "error_loop", window, event_id),
                ts,
                error_fingerprint=shown,
                occurrences=len(window),
                sample_message=message[:SAMPLE_CHARS],
                window_ms=self.t.error_window_ms,
            )
        _forget_quiet(a.errs, ts - self.t.error_window_ms)

    def _tool(self, attempt_id: str, a: AttemptState, ts: int, event_id: str, tool: str, key: str) -> None:
        window = a.tools.setdefault(key, [])
        window.append([ts, event_id])
        _trim(window, ts - self.t.tool_window_ms)
        if len(window) >= self.t.tool_loop:
            self._tool_loop(attempt_id, a, ts, event_id, tool, len(window), window[0][1])
        _forget_quiet(a.tools, ts - self.t.tool_window_ms)

    def _tool_loop(
        self, attempt_id: str, a: AttemptState, ts: int, event_id: str, tool: str, count: int, first: str
    ) -> None:
        """``count`` identical calls of ``tool`` within the window ending at this one, the first
        being ``first``."""
        key = first if "tool_loop" not in a.fired else event_id  # as _incident_key
        self._fire(attempt_id, a, "tool_loop", key, ts, tool_name=tool, occurrences=count,
                   window_ms=self.t.tool_window_ms)  # fmt: skip

    def _tool_windows(self, calls: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Tool calls counted in polars (:func:`~.tool_windows.count_tool_calls`), except the pairs
        whose windows this state carries over from an earlier run (counted row by row)."""
        attempts = self.state.attempts
        in_batch = calls.get_column("attempt_id").unique()
        carried = [
            (attempt_id, key)
            for attempt_id in in_batch.to_list()
            if attempt_id in attempts
            for key, window in attempts[attempt_id].tools.items()
            if window
        ]
        return count_tool_calls(calls, carried, self.t.tool_window_ms)

    def _keep_tool_windows(self, last: pl.DataFrame) -> None:
        """The windows of the (attempt, tool key) pairs counted in polars, into the state as the
        per-row count would have left them."""
        attempts = self.state.attempts
        for attempt_id, key, ts, event_id in zip(*(c.to_list() for c in last.get_columns()), strict=True):
            attempts[attempt_id].tools.setdefault(key, []).append([ts, event_id])

    @staticmethod
    def _incident_key(a: AttemptState, alert_type: str, window: Window, event_id: str) -> str:
        """The first event of the window opens the first incident; once one has fired, a loop that
        persists past the suppression is a new incident opened by the event that re-triggers it
        (the window's first event may be the very one that opened the previous incident)."""
        return str(window[0][1]) if alert_type not in a.fired else event_id

    def _stuck(self, attempt_id: str, a: AttemptState, idle_ms: int) -> None:
        a.stuck = a.lid  # one alert per silence, whichever way it is found first
        assert a.last is not None and a.lid is not None
        self._fire(attempt_id, a, "stuck_agent", a.lid, a.last + self.t.stuck_ms, idle_time_ms=idle_ms,
                   threshold_ms=self.t.stuck_ms)  # fmt: skip

    def _fire(
        self,
        attempt_id: str,
        a: AttemptState,
        alert_type: str,
        incident_key: str,
        at_ms: int,
        **fields: Any,
    ) -> bool:
        previous = a.fired.get(alert_type)
        if previous is not None and abs(at_ms - previous) < self.t.suppress_ms:
            return False
        if a.project:  # routes and silences match on it; lines without one keep the original's fields
            fields = {"project_id": a.project, **fields}
        alert = make_alert(alert_type, attempt_id, incident_key, at_ms, task_id=a.task, executor=a.exec,
                           **fields)  # fmt: skip
        if alert["alert_id"] in a.ids:
            return False
        a.fired[alert_type] = at_ms
        a.ids = [*a.ids, alert["alert_id"]][-MAX_IDS_PER_ATTEMPT:]
        self.alerts.append(alert)
        return True


def owes_a_step(a: AttemptState) -> bool:
    """The attempt's session is open, its turn not over (or turns unknown: the original's rule),
    and its current silence not alerted yet: a silence now is an agent stuck."""
    return a.open and a.turn != "closed" and a.stuck != a.lid


def _trim(window: Window, horizon: int) -> None:
    drop = 0
    while drop < len(window) and window[drop][0] < horizon:
        drop += 1
    if drop:
        del window[:drop]


def _forget_quiet(windows: dict[str, Window], horizon: int) -> None:
    """Drop windows whose newest entry is older than ``horizon`` (only worth it past a few keys)."""
    if len(windows) > 4:
        for key in [k for k, w in windows.items() if not w or w[-1][0] < horizon]:
            del windows[key]

"""Error clusters, grouping accuracy, backlog, planning heuristics and correlation.

Crafted logs go through the real logger, reader and session metrics, so each heuristic is checked
on what it will really see; generated logs check clustering against the generator's ground truth.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from agent_pipelines.analytics import errors, insights, metrics
from agent_pipelines.core.contract import CLEANED_SCHEMA
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.reader import dedupe, read_logs

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Fleet:
    """Writes crafted attempts through the real logger."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock = Clock()
        self.log = AgentWorkLogger(root, enabled=True, clock=self.clock)
        self.n = 0

    def attempt(
        self,
        task: str,
        *,
        status: str | None = "success",
        title: str | None = None,
        executor: str = "CODEX",
        model: str = "gpt-5",
        errors: tuple[tuple[str, str | None, str | None], ...] = (),
        followups: tuple[str, ...] = (),
        seconds: float = 60,
        orchestrator_status: str | None = None,
    ) -> str:
        self.n += 1
        attempt_id = f"ve-{task}-{self.n}"
        self.log.start_session(
            attempt_id,
            task_id=task,
            task_title=title or f"Task {task}",
            executor=executor,
            model=model,
            prompt_type="initial" if self.n == 1 else "retry",
        )
        for message, fingerprint, category in errors:
            self.clock.tick(5)
            self.log.error(attempt_id, message, fingerprint, category)
        for reason in followups:
            self.clock.tick(5)
            self.log.followup(attempt_id, f"Please address: {reason}", reason)
        self.clock.tick(seconds)
        if status is not None:
            self.log.stop_session(attempt_id, status, cost_usd=0.01)
        if orchestrator_status:
            self.log.status_change(attempt_id, orchestrator_status)
        self.clock.tick(30)
        return attempt_id

    def tables(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        events = dedupe(read_logs(self.root).events)
        return metrics.session_metrics(events), errors.error_occurrences(events), events


def error_frame(rows: list[dict]) -> pl.DataFrame:
    """Cleaned-schema error events from (message, fingerprint, ...) dicts."""
    base = datetime(2026, 3, 2, tzinfo=UTC)
    full = []
    for i, row in enumerate(rows):
        ts = base + timedelta(minutes=i)
        full.append(
            {
                "event_id": f"e{i}",
                "timestamp": ts,
                "day": ts.date(),
                "event_type": "error",
                "attempt_id": row.get("attempt_id", f"a{i}"),
                "task_id": row.get("task_id", f"t{i}"),
                "executor": row.get("executor", "CODEX"),
                **{k: v for k, v in row.items() if k not in ("attempt_id", "task_id", "executor")},
            }
        )
    return pl.DataFrame(full, schema=CLEANED_SCHEMA)


# --------------------------------------------------------------------------------------------
# Grouping accuracy
# --------------------------------------------------------------------------------------------


def test_grouping_accuracy_counts_only_exact_clusters() -> None:
    truth = pl.Series(["a", "a", "b", "b", "c"])
    assert errors.grouping_accuracy(pl.Series([1, 1, 2, 2, 3]), truth) == 1.0
    # Splitting a true cluster costs all of its messages; the other clusters stay correct.
    assert errors.grouping_accuracy(pl.Series([1, 9, 2, 2, 3]), truth) == pytest.approx(3 / 5)
    # Merging two true clusters costs both.
    assert errors.grouping_accuracy(pl.Series([1, 1, 1, 1, 3]), truth) == pytest.approx(1 / 5)
    with pytest.raises(ValueError):
        errors.grouping_accuracy(pl.Series([1]), truth)


# --------------------------------------------------------------------------------------------
# Clusters
# --------------------------------------------------------------------------------------------


def test_template_joins_the_fingerprint_it_carries_elsewhere() -> None:
    rows = [
        {
            "error_message": f"fatal: not a git repository (or any parent directory): /workspace/r{i}/.git",
            "error_fingerprint": "git_not_repo" if i % 2 else None,
            "error_category": "git",
        }
        for i in range(10)
    ] + [{"error_message": f"CONFLICT (content): Merge conflict in src/m{i}.ts"} for i in range(4)]
    occ = errors.error_occurrences(error_frame(rows))
    assert occ.height == 14
    git = occ.filter(pl.col("error_message").str.starts_with("fatal"))
    assert git["cluster_id"].n_unique() == 1
    assert git["cluster_label"].unique().to_list() == ["git_not_repo"]
    table = errors.cluster_table(occ)
    assert table.height == 2
    top = table.row(0, named=True)
    assert (top["cluster_label"], top["occurrences"], top["fingerprinted_share"]) == ("git_not_repo", 10, 0.5)
    assert top["category"] == "git" and top["tasks"] == 10 and top["executors"] == ["CODEX"]
    assert sum(d["count"] for d in top["trend"]) == 10
    # Without unification the un-fingerprinted half would be a cluster of its own.
    assert table.filter(pl.col("fingerprint").is_null())["template"].to_list() == [
        "CONFLICT (content): Merge conflict in <PATH>"
    ]


def test_majority_fingerprint_wins_for_a_template() -> None:
    msg = "Error: OPENAI_API_KEY environment variable is missing or empty"
    rows = (
        [{"error_message": msg, "error_fingerprint": "api_key_missing"}] * 3
        + [{"error_message": msg, "error_fingerprint": "env_missing"}]
        + [{"error_message": msg}] * 2
    )
    occ = errors.error_occurrences(error_frame(rows))
    assert occ.filter(pl.col("error_fingerprint").is_null())["cluster_label"].unique().to_list() == [
        "api_key_missing"
    ]
    # An event's own fingerprint is never overridden.
    assert occ.filter(pl.col("error_fingerprint") == "env_missing")["cluster_label"].to_list() == [
        "env_missing"
    ]


def test_one_off_word_values_merge_but_status_codes_do_not() -> None:
    names = ["alice", "bob", "carol", "dave", "erin", "frank"]
    rows = [
        {"error_message": f"User {n} has no seat assigned in the organization billing plan"} for n in names
    ]
    rows += [{"error_message": "Build step failed with exit code 1 in the compile stage"}] * 6
    rows += [{"error_message": "Build step failed with exit code 127 in the compile stage"}] * 6
    rows += [{"error_message": f"npm ERR! code {code} npm ERR! syscall open npm ERR! path /w/p.json"}
             for code in ["ENOENT", "EACCES", "EPERM", "EEXIST", "EISDIR"]]  # fmt: skip
    occ = errors.error_occurrences(error_frame(rows))
    seats = occ.filter(pl.col("error_message").str.starts_with("User"))
    assert seats["cluster_id"].n_unique() == 1
    assert seats["error_template"][0] == "User <VAR> has no seat assigned in the organization billing plan"
    exits = occ.filter(pl.col("error_message").str.starts_with("Build step"))
    assert exits["cluster_id"].n_unique() == 2
    npm = occ.filter(pl.col("error_message").str.starts_with("npm"))
    assert npm["cluster_id"].n_unique() == 5
    # And the merge can be switched off: then the user names split the error.
    raw = errors.error_occurrences(error_frame(rows), merge_variants=False)
    assert raw.filter(pl.col("error_message").str.starts_with("User"))["cluster_id"].n_unique() == len(names)


def test_sample_messages_are_redacted() -> None:
    token = "ghp_" + "a1B2c3D4e5" * 4
    occ = errors.error_occurrences(
        error_frame([{"error_message": f"remote: invalid credentials {token} for push"}])
    )
    sample = errors.cluster_table(occ)["sample_message"][0]
    assert token not in sample and "[REDACTED]" in sample


def test_no_errors_gives_empty_tables() -> None:
    empty = pl.DataFrame(schema=CLEANED_SCHEMA)
    assert errors.error_occurrences(empty).schema == pl.Schema(errors.OCCURRENCE_SCHEMA)
    assert errors.error_clusters(empty).schema == pl.Schema(errors.CLUSTER_SCHEMA)


def test_grouping_accuracy_on_generated_logs(small_logs: Path) -> None:
    events = dedupe(read_logs(small_logs).events)
    occ = errors.error_occurrences(events)
    truth = errors.load_error_truth(small_logs)
    assert truth is not None
    result = errors.accuracy_against_truth(occ, truth)
    assert result["judged_events"] >= 0.99 * truth.height > 100
    assert result["grouping_accuracy"] >= 0.95, result
    # Each "mixed" kind (fingerprint on about half its events) is exactly one cluster.
    kinds = json.loads((small_logs / "ground-truth.json").read_text())["error_kinds"]
    mixed = [k for k, v in kinds.items() if v["fingerprint_policy"] == "mixed"]
    judged = occ.join(truth, on=["attempt_id", "timestamp", "error_message"])
    per_kind = (
        judged.filter(pl.col("kind").is_in(mixed)).group_by("kind").agg(pl.col("cluster_id").n_unique())
    )
    assert per_kind.height >= 5 and per_kind["cluster_id"].max() == 1


# --------------------------------------------------------------------------------------------
# Backlog
# --------------------------------------------------------------------------------------------

DEP = ("Error: Cannot find module 'left-pad' imported from src/a.ts", "module_not_found", "dependency")


def test_backlog_holds_many_attempts_and_still_failing(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path)
    for _ in range(4):
        fleet.attempt("many", status="failed", errors=(DEP,))
    fleet.attempt("many", status="success")
    fleet.attempt("failing", status="failed", errors=(DEP,), orchestrator_status="manual_review")
    fleet.attempt("retrying", status="failed")
    fleet.attempt("retrying", status=None)  # still running: in progress, not failing
    fleet.attempt("fine", status="success")
    sessions, occ, events = fleet.tables()
    backlog = insights.backlog_tasks(sessions, occ, events)
    by_task = {r["task_id"]: r for r in backlog.iter_rows(named=True)}
    assert set(by_task) == {"many", "failing"}
    assert by_task["many"]["reason"] == "many_attempts" and by_task["many"]["attempts"] == 5
    assert by_task["many"]["root_causes"] == [{"category": "dependency", "count": 4}]
    assert by_task["many"]["top_clusters"] == ["module_not_found"]
    assert by_task["failing"]["reason"] == "still_failing"
    assert by_task["failing"]["status"] == "manual_review"
    assert backlog["task_id"].to_list() == ["many", "failing"]  # most attempts first


# --------------------------------------------------------------------------------------------
# Planning heuristics: each fires on its crafted case and on nothing clean
# --------------------------------------------------------------------------------------------

CASES: dict[str, list[dict]] = {
    "missing_dependency_setup": [{"status": "failed", "errors": (DEP,)}],
    "missing_environment_setup": [
        {
            "status": "failed",
            "errors": (("Error: OPENAI_API_KEY environment variable is missing", None, "api_key"),),
        }
    ],
    "auth_problems": [
        {
            "status": "failed",
            "errors": (("HTTP 403 Forbidden: POST https://api.x.io/v1/q (request 1)", None, "auth"),),
        }
    ],
    "scope_creep": [{"status": "failed", "followups": ("new requirement: also export to CSV",)}],
    "complexity_mismatch": [{"status": "failed"}, {"status": "timeout"}, {"status": "failed"}],
}
MESSAGE_ONLY: dict[str, tuple[str, None, None]] = {
    "missing_dependency_setup": ("npm ERR! code ENOENT npm ERR! syscall open", None, None),
    "missing_environment_setup": (
        "KeyError: 'STRIPE_SECRET' environment variable not set in app.py",
        None,
        None,
    ),
    "auth_problems": ("remote: Permission to org/repo.git denied to bot. error: 403", None, None),
    "complexity_mismatch": ("Error: This model's maximum context length is 200000 tokens.", None, None),
}


def _clean(fleet: Fleet) -> None:
    fleet.attempt("clean", status="success", title="Refactor clean module")


@pytest.mark.parametrize("rule", list(CASES))
def test_each_rule_fires_on_its_case_only(tmp_path: Path, rule: str) -> None:
    fleet = Fleet(tmp_path)
    _clean(fleet)
    for spec in CASES[rule]:
        fleet.attempt("crafted", **spec)
    sessions, occ, events = fleet.tables()
    found = insights.task_planning_insights(sessions, occ, events)
    assert set(found["task_id"]) == {"crafted"}, found
    assert found["rule"].to_list() == [rule]
    assert found["improvement"][0] == insights.RULES_BY_NAME[rule].improvement
    assert found["evidence"][0]


@pytest.mark.parametrize("rule", list(MESSAGE_ONLY))
def test_rules_read_messages_when_no_category(tmp_path: Path, rule: str) -> None:
    fleet = Fleet(tmp_path)
    _clean(fleet)
    runs = 3 if rule == "complexity_mismatch" else 1
    for _ in range(runs):
        fleet.attempt("crafted", status="failed", errors=(MESSAGE_ONLY[rule],))
    found = insights.task_planning_insights(*fleet.tables())
    assert found["rule"].to_list() == [rule]


def test_scope_creep_from_many_followups_and_failed_only(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path)
    _clean(fleet)
    fleet.attempt("chatty", status="success", followups=("tests_failing",) * insights.SCOPE_MIN_FOLLOWUPS)
    fleet.attempt(
        "quiet", status="success", followups=("tests_failing",) * (insights.SCOPE_MIN_FOLLOWUPS - 1)
    )
    sessions, occ, events = fleet.tables()
    found = insights.task_planning_insights(sessions, occ, events)
    assert found.select("task_id", "rule").rows() == [("chatty", "scope_creep")]
    assert insights.task_planning_insights(sessions, occ, events, failed_only=True).is_empty()


def test_long_attempts_are_a_complexity_mismatch(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path)
    for i in range(6):
        fleet.attempt(f"short{i}", status="success", seconds=60)
    for _ in range(3):
        fleet.attempt("long", status="failed", seconds=3600)
    found = insights.task_planning_insights(*fleet.tables())
    assert found.select("task_id", "rule").rows() == [("long", "complexity_mismatch")]


# --------------------------------------------------------------------------------------------
# Correlation
# --------------------------------------------------------------------------------------------


def test_correlation_is_lift_over_base_rate_with_support(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path)
    docker = (
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
        "docker_down",
        "environment",
    )
    for i in range(12):
        fleet.attempt(f"c{i}", executor="COPILOT", title="Migrate billing webhook", errors=(docker,))
        fleet.attempt(f"x{i}", executor="CODEX", title="Document search page")
    fleet.attempt("rare", executor="GEMINI", title="Document search page", errors=(docker,))
    table = insights.correlation(*fleet.tables()[:2])
    top = table.row(0, named=True)
    assert top["cluster_label"] == "docker_down"
    pairs = {(r["dimension"], r["value"]): r for r in table.iter_rows(named=True)}
    copilot = pairs[("executor", "COPILOT")]
    assert copilot["support"] == 12 and copilot["group_attempts"] == 12
    assert copilot["base_rate"] == pytest.approx(13 / 25)
    assert copilot["lift"] == pytest.approx(25 / 13)
    assert ("title_keyword", "billing") in pairs and ("title_keyword", "migrate") in pairs
    # One GEMINI attempt is far below the support threshold; CODEX never hit the cluster.
    assert ("executor", "GEMINI") not in pairs and ("executor", "CODEX") not in pairs
    assert ("title_keyword", "document") not in pairs  # support 1

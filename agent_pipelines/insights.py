"""Task-level insights: the backlog, task-planning heuristics and error/characteristic correlation.

The seed's ``analyze-agent-work.mjs`` answered "why did this task need so many attempts?" with a
backlog list and a handful of planning heuristics; its roadmap left "correlation analysis (error
clusters → task characteristics)" open. All three live here as pure functions over two tables the
assets and the CLI both have:

* ``sessions`` — one row per attempt (``agent_pipelines.metrics.session_metrics``);
* ``errors`` — one row per error event with its cluster (:func:`agent_pipelines.errors.error_occurrences`);

plus, optionally, the cleaned events for follow-up reasons and the orchestrator's last task status.
Each function returns a polars frame; rendering is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import polars as pl

BACKLOG_MIN_ATTEMPTS = 3  # the seed: "tasks with >3 attempts"
UNCATEGORIZED = "uncategorized"

# --------------------------------------------------------------------------------------------
# Task overview: one row per task, shared by the backlog and the planning heuristics
# --------------------------------------------------------------------------------------------


def _root_causes(errors: pl.DataFrame) -> pl.DataFrame:
    """Per task: ``root_causes`` = [{category, count}] most frequent first, and the top clusters."""
    if errors.is_empty():
        return pl.DataFrame(
            schema={
                "task_id": pl.String(),
                "root_causes": pl.List(pl.Struct({"category": pl.String(), "count": pl.UInt32()})),
                "top_clusters": pl.List(pl.String()),
            }
        )
    by_cat = (
        errors.with_columns(pl.col("error_category").fill_null(UNCATEGORIZED).alias("category"))
        .group_by("task_id", "category")
        .len("count")
        .sort(["task_id", "count", "category"], descending=[False, True, False])
        .group_by("task_id", maintain_order=True)
        .agg(pl.struct("category", "count").alias("root_causes"))
    )
    by_cluster = (
        errors.group_by("task_id", "cluster_label")
        .len("count")
        .sort(["task_id", "count", "cluster_label"], descending=[False, True, False])
        .group_by("task_id", maintain_order=True)
        .agg(pl.col("cluster_label").head(3).alias("top_clusters"))
    )
    return by_cat.join(by_cluster, on="task_id", how="left")


def _last_status(events: pl.DataFrame | None) -> pl.DataFrame:
    """The orchestrator's last word on each task (``status_change.new_status``, e.g. manual_review)."""
    schema = {"task_id": pl.String(), "orchestrator_status": pl.String()}
    if events is None or events.is_empty():
        return pl.DataFrame(schema=schema)
    return (
        events.lazy()
        .filter((pl.col("event_type") == "status_change") & pl.col("task_id").is_not_null())
        .sort("timestamp")
        .group_by("task_id")
        .agg(pl.col("new_status").last().alias("orchestrator_status"))
        .collect()
    )


def task_overview(
    sessions: pl.DataFrame, errors: pl.DataFrame, events: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per task: attempts, outcome, cost, executors and root-cause categories.

    ``status`` is the orchestrator's last ``status_change`` for the task when there is one (the seed
    printed e.g. ``manual_review``), else the latest attempt's completion status, or ``open``.
    ``still_failing``: no attempt succeeded and the latest attempt ended without success; a task whose
    latest attempt is still running is in progress, not failing.
    """
    s = sessions.filter(pl.col("task_id").is_not_null())
    overview = (
        s.lazy()
        .sort("started_at")
        .group_by("task_id")
        .agg(
            pl.col("task_title").drop_nulls().last().alias("task_title"),
            pl.len().alias("attempts"),
            pl.col("succeeded").any().alias("succeeded"),
            pl.col("is_open").sum().alias("open_attempts"),
            (~pl.col("succeeded") & ~pl.col("is_open")).sum().alias("failed_attempts"),
            pl.when(pl.col("is_open"))
            .then(pl.lit("open"))
            .otherwise(pl.col("completion_status"))
            .last()
            .alias("last_attempt_status"),
            pl.col("is_open").last().alias("last_attempt_open"),
            pl.col("executor").drop_nulls().unique().sort().alias("executors"),
            pl.col("cost_usd").sum().alias("total_cost_usd"),
            pl.col("total_tokens").sum().alias("total_tokens"),
            pl.col("duration_ms").median().alias("median_duration_ms"),
            pl.col("duration_ms").sum().alias("total_duration_ms"),
            pl.col("error_count").sum().alias("errors"),
            pl.col("followup_count").sum().alias("followups"),
            (pl.col("completion_status") == "timeout").sum().alias("timeouts"),
            pl.col("started_at").min().alias("first_seen"),
            pl.col("last_event_at").max().alias("last_seen"),
        )
        .collect()
    )
    overview = overview.with_columns(
        (~pl.col("succeeded") & ~pl.col("last_attempt_open") & (pl.col("failed_attempts") > 0)).alias(
            "still_failing"
        )
    )
    overview = overview.join(_last_status(events), on="task_id", how="left").with_columns(
        pl.coalesce("orchestrator_status", "last_attempt_status").alias("status")
    )
    overview = overview.join(_root_causes(errors), on="task_id", how="left")
    return overview.with_columns(
        pl.col("root_causes").fill_null(pl.lit([], dtype=overview.schema["root_causes"])),
        pl.col("top_clusters").fill_null(pl.lit([], dtype=pl.List(pl.String()))),
    ).sort(["attempts", "total_cost_usd", "task_id"], descending=[True, True, False])


# --------------------------------------------------------------------------------------------
# Backlog
# --------------------------------------------------------------------------------------------


def backlog_tasks(
    sessions: pl.DataFrame,
    errors: pl.DataFrame,
    events: pl.DataFrame | None = None,
    *,
    min_attempts: int = BACKLOG_MIN_ATTEMPTS,
) -> pl.DataFrame:
    """Tasks that need a human look: more than ``min_attempts`` attempts, or still failing.

    ``reason`` says which (``many_attempts``, ``still_failing`` or both). Most attempts first, then
    the most expensive.
    """
    overview = task_overview(sessions, errors, events)
    many = pl.col("attempts") > min_attempts
    return (
        overview.filter(many | pl.col("still_failing"))
        .with_columns(
            pl.when(many & pl.col("still_failing"))
            .then(pl.lit("many_attempts+still_failing"))
            .when(many)
            .then(pl.lit("many_attempts"))
            .otherwise(pl.lit("still_failing"))
            .alias("reason")
        )
        .select(
            "task_id",
            "task_title",
            "reason",
            "status",
            "attempts",
            "succeeded",
            "still_failing",
            "executors",
            "total_cost_usd",
            "errors",
            "followups",
            "root_causes",
            "top_clusters",
            "first_seen",
            "last_seen",
        )
    )


# --------------------------------------------------------------------------------------------
# Task planning heuristics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanningRule:
    """One heuristic: a name, the seed's wording of the advice, and a plain statement of when it fires."""

    name: str
    improvement: str
    when: str


# Error categories and message patterns each rule looks for. Categories are what the orchestrator
# logs (``error_category``); the patterns catch errors logged without one.
DEPENDENCY_CATEGORIES = frozenset({"dependency", "dependencies", "package", "npm", "pip"})
DEPENDENCY_PATTERN = (
    r"(?i)cannot find module|module ?not ?found|no module named|npm err!|no matching distribution"
    r"|could not resolve dependenc|unable to resolve dependency|eresolve|command not found"
)
ENVIRONMENT_CATEGORIES = frozenset({"environment", "env", "api_key", "config", "configuration"})
ENVIRONMENT_PATTERN = (
    r"(?i)api[_ -]?key|environment variable|env var|is not set\b|not set in\b|docker daemon"
    r"|econnrefused|eaddrinuse|certificate verify failed"
)
AUTH_CATEGORIES = frozenset({"auth", "authentication", "permission", "permissions", "credentials"})
AUTH_PATTERN = (
    r"(?i)permission denied|permission to .* denied|unauthori[sz]ed|forbidden|\b40[13]\b"
    r"|authentication (failed|required)|access denied|bad credentials|invalid (token|credentials)"
)
SCOPE_CATEGORIES = frozenset({"scope"})
SCOPE_PATTERN = r"(?i)scope|new requirement|requirement change|additional (feature|requirement)|also add"
COMPLEXITY_CATEGORIES = frozenset({"timeout"})
COMPLEXITY_PATTERN = r"(?i)maximum context length|context window|context_length|timed out after"

SCOPE_MIN_FOLLOWUPS = 5  # follow-ups on one task before we call it scope creep
COMPLEXITY_MIN_ATTEMPTS = 3
COMPLEXITY_DURATION_FACTOR = 2.0  # a task's median attempt vs. the median attempt of all tasks

RULES: tuple[PlanningRule, ...] = (
    PlanningRule(
        "missing_dependency_setup",
        "Missing dependency setup in task description",
        "an error of category dependency (or a message like 'Cannot find module', 'npm ERR!', "
        "'No matching distribution')",
    ),
    PlanningRule(
        "missing_environment_setup",
        "Missing environment setup instructions (env vars, API keys, services)",
        "an error of category environment or api_key (or a message about a missing API key or "
        "environment variable, a refused connection, a busy port, an unavailable Docker daemon)",
    ),
    PlanningRule(
        "auth_problems",
        "Authentication/permission problems: provide credentials or access before assigning",
        "an error of category auth (or a message with 401/403, 'permission denied', 'unauthorized')",
    ),
    PlanningRule(
        "scope_creep",
        "Scope creep: split the task or pin its scope in the description",
        f"an error of category scope, a follow-up whose reason mentions scope or new requirements, "
        f"or at least {SCOPE_MIN_FOLLOWUPS} follow-ups on the task",
    ),
    PlanningRule(
        "complexity_mismatch",
        "Complexity mismatch: break the task down or raise its complexity label",
        f"at least {COMPLEXITY_MIN_ATTEMPTS} attempts and no first-shot success, together with a "
        f"median attempt duration {COMPLEXITY_DURATION_FACTOR:g}x the overall median, a timed-out "
        "attempt, or a context-window/timeout error",
    ),
)
RULES_BY_NAME: dict[str, PlanningRule] = {r.name: r for r in RULES}


def _category_or_message(categories: frozenset[str], pattern: str) -> pl.Expr:
    cat = pl.col("error_category").str.to_lowercase()
    return cat.is_in(sorted(categories)).fill_null(False) | pl.col("error_message").str.contains(
        pattern
    ).fill_null(False)


def _error_signals(errors: pl.DataFrame) -> pl.DataFrame:
    """Per task: how many errors match each error-based rule, and one example cluster each."""
    flags = {
        "missing_dependency_setup": _category_or_message(DEPENDENCY_CATEGORIES, DEPENDENCY_PATTERN),
        "missing_environment_setup": _category_or_message(ENVIRONMENT_CATEGORIES, ENVIRONMENT_PATTERN),
        "auth_problems": _category_or_message(AUTH_CATEGORIES, AUTH_PATTERN),
        "scope_creep": _category_or_message(SCOPE_CATEGORIES, SCOPE_PATTERN),
        "complexity_mismatch": _category_or_message(COMPLEXITY_CATEGORIES, COMPLEXITY_PATTERN),
    }
    if errors.is_empty():
        return pl.DataFrame(
            schema={"task_id": pl.String(), **{f"n_{k}": pl.UInt32() for k in flags}}
            | {f"ex_{k}": pl.String() for k in flags}
        )
    flagged = errors.filter(pl.col("task_id").is_not_null()).with_columns(
        **{f"f_{k}": v for k, v in flags.items()}
    )
    return flagged.group_by("task_id").agg(
        *[pl.col(f"f_{k}").sum().cast(pl.UInt32()).alias(f"n_{k}") for k in flags],
        *[
            pl.col("cluster_label").filter(pl.col(f"f_{k}")).mode().sort().first().alias(f"ex_{k}")
            for k in flags
        ],
    )


def _followup_signals(events: pl.DataFrame | None) -> pl.DataFrame:
    """Per task: follow-ups whose reason or message mentions scope or new requirements."""
    schema = {"task_id": pl.String(), "scope_followups": pl.UInt32(), "scope_reason": pl.String()}
    if events is None or events.is_empty():
        return pl.DataFrame(schema=schema)
    text = pl.concat_str(pl.col("reason").fill_null(""), pl.col("message").fill_null(""), separator=" ")
    return (
        events.lazy()
        .filter((pl.col("event_type") == "followup_sent") & pl.col("task_id").is_not_null())
        .filter(text.str.contains(SCOPE_PATTERN))
        .group_by("task_id")
        .agg(
            pl.len().cast(pl.UInt32()).alias("scope_followups"),
            pl.coalesce("reason", "message").drop_nulls().first().alias("scope_reason"),
        )
        .collect()
    )


def task_planning_insights(
    sessions: pl.DataFrame,
    errors: pl.DataFrame,
    events: pl.DataFrame | None = None,
    *,
    failed_only: bool = False,
) -> pl.DataFrame:
    """One row per (task, rule that fires), with evidence; see :data:`RULES` for each rule.

    ``failed_only`` keeps tasks without a successful attempt (the seed's ``--failed-only``). Tasks
    where no rule fires do not appear. Evidence counts are per task, over all its attempts.
    """
    overview = task_overview(sessions, errors, events)
    if failed_only:
        overview = overview.filter(~pl.col("succeeded"))
    if overview.is_empty():
        return _empty_insights()
    overall_median = cast(float | None, sessions.filter(~pl.col("is_open"))["duration_ms"].median())
    first_shot = (
        sessions.group_by("task_id")
        .agg((pl.col("is_first_shot") & pl.col("succeeded")).any().alias("first_shot_success"))
        .filter(pl.col("task_id").is_not_null())
    )
    t = (
        overview.join(_error_signals(errors), on="task_id", how="left")
        .join(_followup_signals(events), on="task_id", how="left")
        .join(first_shot, on="task_id", how="left")
        .with_columns(
            pl.col("^n_.*$").fill_null(0),
            pl.col("scope_followups").fill_null(0),
            pl.col("first_shot_success").fill_null(False),
        )
    )
    long_tasks = (
        pl.col("median_duration_ms") >= COMPLEXITY_DURATION_FACTOR * overall_median
        if overall_median is not None
        else pl.lit(False)
    )
    fired = {
        "missing_dependency_setup": pl.col("n_missing_dependency_setup") > 0,
        "missing_environment_setup": pl.col("n_missing_environment_setup") > 0,
        "auth_problems": pl.col("n_auth_problems") > 0,
        "scope_creep": (pl.col("n_scope_creep") > 0)
        | (pl.col("scope_followups") > 0)
        | (pl.col("followups") >= SCOPE_MIN_FOLLOWUPS),
        "complexity_mismatch": (pl.col("attempts") >= COMPLEXITY_MIN_ATTEMPTS)
        & ~pl.col("first_shot_success")
        & (long_tasks.fill_null(False) | (pl.col("timeouts") > 0) | (pl.col("n_complexity_mismatch") > 0)),
    }
    evidence = {
        "missing_dependency_setup": _count_evidence("missing_dependency_setup", "dependency error"),
        "missing_environment_setup": _count_evidence(
            "missing_environment_setup", "environment/API-key error"
        ),
        "auth_problems": _count_evidence("auth_problems", "auth error"),
        "scope_creep": pl.concat_str(
            pl.lit("scope errors: "),
            pl.col("n_scope_creep").cast(pl.String()),
            pl.lit(", scope follow-ups: "),
            pl.col("scope_followups").cast(pl.String()),
            pl.lit(", follow-ups: "),
            pl.col("followups").cast(pl.String()),
        ),
        "complexity_mismatch": pl.concat_str(
            pl.col("attempts").cast(pl.String()),
            pl.lit(" attempts, median attempt "),
            (pl.col("median_duration_ms") / 1000).round(1).cast(pl.String()).fill_null("?"),
            pl.lit(f"s (overall {(overall_median or 0) / 1000:.1f}s), timeouts: "),
            pl.col("timeouts").cast(pl.String()),
            pl.lit(", context/timeout errors: "),
            pl.col("n_complexity_mismatch").cast(pl.String()),
        ),
    }
    parts = []
    for rule in RULES:
        parts.append(
            t.filter(fired[rule.name]).select(
                "task_id",
                "task_title",
                "status",
                "attempts",
                "succeeded",
                pl.lit(rule.name).alias("rule"),
                pl.lit(rule.improvement).alias("improvement"),
                evidence[rule.name].alias("evidence"),
                "root_causes",
                "total_cost_usd",
            )
        )
    out = pl.concat(parts, how="vertical")
    rule_order = pl.col("rule").replace_strict(
        {r.name: i for i, r in enumerate(RULES)}, return_dtype=pl.Int32
    )
    return out.sort([pl.col("attempts"), pl.col("task_id"), rule_order], descending=[True, False, False])


def _count_evidence(rule: str, noun: str) -> pl.Expr:
    return pl.concat_str(
        pl.col(f"n_{rule}").cast(pl.String()),
        pl.lit(f" {noun}(s)"),
        pl.when(pl.col(f"ex_{rule}").is_not_null())
        .then(pl.lit(", e.g. ") + pl.col(f"ex_{rule}"))
        .otherwise(pl.lit("")),
    )


def _empty_insights() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "task_id": pl.String(),
            "task_title": pl.String(),
            "status": pl.String(),
            "attempts": pl.UInt32(),
            "succeeded": pl.Boolean(),
            "rule": pl.String(),
            "improvement": pl.String(),
            "evidence": pl.String(),
            "root_causes": pl.List(pl.Struct({"category": pl.String(), "count": pl.UInt32()})),
            "total_cost_usd": pl.Float64(),
        }
    )


# --------------------------------------------------------------------------------------------
# Correlation: error clusters vs task characteristics
# --------------------------------------------------------------------------------------------

CORRELATION_DIMENSIONS: tuple[str, ...] = ("executor", "model", "prompt_type", "title_keyword")
MIN_SUPPORT = 5  # attempts having both the cluster and the characteristic
MIN_GROUP = 10  # attempts having the characteristic
_STOPWORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "the",
        "of",
        "for",
        "to",
        "in",
        "on",
        "with",
        "from",
        "by",
        "into",
        "via",
        "at",
        "as",
        "is",
        "are",
        "be",
        "or",
        "not",
        "no",
        "add",
        "fix",
        "use",
        "new",
        "update",
        "support",
        "implement",
        "make",
        "create",
        "set",
        "get",
        "our",
        "all",
    )
)  # fmt: skip


def title_keywords(title: pl.Expr) -> pl.Expr:
    """Distinct lower-case words of a task title (3+ characters, stop words removed)."""
    words = title.str.to_lowercase().str.extract_all(r"[a-z][a-z0-9]{2,}")
    return words.list.eval(pl.element().filter(~pl.element().is_in(sorted(_STOPWORDS)))).list.unique()


def correlation(
    sessions: pl.DataFrame,
    errors: pl.DataFrame,
    *,
    min_support: int = MIN_SUPPORT,
    min_group: int = MIN_GROUP,
) -> pl.DataFrame:
    """Which error clusters go with which attempt characteristics, as lift over the base rate.

    The unit is the attempt. For cluster *c* and characteristic *f* (``executor = CODEX``,
    ``title_keyword = oauth``...): ``base_rate`` = share of all attempts hitting *c*,
    ``rate`` = share of attempts with *f* hitting *c*, ``lift`` = rate / base_rate. ``support`` is the
    number of attempts with both; pairs with support below ``min_support`` or fewer than
    ``min_group`` attempts with *f* are dropped, since a lift of 5 from two attempts is noise.
    Sorted by lift, then support.
    """
    schema = {
        "cluster_id": pl.String(),
        "cluster_label": pl.String(),
        "dimension": pl.String(),
        "value": pl.String(),
        "support": pl.UInt32(),
        "group_attempts": pl.UInt32(),
        "cluster_attempts": pl.UInt32(),
        "total_attempts": pl.UInt32(),
        "rate": pl.Float64(),
        "base_rate": pl.Float64(),
        "lift": pl.Float64(),
    }
    total = sessions["attempt_id"].n_unique()
    if total == 0 or errors.is_empty():
        return pl.DataFrame(schema=schema)
    features = (
        pl.concat(
            [
                sessions.select(
                    "attempt_id",
                    pl.lit(dim).alias("dimension"),
                    pl.col(dim).cast(pl.String()).alias("value"),
                )
                for dim in ("executor", "model", "prompt_type")
            ]
            + [
                sessions.select(
                    "attempt_id",
                    pl.lit("title_keyword").alias("dimension"),
                    title_keywords(pl.col("task_title")).alias("value"),
                ).explode("value")
            ],
            how="vertical",
        )
        .filter(pl.col("value").is_not_null())
        .unique()
    )
    group_sizes = features.group_by("dimension", "value").agg(
        pl.len().cast(pl.UInt32()).alias("group_attempts")
    )
    hits = errors.select("attempt_id", "cluster_id", "cluster_label").unique(
        subset=["attempt_id", "cluster_id"]
    )
    cluster_sizes = hits.group_by("cluster_id").agg(
        pl.len().cast(pl.UInt32()).alias("cluster_attempts"), pl.col("cluster_label").first()
    )
    pairs = (
        hits.select("attempt_id", "cluster_id")
        .join(features, on="attempt_id", how="inner")
        .group_by("cluster_id", "dimension", "value")
        .agg(pl.len().cast(pl.UInt32()).alias("support"))
    )
    return (
        pairs.join(group_sizes, on=["dimension", "value"])
        .join(cluster_sizes, on="cluster_id")
        .filter((pl.col("support") >= min_support) & (pl.col("group_attempts") >= min_group))
        .with_columns(
            pl.lit(total, dtype=pl.UInt32()).alias("total_attempts"),
            (pl.col("support") / pl.col("group_attempts")).alias("rate"),
            (pl.col("cluster_attempts") / total).alias("base_rate"),
        )
        .with_columns((pl.col("rate") / pl.col("base_rate")).alias("lift"))
        .select(list(schema))
        .sort(
            ["lift", "support", "cluster_id", "dimension", "value"],
            descending=[True, True, False, False, False],
        )
    )


__all__ = [
    "RULES",
    "RULES_BY_NAME",
    "PlanningRule",
    "backlog_tasks",
    "correlation",
    "task_overview",
    "task_planning_insights",
    "title_keywords",
]

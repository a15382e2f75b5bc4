"""``agent-pipelines estimate``: what an attempt at a task will cost, before it runs, with an interval.

Uses the cost model the ``cost_forecast`` asset saved (the data folder's ``models/cost_forecast``);
without one (or with ``--retrain``) it trains one from the log folder's finished attempts, which
takes about a second. The forecast is per attempt: a median and a 90% conformal interval
(:mod:`agent_pipelines.predict.cost` says what that can and cannot promise).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from agent_pipelines.cli.common import (
    CommandError,
    add_data_dir,
    add_logs_dir,
    data_path,
    existing_logs_dir,
    fail,
    print_json,
)
from agent_pipelines.core.reader import read_logs

if TYPE_CHECKING:  # scikit-learn loads only when the command runs: every other command starts faster
    from agent_pipelines.predict import cost

MODEL_NAME = "cost_forecast"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="forecast an attempt's cost before it runs (median and 90%% interval)",
        description="Forecast what one attempt at a task will cost, from the task's description, kind, "
        "executor and model, with a 90%% conformal interval learned from finished attempts.",
    )
    parser.add_argument("description", help="the task description (its length and first word count)")
    parser.add_argument("--executor", required=True, help="e.g. CODEX, CLAUDE_CODE")
    parser.add_argument("--model", default="unknown", help="the model (default: unknown)")
    parser.add_argument(
        "--title", help="the task title (default: the description); its first word is the kind"
    )
    parser.add_argument("--retry", action="store_true", help="the attempt is a retry of a failed one")
    parser.add_argument("--variant", help="the prompt variant (session_start's prompt_variant)")
    parser.add_argument(
        "--retrain", action="store_true", help="train from the log folder, not the saved model"
    )
    add_logs_dir(parser)
    add_data_dir(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _model(args: argparse.Namespace) -> tuple[cost.CostModel, str]:
    from agent_pipelines.predict import cost, store

    if not args.retrain:
        loaded = store.load_latest(data_path(args), MODEL_NAME)
        if loaded is not None and isinstance(loaded[0], cost.CostModel):
            return loaded[0], f"model {loaded[1].get('version')}"
    root = existing_logs_dir(args)
    model = cost.train(cost.task_rows(read_logs(root).events))
    if model is None:
        raise CommandError(
            f"too few finished attempts in {root} to learn costs from (need {cost.MIN_ATTEMPTS})"
        )
    return model, f"trained now on {model.trained_on} finished attempts in {root}"


def run(args: argparse.Namespace) -> int:
    try:
        model, source = _model(args)
    except CommandError as exc:
        return fail(str(exc))
    result: dict[str, Any] = model.one(description=args.description, executor=args.executor, model=args.model,
                                       title=args.title, retry=args.retry, variant=args.variant)  # fmt: skip
    result = {k: round(float(v), 4) for k, v in result.items()}
    result.update(level=model.level, source=source)
    if args.json:
        print_json(result)
        return 0
    print(
        f"${result['forecast_usd']:.2f} per attempt ({model.level:.0%} interval "
        f"${result['low_usd']:.2f}–${result['high_usd']:.2f}) for {args.executor}/{args.model}; {source}"
    )
    return 0

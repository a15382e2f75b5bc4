"""``agent-pipelines experiments``: which prompt variant, executor or model is really better.

Reads the log folder's attempts and prints, per variant, success, first-shot success, cost and time
with their 95% intervals and each variant's probability of being the best; then every pair of
variants with Holm's correction for the number of pairs (the same figures as the ``experiments_table``
asset; :mod:`agent_pipelines.predict.comparisons` says why). With two variants the one pair is the
plain comparison.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from agent_pipelines.cli.common import add_logs_dir, existing_logs_dir, fail, print_json
from agent_pipelines.cli.tables import box_table
from agent_pipelines.core.reader import read_logs

GROUPINGS = ("prompt_variant", "executor", "model")
METRIC_CHOICES = ("success", "first_shot", "cost_usd", "minutes")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "experiments",
        help="compare prompt variants, executors or models (intervals, P(best), Holm-corrected pairs)",
        description="Compare variants on success, first-shot success, cost and time: each with its 95%% "
        "interval and probability of being best, and every pair with Holm's correction and the sessions "
        "still needed to tell.",
    )
    parser.add_argument("--by", choices=GROUPINGS, default="prompt_variant", help="what a variant is")
    parser.add_argument(
        "--metric", choices=METRIC_CHOICES, action="append", help="only these metrics (repeatable)"
    )
    parser.add_argument("--all-pairs", action="store_true", help="list the even pairs too, not only claims")
    add_logs_dir(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _value(metric: str, x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if metric in ("success", "first_shot"):
        return f"{x:.1%}"
    return f"${x:.3f}" if metric == "cost_usd" else f"{x:.1f} min"


def run(args: argparse.Namespace) -> int:
    from agent_pipelines.predict import comparisons, experiments

    root = existing_logs_dir(args)
    attempts = experiments.attempt_table(read_logs(root).events)
    table = comparisons.variant_table(attempts, args.by)
    if table.is_empty():
        return fail(f"no {args.by.replace('_', ' ')} in the attempts of {root}")
    pairs = comparisons.pairwise(attempts, args.by)
    metrics = args.metric or list(METRIC_CHOICES)
    table = table.filter(table["metric"].is_in(metrics))
    pairs = pairs.filter(pairs["metric"].is_in(metrics)) if pairs.height else pairs
    if args.json:
        print_json({"by": args.by, "variants": table.to_dicts(), "pairs": pairs.to_dicts()})
        return 0
    rows = [
        [experiments.NAMES[r["metric"]], r["variant"], r["n"], _value(r["metric"], r["value"]),
         f"{_value(r['metric'], r['low'])}–{_value(r['metric'], r['high'])}",
         "–" if r.get("p_best") is None else f"{r['p_best']:.0%}"]
        for r in table.iter_rows(named=True)
    ]  # fmt: skip
    print(box_table(["metric", args.by, "n", "value", "95% interval", "P(best)"], rows))
    if pairs.is_empty():
        print("One variant only: nothing to compare.")
        return 0
    shown = pairs if args.all_pairs else pairs.filter(pairs["claimed"])
    count = int(pairs["pairs"].max() or 0)  # type: ignore[arg-type]
    print(f"\n{count} pair(s) per metric, Holm-corrected at 5% (intervals simultaneous at 95%):")
    for r in shown.iter_rows(named=True):
        print(f"- {r['sentence']}")
    even = pairs.height - shown.height
    if even:
        print(f"- {even} other pair(s) even at this size (--all-pairs lists them with the sessions needed)")
    return 0

"""Prediction benchmark: failure risk, cost forecast and experiment intervals, judged honestly.

    .venv/bin/python benchmarks/bench_prediction.py                 # generated logs with --signal
    .venv/bin/python benchmarks/bench_prediction.py --logs DIR ...  # any log folder(s), imports included
    .venv/bin/python benchmarks/bench_prediction.py --real DIR ...  # SWE-agent runs with outcomes to judge on

For each log folder: the failure-risk model is trained on the attempts that ended before the last
quarter of the period and scored on the rest (a hash of the attempt id instead when all attempts fall
in one short period) at 2, 5 and 10 minutes and after 5, 10 and 20 events, beside the base rate, the
per-executor rate and the last week's per-executor rate; the live scorer replays the held-out
attempts to count alerts at several thresholds (caught failures, false alarms); the cost forecast
reports MAE beside the mean and per-executor mean and the coverage of its 90% interval. On generated
logs the generator's own probability of failure is shown as a ceiling (what a model that knew the
hidden state could reach), never as a feature. Then, over many seeds, how often the experiment's 95%
intervals cover the generator's true effect of prompt variant B (first-shot success) and its true
cost effect (none). Last, *real sessions*: SWE-agent / mini-swe-agent trajectories with their
evaluation report (default: tests/data/swe_sessions, eleven SWE-bench runs) are imported as a user
would, and the models trained on the first log folder score them: ROC-AUC with a bootstrap interval,
base rate and count per event cutoff, and the cost forecast's error beside the runs' own mean.
Writes its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmarks_md import write_section  # noqa: E402

from agent_pipelines.core.reader import read_logs  # noqa: E402
from agent_pipelines.generator import generate  # noqa: E402
from agent_pipelines.ingest.importers import SOURCES, run_import  # noqa: E402
from agent_pipelines.predict import comparisons, cost, evaluation, experiments, external, live, risk  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.8)
REAL_DEFAULT = ROOT / "tests" / "data" / "swe_sessions"


def fmt(x: Any, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def oracle_rows(root: Path, snaps_test: pl.DataFrame) -> list[dict[str, Any]]:
    """The generator's own P(failure) per held-out attempt, as a ceiling (generated logs only)."""
    truth_file = root / "ground-truth.json"
    if not truth_file.exists():
        return []
    attempts = json.loads(truth_file.read_text()).get("attempts", [])
    p = {
        a["attempt_id"]: 1 - a["p_success_if"][a["prompt_variant"]] for a in attempts if a.get("p_success_if")
    }
    if not p:
        return []
    rows = []
    for (cutoff,), group in snaps_test.group_by(["cutoff"]):
        group = group.filter(pl.col("attempt_id").is_in(list(p)))
        if group.height >= 10 and group["failed"].n_unique() == 2:
            scores = np.array([p[a] for a in group["attempt_id"].to_list()])
            rows.append(
                {
                    "cutoff": cutoff,
                    "predictor": "ceiling: generator's P",
                    **risk.metrics(group["failed"].to_numpy(), scores),
                }
            )
    return rows


def alert_rates(events: pl.DataFrame, model: risk.RiskModel) -> list[dict[str, Any]]:
    """Replay the held-out attempts through the live scorer at each threshold."""
    ends = evaluation_ends(events)
    mode, moment = evaluation.split_mode(ends["ended_at"])
    test_ids = ends.filter(evaluation.is_test(ends, mode, moment, "ended_at"))
    later = events.join(test_ids.select("attempt_id"), on="attempt_id", how="semi").sort("timestamp")
    out = []
    by_threshold = live.replay(later, model, THRESHOLDS)
    for threshold in THRESHOLDS:
        flagged = by_threshold[threshold]
        failed = test_ids.filter(pl.col("failed") == 1)
        ok = test_ids.filter(pl.col("failed") == 0)
        caught = sum(
            flagged.get(a, 1 << 62) < e for a, e in failed.select("attempt_id", "end_ms").iter_rows()
        )
        out.append({
            "threshold": threshold,
            "caught": caught / max(failed.height, 1),
            "false_alarms": sum(a in flagged for a in ok["attempt_id"]) / max(ok.height, 1),
            "precision": caught / max(len(flagged), 1),
            "failures": failed.height, "successes": ok.height,
        })  # fmt: skip
    return out


def evaluation_ends(events: pl.DataFrame) -> pl.DataFrame:
    from agent_pipelines.predict.features import outcomes

    return outcomes(events).with_columns(end_ms=pl.col("ended_at").dt.epoch("ms"))


def risk_lines(events: pl.DataFrame, root: Path) -> list[str]:
    t0 = time.perf_counter()
    model, rows, split = evaluation.failure_risk(events)
    seconds = time.perf_counter() - t0
    if model is None:
        ends = events.filter(pl.col("event_type") == "session_end").height
        return [
            f"Failure risk: no model ({ends} finished attempts; at least {risk.MIN_TRAINING_ATTEMPTS} with "
            "both outcomes are needed: imported transcripts rarely record an outcome).",
            "",
        ]
    snaps = risk.labelled_snapshots(events, evaluation.eval_cutoffs())
    mode, moment = evaluation.split_mode(snaps["ended_at"])
    rows += oracle_rows(root, snaps.filter(evaluation.is_test(snaps, mode, moment, "ended_at")))
    table = pl.DataFrame(rows)
    lines = [
        f"Failure risk (split: {split}; evaluation and training {seconds:.1f} s, "
        f"the model trained on {model.trained_on:,} attempts):",
        "",
        "| cutoff | predictor | ROC-AUC | Brier | attempts | failure rate |",
        "|---|---|---|---|---|---|",
    ]
    for cut in [c.label for c in evaluation.eval_cutoffs()]:
        for r in table.filter(pl.col("cutoff") == cut).iter_rows(named=True):
            lines.append(
                f"| {cut} | {r['predictor']} | {fmt(r['roc_auc'])} | {fmt(r['brier'])} | {r['n']:,} | "
                f"{r['failure_rate']:.2f} |"
            )
    lines += [
        "",
        "Live `predicted_failure` on the held-out attempts (replayed in 30-second batches through the live "
        "scorer):",
        "",
        "| threshold | failures flagged before their end | false alarms (successes flagged) | precision |",
        "|---|---|---|---|",
    ]
    for r in alert_rates(events, model):
        lines.append(
            f"| {r['threshold']} | {r['caught']:.1%} of {r['failures']:,} | "
            f"{r['false_alarms']:.1%} of {r['successes']:,} | {r['precision']:.0%} |"
        )
    return [*lines, ""]


def cost_lines(events: pl.DataFrame) -> list[str]:
    t0 = time.perf_counter()
    model, scores = evaluation.cost_forecast(events)
    seconds = time.perf_counter() - t0
    if model is None or not scores:
        return ["Cost forecast: too few finished attempts with a cost.", ""]
    return [
        f"Cost forecast ({scores['split']} split, {scores['n_test']:,} later attempts; {seconds:.1f} s): "
        f"MAE ${scores['mae_model']:.4f} (overall mean ${scores['mae_mean']:.4f}, per-executor mean "
        f"${scores['mae_per_executor_mean']:.4f}); the {scores['interval_level']:.0%} interval covers "
        f"{scores['interval_coverage']:.1%} (mean width ${scores['interval_width_usd']:.3f}).",
        "",
    ]


def one_folder(root: Path) -> tuple[str, pl.DataFrame]:
    events = read_logs(root).events
    head = f"### `{root.name}`: {events.height:,} events, {events['attempt_id'].n_unique():,} attempts"
    return "\n".join([head, "", *risk_lines(events, root), *cost_lines(events)]), events


def import_runs(root: Path, tmp: Path) -> pl.DataFrame:
    """SWE-agent and mini-swe-agent trajectories under ``root`` imported as a user would, every run
    closed (a day after the newest file: trajectories end at their file's time)."""
    files = [*root.rglob("*.traj"), *root.rglob("*.traj.json")]
    if not files:
        return pl.DataFrame()
    now = datetime.fromtimestamp(max(f.stat().st_mtime for f in files) + 86_400, UTC)
    logs = tmp / "real-logs"
    for source in ("swe-agent", "mini-swe-agent"):
        run_import(SOURCES[source], [root], logs_dir=logs, data_dir=tmp / "real-data", now=now)
    return read_logs(logs).events


def real_lines(root: Path, source: str, source_events: pl.DataFrame, tmp: Path) -> list[str]:
    """The models trained on ``source_events`` judged on the real runs under ``root``."""
    events = import_runs(root, tmp)
    ends = events.filter(pl.col("event_type") == "session_end") if events.height else events
    head = f"### Real sessions: `{root.name}` ({ends.height} runs with an outcome)"
    risk_model = risk.train(source_events)
    cost_model = cost.train(cost.task_rows(source_events))
    if ends.is_empty() or risk_model is None or cost_model is None:
        return [head, "", "No runs with an outcome, or no model (too few finished attempts to train on).", ""]
    agents = ", ".join(sorted({f"{e}/{m}" for e, m in ends.select("executor", "model").iter_rows()}))
    lines = [
        head,
        "",
        f"Runs of {agents}; outcome from the evaluation report beside them (resolved: success). "
        f"Scored by the models trained on `{source}` ({risk_model.trained_on:,} attempts), which never saw "
        "these runs, their executor, model or kind of task; event cutoffs only (trajectories have no clock):",
        "",
        "| cutoff | runs | failed | failure rate | ROC-AUC (95% bootstrap CI) | Brier "
        "| Brier of the rate itself |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = external.risk_rows(events, risk_model)
    for r in rows:
        auc = "–" if r["roc_auc"] is None else f"{r['roc_auc']:.2f} ({r['auc_low']:.2f}–{r['auc_high']:.2f})"
        lines.append(
            f"| {r['cutoff']} | {r['n']} | {r['failures']} | {r['failure_rate']:.2f} | {auc} | "
            f"{r['brier']:.3f} | {r['brier_base_rate']:.3f} |"
        )
    lines += ["", real_verdict(rows)]
    c = external.cost_summary(events, cost_model)
    if c:
        lines += [
            "",
            f"Cost forecast on the {c['n']} runs (real mean ${c['mean_cost_usd']:.3f}, forecast mean "
            f"${c['mean_forecast_usd']:.3f}; median forecast/actual {c['median_ratio']:.2f}): MAE "
            f"${c['mae_model']:.3f} against ${c['mae_loo_mean']:.3f} for the runs' own leave-one-out mean; "
            f"the {c['interval_level']:.0%} interval covers {c['interval_coverage']:.0%}.",
        ]
    return [*lines, ""]


def real_verdict(rows: list[dict[str, Any]]) -> str:
    """One plain sentence on what the table can and cannot say."""
    judged = [r for r in rows if r["roc_auc"] is not None]
    if not judged:
        return "No cutoff has both outcomes: no ROC-AUC."
    first = judged[0]
    if first["auc_low"] <= 0.5 <= first["auc_high"]:
        return (
            f"At {first['cutoff']} ({first['n']} runs) the interval includes 0.5: no evidence that the model "
            "ranks these real runs better than chance (nor worse); it takes far more runs to say."
        )
    side = "better" if first["auc_low"] > 0.5 else "worse"
    return f"At {first['cutoff']} ({first['n']} runs) the model ranks these real runs {side} than chance."


def ci_coverage(seeds: int, tasks: int) -> str:
    """How often the 95% intervals cover the true effects, over ``seeds`` generated data sets."""
    covered = {"first_shot": 0, "cost_usd": 0, "found": 0}
    widths: list[float] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            root = Path(tmp) / f"s{seed}"
            start = date(2026, 4, 6)
            generate(
                root,
                days=2,
                tasks=tasks,
                seed=1000 + seed,
                start=start,
                workers=1,
                signal=True,
                transcripts=False,
            )
            truth = json.loads((root / "ground-truth.json").read_text())
            firsts = [a for a in truth["attempts"] if a["attempt_number"] == 1 and a["completion_status"]]
            true_fs = float(np.mean([a["p_success_if"]["B"] - a["p_success_if"]["A"] for a in firsts]))
            table = experiments.compare(experiments.attempt_table(read_logs(root).events), "prompt_variant")
            b_rows = {r["metric"]: r for r in table.filter(pl.col("variant") == "B").iter_rows(named=True)}
            fs, c = b_rows["first_shot"], b_rows["cost_usd"]
            covered["first_shot"] += fs["diff_low"] <= true_fs <= fs["diff_high"]
            covered["cost_usd"] += c["diff_low"] <= 0.0 <= c["diff_high"]
            covered["found"] += fs["diff_low"] > 0
            widths.append(fs["diff_high"] - fs["diff_low"])
    seconds = time.perf_counter() - t0
    return "\n".join(
        [
            f"Experiment intervals over {seeds} generated data sets ({tasks:,} tasks each, prompt variants "
            f"A/B, {seconds:.0f} s): the 95% interval of B − A",
            f"- on first-shot success covers the generator's true effect (the mean of P(B) − P(A) over the "
            f"first attempts) in **{covered['first_shot'] / seeds:.0%}** of data sets (mean width "
            f"{np.mean(widths) * 100:.1f} points); it excludes 0 (B found better) in "
            f"{covered['found'] / seeds:.0%};",
            f"- on cost covers the true effect (none) in **{covered['cost_usd'] / seeds:.0%}**.",
        ]
    )


def multi_variant_lines(runs: int, n: int = 300, seed: int = 0) -> list[str]:
    """Four variants, ``runs`` simulated experiments each way (binomial draws, ``n`` sessions per
    variant): all equal (40% success), then one better by 10 points. How often a difference is
    claimed among equal variants without and with Holm, how often the better one is claimed over
    every other, and how often P(best) > 95% names it (or another)."""
    rng = np.random.default_rng(seed)
    names = ["A", "B", "C", "D"]
    raw = holm = power = right = wrong = 0
    t0 = time.perf_counter()
    for run in range(runs):
        for better in (False, True):
            rates = [0.4, 0.4, 0.4, 0.5 if better else 0.4]
            wins = [int(rng.binomial(n, r)) for r in rates]
            pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
            ps = [comparisons.share_test(wins[i], n, wins[j], n) for i, j in pairs]
            adjusted = comparisons.holm(ps)
            if not better:
                raw += min(ps) < 0.05
                holm += min(adjusted) < 0.05
                continue
            power += all(a < 0.05 for (i, j), a in zip(pairs, adjusted, strict=True) if j == 3)
            frame = pl.DataFrame({
                "prompt_variant": [v for v, k in zip(names, wins, strict=True) for _ in range(n)],
                "success": [float(x < k) for k in wins for x in range(n)],
            })  # fmt: skip
            best = comparisons.p_best(frame, "prompt_variant", "success", draws=4000, seed=run)
            top, share = max(best.items(), key=lambda kv: kv[1])
            right += top == "D" and share > 0.95
            wrong += top != "D" and share > 0.95
    seconds = time.perf_counter() - t0
    return [
        f"More than two variants ({runs} simulated experiments each way, four variants of {n} sessions, "
        f"binomial draws, {seconds:.0f} s): with all four equal (40% success), a difference is claimed among "
        f"the six pairs in **{raw / runs:.0%}** of experiments by uncorrected 5% tests and in "
        f"**{holm / runs:.0%}** after Holm; with one variant 10 points better, Holm claims it beats each of "
        f"the other three in {power / runs:.0%}, and P(best) > 95% names it in {right / runs:.0%} "
        f"(names another in {wrong / runs:.1%}).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--logs", action="append", type=Path, help="log folder (repeatable); default: generated"
    )
    parser.add_argument("--tasks", type=int, default=6000, help="tasks of the generated folder (14 days)")
    parser.add_argument("--seeds", type=int, default=120, help="data sets for the interval coverage")
    parser.add_argument(
        "--real",
        action="append",
        type=Path,
        help=f"SWE-agent runs with their evaluation report (repeatable; default {REAL_DEFAULT})",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    source = "--logs " + " ".join(str(p) for p in args.logs) if args.logs else "generated logs with --signal"
    load = os.getloadavg()[0]
    header = (
        f"Written by `benchmarks/bench_prediction.py` ({source}); load average {load:.1f} on "
        f"{os.cpu_count()} cores at the start (timings are slower on a loaded machine)."
    )
    parts = ["## Prediction", "", header, ""]
    with tempfile.TemporaryDirectory() as tmp:
        folders = list(args.logs or [])
        if not folders:
            root = Path(tmp) / "generated-signal"
            generate(
                root,
                days=14,
                tasks=args.tasks,
                seed=1,
                start=date(2026, 3, 2),
                signal=True,
                transcripts=False,
            )
            folders.append(root)
        first: tuple[str, pl.DataFrame] | None = None
        for root in folders:
            text, events = one_folder(root)
            parts += [text, ""]
            first = first or (root.name, events)
        for real in args.real or [REAL_DEFAULT]:
            if first is not None:
                parts += real_lines(real, first[0], first[1], Path(tmp))
    if args.seeds:
        parts += multi_variant_lines(max(args.seeds * 4, 200))
        parts.append(ci_coverage(args.seeds, 800))
    section = "\n".join(parts)
    print(section)
    if not args.no_write:
        write_section("## Prediction", section)


if __name__ == "__main__":
    main()

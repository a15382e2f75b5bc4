"""Accuracy and throughput of error clustering (agent_pipelines.analytics.clustering) against drain3.

Accuracy: grouping accuracy (GA, the Loghub metric) of

* ours: masking + the template miner over the whole set (``clustering.cluster_messages``);
* ours, masking only (what the miner adds);
* drain3 (PyPI, ``TemplateMiner`` with its default configuration), without and with the masking
  instructions of drain3's own example configuration (IP, numbers, hex, ids, sequences);

on

* **generated errors**: ``agent-pipelines generate`` (fixed seed) writes ``ground-truth-errors.jsonl``,
  the true kind of every error written; judged on the whole file with fingerprints stripped, and
  with fingerprints kept through the batch path (``errors.error_occurrences``);
* ``benchmarks/data/agent_errors.jsonl``: labelled tool/agent error messages;
* **Loghub-2k** (public, corrected labels): with ``--loghub DIR`` every
  ``*_2k.log_structured_corrected.csv`` under DIR, whole; without it, the hand-copied rows in
  ``benchmarks/data/loghub2k_sample.txt`` (a sample, said so in the table).

Throughput: messages/s of the batch path (``add_cluster_columns``: masking in polars + mining) and
of drain3 on the same generated error messages in the same run (runs alternated, best of two), wall
clock and per CPU second, with the load average.

    .venv/bin/python benchmarks/bench_clustering.py [--loghub DIR] [--rows 200000] [--no-write]

Results are printed and written to the "## Error clustering accuracy" section of BENCHMARKS.md
(other sections are left alone).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from datetime import date
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks_md import write_section  # noqa: E402
from variable_classes import variable_classes  # noqa: E402

from agent_pipelines.analytics import clustering, errors  # noqa: E402
from agent_pipelines.generator.error_catalog import KINDS  # noqa: E402
from agent_pipelines.text.masking import mask  # noqa: E402

DATA = Path(__file__).with_name("data")
SECTION = "## Error clustering accuracy"
GENERATED = {"days": 3, "tasks": 3000, "seed": 7, "start": date(2026, 1, 5)}


# --- metric ------------------------------------------------------------------------------
def grouping_accuracy(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Loghub grouping accuracy: share of messages whose predicted group is exactly their true group.

    A predicted cluster counts (all its messages correct) iff all its messages share one
    true label and it holds every message with that label.
    """
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    if not truth:
        return 1.0
    truth_sizes = Counter(truth)
    members: dict[Hashable, list[Hashable]] = defaultdict(list)
    for t, p in zip(truth, predicted, strict=True):
        members[p].append(t)
    correct = 0
    for labels in members.values():
        first = labels[0]
        if all(x == first for x in labels) and len(labels) == truth_sizes[first]:
            correct += len(labels)
    return correct / len(truth)


# --- methods -----------------------------------------------------------------------------
# drain3's example configuration (examples/drain3.ini in its repository), as JSON-able masks.
DRAIN3_MASKS = [
    (r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "ID"),
    (r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
]


def drain3_clusters(messages: Sequence[str], *, masking: bool) -> list[int]:
    """drain3's cluster id for each message, messages fed in order (its default depth/similarity)."""
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.masking_instructions = [MaskingInstruction(p, m) for p, m in DRAIN3_MASKS] if masking else []
    miner = TemplateMiner(config=config)
    return [miner.add_log_message(m.split("\n", 1)[0])["cluster_id"] for m in messages]


def ours(messages: Sequence[str]) -> list[str]:
    return clustering.cluster_messages(messages)


def ours_masking_only(messages: Sequence[str]) -> list[str]:
    return [mask(m) for m in messages]


METHODS: dict[str, Callable[[Sequence[str]], Sequence[Hashable]]] = {
    "ours": ours,
    "ours, masking only": ours_masking_only,
    "drain3": lambda m: drain3_clusters(m, masking=False),
    "drain3 + masking": lambda m: drain3_clusters(m, masking=True),
}


# --- datasets ----------------------------------------------------------------------------
def load_datasets() -> dict[str, tuple[list[str], list[str]]]:
    """The labelled data shipped in benchmarks/data: name -> (messages, labels)."""
    datasets: dict[str, tuple[list[str], list[str]]] = {}
    rows = [json.loads(line) for line in (DATA / "agent_errors.jsonl").read_text("utf-8").splitlines()]
    datasets["agent-errors"] = ([r["message"] for r in rows], [r["kind"] for r in rows])
    loghub: dict[str, tuple[list[str], list[str]]] = {}
    for line in (DATA / "loghub2k_sample.txt").read_text("utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        name, count, event, content = line.split(" ", 3)
        msgs, labels = loghub.setdefault(f"loghub-{name}", ([], []))
        msgs.extend([content] * int(count))
        labels.extend([event] * int(count))
    datasets.update(loghub)
    return datasets


def load_loghub(folder: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Every ``<System>_2k.log_structured_corrected.csv`` under ``folder``, whole: Content, EventId."""
    out = {}
    for path in sorted(folder.rglob("*_2k.log_structured_corrected.csv")):
        frame = pl.read_csv(path, columns=["Content", "EventId"], infer_schema=False)
        system = path.name.split("_2k.")[0]
        out[f"Loghub-2k {system}"] = (frame["Content"].fill_null("").to_list(), frame["EventId"].to_list())
    return out


def generated_logs(folder: Path) -> Path:
    from agent_pipelines.generator import generate

    generate(folder, workers=1, transcripts=False, **GENERATED)
    return folder


def generated_errors(logs: Path) -> tuple[list[str], list[str]]:
    rows = pl.read_ndjson(logs / errors.GROUND_TRUTH_ERRORS_FILE, infer_schema_length=None)
    return rows["error_message"].to_list(), rows["kind"].to_list()


def generated_with_fingerprints(logs: Path) -> dict[str, float | int]:
    from agent_pipelines.core.reader import dedupe, read_logs

    events = dedupe(read_logs(logs).events)
    truth = errors.load_error_truth(logs)
    assert truth is not None
    return errors.accuracy_against_truth(errors.error_occurrences(events), truth)


# --- runs --------------------------------------------------------------------------------
def accuracy(datasets: dict[str, tuple[list[str], list[str]]]) -> list[dict]:
    out = []
    for name, (messages, labels) in datasets.items():
        row: dict = {"dataset": name, "messages": len(messages), "kinds": len(set(labels))}
        for method, fn in METHODS.items():
            row[method] = grouping_accuracy(labels, list(fn(messages)))
        out.append(row)
        print(f"  {name}: " + ", ".join(f"{m} {row[m]:.3f}" for m in METHODS), file=sys.stderr)
    return out


def throughput_messages(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(KINDS).make(rng) for _ in range(n)]


def _timed(fn: Callable[[], object], rows: int) -> tuple[float, float]:
    """(messages per wall second, messages per CPU second of this process, all threads) of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return rows / (time.perf_counter() - wall), rows / max(time.process_time() - cpu, 1e-9)


def throughput(rows: int, drain_masking_rows: int, repeats: int = 2) -> dict[str, float]:
    """Rates of ours (batch) and drain3 on the same messages, runs alternated, best of ``repeats``.

    Alternating the methods and keeping each one's best run gives both the same chance of a
    quiet moment on a shared machine. CPU rates (process time, every thread) are reported too:
    they depend much less on what else the machine is doing than wall-clock rates do.
    """
    distinct = throughput_messages(rows)
    # Real error logs repeat themselves: the same number of rows drawn from 20,000 distinct messages.
    repeated = [distinct[i % 20_000] for i in range(rows)]
    res: dict[str, float] = {"rows": rows, "distinct": len(set(distinct)), "load": os.getloadavg()[0]}
    for suffix, messages in (("", distinct), (" repeated", repeated)):
        frame = pl.DataFrame({"error_message": messages})
        masked_sample = messages[:drain_masking_rows]
        runs: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for _ in range(repeats):
            runs["ours"].append(_timed(lambda f=frame: clustering.add_cluster_columns(f), rows))
            runs["drain3"].append(_timed(lambda m=messages: drain3_clusters(m, masking=False), rows))
        runs["drain3 + masking"].append(
            _timed(lambda m=masked_sample: drain3_clusters(m, masking=True), len(masked_sample))
        )
        for key, values in runs.items():
            res[key + suffix] = max(v[0] for v in values)
            res[key + " cpu" + suffix] = max(v[1] for v in values)
    res["drain_masking_rows"] = min(rows, drain_masking_rows)
    res["load_end"] = os.getloadavg()[0]
    return res


def render(
    acc: list[dict], fingerprints: dict[str, float | int], tp: dict[str, float], loghub_whole: bool
) -> str:
    methods = list(METHODS)
    lines = [
        SECTION,
        "",
        f"`benchmarks/bench_clustering.py` on {platform.machine()} ({os.cpu_count()} cores) / Python "
        f"{platform.python_version()} / polars {pl.__version__}, {time.strftime('%Y-%m-%d')}.",
        "",
        "Grouping accuracy (GA: share of messages whose predicted cluster is exactly their true cluster). "
        "**ours** = masking + template miner over the whole set (`clustering.cluster_messages`, one "
        "configuration for every data set); **masking only** = each message's masked text alone; "
        "**drain3** = drain3 from PyPI with its default configuration (depth 4, similarity 0.4), "
        "messages fed in order, without and with the masking instructions of its example "
        "configuration. Generated errors: `agent-pipelines generate` "
        f"(seed {GENERATED['seed']}, {GENERATED['tasks']} tasks, {GENERATED['days']} days), every line of "
        "`ground-truth-errors.jsonl`, fingerprints stripped. "
        + (
            "Loghub-2k: every `*_2k.log_structured_corrected.csv` given, whole, labelled with its EventId."
            if loghub_whole
            else "Loghub rows are the hand-copied **sample** in `benchmarks/data/loghub2k_sample.txt` "
            "(31–82 rows per system, 9 systems, the original labels, not the corrected ones), not whole "
            "sets: **the full corrected Loghub-2k (16 systems × 2,000 messages) was not measured here**; "
            "run with `--loghub DIR` for it."
        )
        + " **synthetic** rows: `benchmarks/variable_classes.py`, messages written for this benchmark in the "
        "shape of the failure classes issue 9 names (host names under many top-level domains, bracketed and "
        "enumerated node ids, lists of values, `mm:ss`/`hh:mm:ss` durations, status numbers that vary within "
        "an event, git branch names), 200 each, seeded; they check those classes, not accuracy on real logs.",
        "",
        "| dataset | messages | true clusters | " + " | ".join(methods) + " |",
        "|---|---:|---:|" + "---:|" * len(methods),
    ]
    for r in acc:
        best_drain = max(r["drain3"], r["drain3 + masking"])
        cells = []
        for m in methods:
            cell = f"{r[m]:.3f}"
            if m == "ours" and r[m] < best_drain:
                cell += " (below drain3)"
            cells.append(cell)
        lines.append(f"| {r['dataset']} | {r['messages']:,} | {r['kinds']} | " + " | ".join(cells) + " |")
    loghub = [r for r in acc if r["dataset"].lower().startswith("loghub")]
    if loghub:
        avg = {m: sum(r[m] for r in loghub) / len(loghub) for m in methods}
        lines.append(
            f"| **Loghub average ({len(loghub)} systems{'' if loghub_whole else ', sample'})** | | | "
            + " | ".join(f"**{avg[m]:.3f}**" for m in methods)
            + " |"
        )
    lines += [
        "",
        f"Generated errors with their fingerprints kept (the batch path, `errors.error_occurrences`: "
        f"fingerprint, else learned template; a template that carries a fingerprint elsewhere joins it): "
        f"GA **{fingerprints['grouping_accuracy']:.3f}** on {fingerprints['judged_events']:,} of "
        f"{fingerprints['truth_events']:,} errors, {fingerprints['predicted_clusters']} clusters for "
        f"{fingerprints['true_clusters']} true kinds.",
        "",
        f"Throughput on the same {int(tp['rows']):,} generated error messages for ours and drain3 "
        f"({int(tp['distinct']):,} distinct: the worst case, masking runs once per distinct message), "
        "then on as many rows drawn from 20,000 distinct messages (as real error logs repeat); "
        f"drain3 + masking on the first {int(tp['drain_masking_rows']):,} of each (it is slow). Ours and "
        "drain3 alternate, best of two runs each. "
        f"1-minute load average **{tp['load']:.1f}** at the start and **{tp['load_end']:.1f}** at the end "
        f"on {os.cpu_count()} cores: the machine was "
        + ("quiet" if max(tp["load"], tp["load_end"]) < 1 else "**loaded** (shared with other work)")
        + ", so wall-clock rates vary between runs; the ratios, measured in the same run, are the "
        "comparison. CPU rates count this process's CPU time over all its threads (ours masks on every "
        "core; drain3 is single-threaded Python).",
        "",
        "| messages | method | messages/s (wall) | vs drain3 | messages per CPU second | vs drain3 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for suffix, what in (("", "all distinct"), (" repeated", "from 20,000 distinct")):
        base, base_cpu = tp["drain3" + suffix], tp["drain3 cpu" + suffix]
        for key, label in (
            ("ours", "**ours**, batch (`add_cluster_columns`: polars masking + miner)"),
            ("drain3", "drain3, no masking"),
            ("drain3 + masking", "drain3 + masking"),
        ):
            rate, cpu = tp[key + suffix], tp[key + " cpu" + suffix]
            cells = f"{rate:,.0f} | {rate / base:.2f}x | {cpu:,.0f} | {cpu / base_cpu:.2f}x"
            lines.append(f"| {what} | {label} | {cells} |")
    ours, drain = tp["ours"], tp["drain3"]
    wall, cpu = ours / drain, tp["ours cpu"] / tp["drain3 cpu"]
    loads = f"load {tp['load']:.1f} at the start, {tp['load_end']:.1f} at the end, on {os.cpu_count()} cores"
    lines += [
        "",
        f"Goal (issue 9): at least drain3's rate on the same input and 100,000 messages/s in batch. "
        f"All distinct, this run ({loads}): ours {ours:,.0f}/s vs drain3 {drain:,.0f}/s = "
        f"**{wall:.2f}x** wall clock ({'met' if wall >= 1 else 'MISSED'}) and **{cpu:.2f}x** per CPU "
        f"second ({tp['ours cpu']:,.0f} vs {tp['drain3 cpu']:,.0f} messages; "
        f"{'met' if cpu >= 1 else 'MISSED'}; CPU time counts every thread, so this ratio owes nothing to "
        f"our second core and moves least with the load); 100,000 messages/s "
        f"{'met' if ours >= 100_000 else 'MISSED'}. "
        + (
            "Both ratios are above 1.3x: the tens of percent by which wall-clock rates move between runs on "
            "this shared machine do not reverse them."
            if min(wall, cpu) >= 1.3
            else "A ratio below 1.3x is within the tens of percent by which rates move between runs on this "
            "shared machine: one run can land on either side of 1."
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loghub", type=Path, help="folder with Loghub-2k *_structured_corrected.csv files")
    parser.add_argument("--rows", type=int, default=200_000, help="messages for the throughput runs")
    parser.add_argument(
        "--drain-masking-rows", type=int, default=50_000, help="messages for drain3 + masking (slow)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        logs = generated_logs(Path(tmp) / "logs")
        datasets = {"generated errors (no fingerprints)": generated_errors(logs)}
        fingerprints = generated_with_fingerprints(logs)
    shipped = load_datasets()
    datasets["agent-errors corpus"] = shipped.pop("agent-errors")
    for name, data in variable_classes().items():
        datasets[f"synthetic: {name}"] = data
    loghub = load_loghub(args.loghub) if args.loghub else {}
    if args.loghub and not loghub:
        parser.error(f"no *_2k.log_structured_corrected.csv under {args.loghub}")
    datasets.update(loghub or shipped)
    acc = accuracy(datasets)
    tp = throughput(args.rows, args.drain_masking_rows)
    text = render(acc, fingerprints, tp, bool(loghub))
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

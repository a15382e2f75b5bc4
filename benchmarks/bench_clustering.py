"""Accuracy and throughput of the error templater (agent_pipelines.clustering).

Accuracy: grouping accuracy (GA, the Loghub metric) of our templates vs a Drain
baseline, on every dataset under benchmarks/data/:

* ``agent_errors.jsonl``: labelled tool/agent error messages (make_agent_errors.py);
* ``loghub2k_sample.txt``: rows copied from the Loghub-2k structured CSVs of nine
  systems, with Loghub's EventId as the label (see benchmarks/data/README.md).

Throughput: messages/s of ``add_cluster_columns`` (vectorized, with and without
de-duplication) on 1 M messages vs a plain Python loop of the uncached
``derive_template``.

    .venv/bin/python benchmarks/bench_clustering.py [--rows 1000000] [--loop-rows 100000] [--no-write]

Results are printed and written to the "## Error clustering accuracy" section of
BENCHMARKS.md (other sections are left alone).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks_md import write_section  # noqa: E402

from agent_pipelines import clustering  # noqa: E402

DATA = Path(__file__).with_name("data")
SECTION = "## Error clustering accuracy"


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


# --- Drain baseline ----------------------------------------------------------------------
_DRAIN_MASKS = (
    re.compile(r"(\d+\.){3}\d+(:\d+)?"),  # IPv4[:port]
    re.compile(r"(?<![A-Za-z])-?\d+(\.\d+)?(?![A-Za-z])"),  # bare numbers
)


class Drain:
    """The Drain log parser (He et al., ICWS 2017), as in logpai/logparser.

    Fixed-depth parse tree: length of the token list, then the first ``depth - 2``
    tokens (tokens with digits go to the ``<*>`` branch), then a list of log groups
    compared by token-position similarity; a message joins the most similar group if
    similarity >= ``sim_th`` (the group template then turns differing tokens into
    ``<*>``), else it starts a new group.  Preprocessing masks IPs and numbers.
    """

    def __init__(self, depth: int = 4, sim_th: float = 0.5, max_child: int = 100) -> None:
        self.depth = depth - 2
        self.sim_th = sim_th
        self.max_child = max_child
        self.root: dict = {}
        self.templates: list[list[str]] = []

    @staticmethod
    def _tokens(message: str) -> list[str]:
        line = message.strip().split("\n", 1)[0]
        for mask in _DRAIN_MASKS:
            line = mask.sub("<*>", line)
        return line.split()

    def _seq_dist(self, template: list[str], tokens: list[str]) -> tuple[float, int]:
        same = params = 0
        for a, b in zip(template, tokens, strict=True):
            if a == "<*>":
                params += 1
            elif a == b:
                same += 1
        return same / len(template), params

    def add(self, message: str) -> int:
        tokens = self._tokens(message) or ["<empty>"]
        node = self.root.setdefault(len(tokens), {})
        for depth, token in enumerate(tokens):
            if depth >= self.depth:
                break
            key = "<*>" if any(c.isdigit() for c in token) else token
            if key not in node and len(node) + 1 >= self.max_child:
                key = "<*>"  # a full node sends new tokens to its wildcard child
            node = node.setdefault(key, {})
        groups: list[int] = node.setdefault("__groups__", [])
        best, best_sim, best_params = -1, -1.0, -1
        for gid in groups:
            sim, params = self._seq_dist(self.templates[gid], tokens)
            if sim > best_sim or (sim == best_sim and params > best_params):
                best, best_sim, best_params = gid, sim, params
        if best >= 0 and best_sim >= self.sim_th:
            old = self.templates[best]
            self.templates[best] = [a if a == b else "<*>" for a, b in zip(old, tokens, strict=True)]
            return best
        self.templates.append(tokens)
        groups.append(len(self.templates) - 1)
        return len(self.templates) - 1


def drain_clusters(messages: Sequence[str], sim_th: float) -> list[int]:
    drain = Drain(sim_th=sim_th)
    return [drain.add(m) for m in messages]


# --- datasets ----------------------------------------------------------------------------
def load_datasets() -> dict[str, tuple[list[str], list[str]]]:
    """name -> (messages, labels)."""
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


def accuracy_table() -> list[tuple[str, int, int, float, float, float]]:
    out = []
    for name, (messages, labels) in load_datasets().items():
        ours = grouping_accuracy(labels, [clustering.derive_template(m) for m in messages])
        d5 = grouping_accuracy(labels, drain_clusters(messages, 0.5))
        d4 = grouping_accuracy(labels, drain_clusters(messages, 0.4))
        out.append((name, len(messages), len(set(labels)), ours, d5, d4))
    return out


# --- throughput --------------------------------------------------------------------------
def synthetic_messages(n: int) -> list[str]:
    """n messages cycling through the corpus with their variable parts re-randomised."""
    base = [m for m, _ in zip(*load_datasets()["agent-errors"], strict=True)]
    digits = re.compile(r"\d+")
    out = []
    for i in range(n):
        m = base[i % len(base)]
        # vary the numbers so that, like real logs, most messages are distinct strings
        out.append(digits.sub(lambda mo, i=i: str((int(mo.group()[:9]) + i * 7919) % 10**6), m, count=2))
    return out


def throughput(rows: int, loop_rows: int) -> dict[str, float]:
    messages = synthetic_messages(rows)
    df = pl.DataFrame({"error_message": messages})
    res: dict[str, float] = {
        "rows": rows,
        "distinct": df["error_message"].n_unique(),
        "load": os.getloadavg()[0],
    }
    for dedupe in (True, False):
        t0 = time.perf_counter()
        clustering.add_cluster_columns(df, dedupe=dedupe)
        res[f"vectorized_dedupe={dedupe}"] = rows / (time.perf_counter() - t0)
    # Real logs repeat themselves: the same 1 M rows drawn from 20,000 distinct messages.
    repeated = pl.DataFrame({"error_message": [messages[i % 20_000] for i in range(rows)]})
    for dedupe in (True, False):
        t0 = time.perf_counter()
        clustering.add_cluster_columns(repeated, dedupe=dedupe)
        res[f"repeated_dedupe={dedupe}"] = rows / (time.perf_counter() - t0)
    sample = messages[:loop_rows]
    t0 = time.perf_counter()
    for m in sample:
        clustering._derive_template_uncached(m)
    res["python_loop"] = len(sample) / (time.perf_counter() - t0)
    res["loop_rows"] = len(sample)
    return res


def render(acc: list[tuple[str, int, int, float, float, float]], tp: dict[str, float]) -> str:
    lines = [
        SECTION,
        "",
        f"`benchmarks/bench_clustering.py` on {platform.machine()} ({os.cpu_count()} cores) / Python "
        f"{platform.python_version()} / polars {pl.__version__}, {time.strftime('%Y-%m-%d')}.",
        "",
        "Grouping accuracy (GA: share of messages whose predicted cluster is exactly their true cluster). "
        "Ours = `derive_template` (one regex template per message, no state). Drain = depth 4, "
        "max children 100, similarity threshold 0.5 / 0.4, IP and number masking (implemented in the "
        "benchmark). Loghub rows are a hand-copied sample of the first rows of each Loghub-2k system "
        "(exact duplicates collapsed with a count), labelled with Loghub's EventId; see "
        "`benchmarks/data/README.md`.",
        "",
        "| dataset | messages | true clusters | ours | Drain 0.5 | Drain 0.4 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, n, k, ours, d5, d4 in acc:
        lines.append(f"| {name} | {n} | {k} | {ours:.3f} | {d5:.3f} | {d4:.3f} |")
    loghub = [r for r in acc if r[0].startswith("loghub-")]
    if loghub:
        avg = [sum(r[i] for r in loghub) / len(loghub) for i in (3, 4, 5)]
        lines.append(
            f"| **Loghub average ({len(loghub)} systems)** | | | **{avg[0]:.3f}** | **{avg[1]:.3f}** | "
            f"**{avg[2]:.3f}** |"
        )
    lines += [
        "",
        f"Throughput on {int(tp['rows']):,} messages ({int(tp['distinct']):,} distinct), same run "
        f"(1-minute load average {tp['load']:.1f} when it started: the cores are shared, so rates vary "
        "between runs; the ratios are the comparison):",
        "",
        "| path | messages/s | vs Python loop |",
        "|---|---:|---:|",
    ]
    base = tp["python_loop"]
    for key, label in (
        ("vectorized_dedupe=True", "`add_cluster_columns` (dedupe, default)"),
        ("vectorized_dedupe=False", "`add_cluster_columns(dedupe=False)`"),
        ("repeated_dedupe=True", "`add_cluster_columns`, 1 M rows of 20,000 distinct messages"),
        ("repeated_dedupe=False", "`add_cluster_columns(dedupe=False)`, same 20,000-distinct rows"),
        ("python_loop", f"Python loop of `derive_template` (uncached, {int(tp['loop_rows']):,} msgs)"),
    ):
        lines.append(f"| {label} | {tp[key]:,.0f} | {tp[key] / base:.1f}x |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--loop-rows", type=int, default=100_000, help="messages for the Python loop")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    acc = accuracy_table()
    tp = throughput(args.rows, args.loop_rows)
    text = render(acc, tp)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

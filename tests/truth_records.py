"""What a faithful logger would have written for generated work, from the ground truth alone.

The judge of ``test_original_formats``' last section: the metrics and error lines built here from
``ground-truth.json`` and ``ground-truth-errors.jsonl`` (never from the generated log files), run
through the same port of the original CLI as our files.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from agent_pipelines.core import paths


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def truth_records(root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The metrics and error lines a faithful logger would have written for the generated work,
    built from the ground truth alone (``ground-truth.json``, ``ground-truth-errors.jsonl``), never
    from our files: each closed attempt's figures, and first-shot = the task's first attempt and a
    success."""
    truth = json.loads((root / paths.GROUND_TRUTH_FILE).read_text(encoding="utf-8"))
    kinds = truth["error_kinds"]
    errors = lines(root / "ground-truth-errors.jsonl")
    task_of = {a["attempt_id"]: a["task_id"] for a in truth["attempts"]}
    by_attempt: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in errors:
        by_attempt[e["attempt_id"]].append(e)
    metrics = []
    for a in truth["attempts"]:
        if a["completion_status"] is None:
            continue  # still open: no metrics line
        own = by_attempt[a["attempt_id"]]
        success = a["completion_status"] == "success"
        first_shot = success and a["attempt_number"] == 1
        metrics.append({
            "timestamp": a["end"], "attempt_id": a["attempt_id"], "task_id": a["task_id"],
            "executor": a["executor"],
            "metrics": {"duration_ms": a["duration_ms"], "cost_usd": a["cost_usd"],
                        "total_tokens": a["total_tokens"], "first_shot_success": first_shot},
            "outcome": {"status": "completed" if success else "failed"},
            "error_summary": {
                "total_errors": a["error_count"],
                "error_fingerprints": list(dict.fromkeys(e["error_fingerprint"] for e in own
                                                         if e["error_fingerprint"])),
                "error_categories": list(dict.fromkeys(kinds[e["kind"]]["category"] for e in own)),
            },
        })  # fmt: skip
    error_lines = [
        {"timestamp": e["timestamp"], "attempt_id": e["attempt_id"], "task_id": task_of[e["attempt_id"]],
         "data": {"error_message": e["error_message"], "error_fingerprint": e["error_fingerprint"],
                  "error_category": kinds[e["kind"]]["category"]}}
        for e in sorted(errors, key=lambda e: e["timestamp"])
    ]  # fmt: skip
    return metrics, error_lines


def assert_same(ours: Any, truth: Any, where: str = "") -> None:
    """Equal, floats to 1e-9 (sums taken in another order differ in their last bits); the keys of a
    table in any order (the CLI prints groups in the order met: the file's, which is not a figure)."""
    if isinstance(truth, dict):
        assert isinstance(ours, dict) and sorted(ours) == sorted(truth), (where, sorted(ours), sorted(truth))
        for k in truth:
            assert_same(ours[k], truth[k], f"{where}.{k}")
    elif isinstance(truth, list | tuple):
        assert len(ours) == len(truth), (where, ours, truth)
        for i, (a, b) in enumerate(zip(ours, truth, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(truth, float) or isinstance(ours, float):
        assert ours == pytest.approx(truth, rel=1e-9, abs=1e-9), where
    else:
        assert ours == truth, where

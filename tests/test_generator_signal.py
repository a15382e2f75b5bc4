"""The generator's predictive signal (``signal=True``): drawn into the logs, recorded in the truth,
and off by default (the pinned digests in tests/test_generator.py hold without it)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from agent_pipelines.core.reader import read_logs
from agent_pipelines.generator import generate
from agent_pipelines.generator.signal import RISKY, VARIANT_SHIFT


def _truth(root: Path) -> dict:
    return json.loads((root / "ground-truth.json").read_text())


def test_signal_is_in_the_logs_and_the_truth(tmp_path: Path) -> None:
    root = tmp_path / "sig"
    start = date(2026, 3, 2)
    generate(root, days=3, tasks=1500, seed=4, start=start, workers=1, signal=True, transcripts=False)
    truth = _truth(root)
    assert truth["signal"]["variant_shift"] == VARIANT_SHIFT
    closed = [a for a in truth["attempts"] if a["completion_status"] is not None]

    def rate(rows: list[dict]) -> float:
        return sum(a["completion_status"] == "success" for a in rows) / len(rows)

    struggling = [a for a in closed if a["struggling"]]
    healthy = [a for a in closed if not a["struggling"]]
    assert rate(struggling) + 0.25 < rate(healthy)
    # the true variant effect is recorded per attempt as probabilities under A and under B
    assert all(a["p_success_if"]["B"] >= a["p_success_if"]["A"] for a in closed)
    # the logs carry the variant on session_start, and the risky errors early
    events = read_logs(root).events
    starts = events.filter((events["event_type"] == "session_start") & (events["prompt_type"] != "followup"))
    assert starts["data"].str.contains('"prompt_variant": ?"[AB]"').all()
    # larger tasks list more requirements in their description
    desc = starts.select("task_description").unique()["task_description"].to_list()
    large = [len(d) for d in desc if "(large task)" in d]
    small = [len(d) for d in desc if "(small task)" in d]
    assert sum(large) / len(large) > sum(small) / len(small) + 60
    assert any(k in RISKY for k in truth["error_kinds"])


def test_no_signal_writes_no_variant(tmp_path: Path) -> None:
    start = date(2026, 3, 2)
    generate(tmp_path / "plain", days=1, tasks=40, seed=4, start=start, workers=1, transcripts=False)
    assert "signal" not in _truth(tmp_path / "plain")
    text = "".join(p.read_text() for p in (tmp_path / "plain" / "stream").glob("*.jsonl"))
    assert "prompt_variant" not in text

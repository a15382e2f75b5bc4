"""The S3 mirror keeps an incomplete last line pending however old its object is, until the line is
complete (issue 22, item 5): a 3-day-old day file re-uploaded in full gives the event, not two
``malformed_json`` halves. Through a real S3 API (moto's server, ``tests/s3_server.py``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from agent_pipelines.core.reader import read_logs
from agent_pipelines.ingest import log_mirror

DAY = "2026-03-03"
LATER = datetime(2026, 3, 6, 12, tzinfo=UTC)  # three days after the object's day


def line(i: int) -> bytes:
    event = {"timestamp": f"{DAY}T10:00:{i:02d}.000Z", "event_type": "tool_call", "attempt_id": "ve-old",
             "data": {"tool_name": "Bash", "n": i}}  # fmt: skip
    return (json.dumps(event) + "\n").encode()


def test_an_old_object_completed_later_loses_no_line(s3, tmp_path: Path) -> None:
    bucket = s3.new_bucket("late-bucket")
    key = f"host/stream/{DAY}.jsonl"
    url = f"s3://{bucket}/host"
    whole = line(1) + line(2) + line(3)
    cut = len(line(1) + line(2)) + 25  # the third line half uploaded
    s3.client().put_object(Bucket=bucket, Key=key, Body=whole[:cut])
    root = tmp_path / "mirror"
    first = log_mirror.sync(url, root, now=LATER)
    assert first.lines_appended == 2
    assert any("without newline" in n for n in first.notes), first.notes  # said, not lost
    s3.client().put_object(Bucket=bucket, Key=key, Body=whole)  # the shipper uploads it again, whole
    assert log_mirror.sync(url, root, now=LATER).lines_appended == 1
    result = read_logs(root, final_before=LATER.date())
    assert result.quarantine.height == 0, result.quarantine.to_dicts()
    assert sorted(result.events["data"].map_elements(lambda d: json.loads(d)["n"], return_dtype=int)) == [
        1,
        2,
        3,
    ]
    assert (root / "stream" / f"{DAY}.jsonl").read_bytes() == whole

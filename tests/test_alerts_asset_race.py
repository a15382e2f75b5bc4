"""The ``alerts`` asset's two writers: a day's run and a detector run, at the same moment.

A detector run appends its alerts and then records the materializations of their days; a day's run
(the daily ``alerts`` partition, at first start for every day at once) reads the alerts file and
records its own. Whichever is recorded last is what the UI shows. Seen in CI: the day's run read the
file before the detector appended to it and recorded its empty table after the detector's, so the
day showed no alerts for good (the logs stopped; no later detector run came to fix it).

The test puts a detector run exactly into that window: the day's step has read the file and is
handing its table to the IO manager when the detector run starts in another thread.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from test_alert_actions import write_loop

from agent_pipelines.core import paths
from agent_pipelines.orchestration.detector_job import live_detector_job
from agent_pipelines.orchestration.io_manager import PolarsParquetIOManager
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.orchestration.partitions import register_partitions
from agent_pipelines.orchestration.resources import (
    PARQUET_IO,
    TelegramResource,
    analytics_resources,
    defaults,
    detector_resources,
)
from assets.alerts import alerts

DETECTOR_WAIT_S = 3.0


def latest_alert_rows(instance: dg.DagsterInstance, day: str) -> int:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("alerts"), asset_partitions=[day]), limit=1
    ).records
    [record] = records
    materialization = record.asset_materialization
    assert materialization is not None
    return int(materialization.metadata["dagster/row_count"].value)  # type: ignore[arg-type]


def test_a_detector_run_inside_the_days_step_is_not_hidden_by_it(tmp_path: Path) -> None:
    logs, data = tmp_path / "logs", tmp_path / "data"
    write_loop(logs)
    day = datetime.now(UTC).date()
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        register_partitions(instance, [day])
        detector: dict[str, Any] = {}

        def run_detector() -> None:
            store = LogStore.from_settings(defaults(), str(logs), str(data))
            detector["result"] = live_detector_job.execute_in_process(
                run_config={"ops": {"read_new_events": {"config": {"reason": "test"}}}},
                resources=detector_resources(store, TelegramResource()),
                instance=instance,
            )

        class DetectorInTheWindow(PolarsParquetIOManager):
            """Ours, with a detector run started after the step read the file and before its
            materialization is recorded; it waits for that run (a while at most)."""

            def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
                thread = threading.Thread(target=run_detector)
                thread.start()
                detector["thread"] = thread
                thread.join(DETECTOR_WAIT_S)
                super().handle_output(context, obj)

        resources = analytics_resources(str(logs), str(data))
        base: PolarsParquetIOManager = resources[PARQUET_IO]  # type: ignore[assignment]
        resources[PARQUET_IO] = DetectorInTheWindow(base_dir=base.base_dir, local_dir=base.local_dir)
        assert dg.materialize(
            [alerts], resources=resources, instance=instance, partition_key=day.isoformat()
        ).success
        detector["thread"].join(120)
        assert detector["result"].success
        written = (logs / paths.ALERTS_FILE).read_text(encoding="utf-8").splitlines()
        assert len(written) == 1  # the error loop's alert
        # The UI shows the latest materialization of the day: it must hold the alert.
        assert latest_alert_rows(instance, day.isoformat()) == 1

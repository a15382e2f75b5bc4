"""``bench_scale.py``'s second measurement: a Dagster instance filled up to N ticks of the live sensor,
then the real ``dagster-webserver`` timed on the runs page's and the sensor page's GraphQL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import requests
from bench_live import free_port, pct

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
LOCATION = "agent_pipelines"  # the code location and sensor bench_scale.py watches
SENSOR = "live_alerts_sensor"


def fill_ticks(home: Path, inst_env: dict[str, str], total: int) -> dict:
    """Add synthetic ticks (and their detector runs) until the live sensor has ``total`` ticks.

    The ticks are rows of the instance's own tick table with serialized ``TickData``, exactly what
    the daemon writes, inserted in batches (one tick per transaction would take ~15 minutes per
    instance on this loaded machine); the runs go through ``instance.add_run``.
    """
    import dagster as dg
    from dagster._core.scheduler.instigation import InstigatorType, TickData, TickStatus
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster._core.storage.schedules.schema import JobTickTable
    from dagster._serdes import serialize_value
    from dagster._time import datetime_from_timestamp

    os.environ.update(inst_env)
    with dg.DagsterInstance.get() as instance:
        state = next(
            s
            for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
            if s.instigator_name == SENSOR
        )
        have = len(instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=total + 1))
        now = time.time()
        started = time.perf_counter()
        rows, runs = [], 0
        for n in range(total - have):
            at = now - 5.0 * (total - have - n)  # one every 5 s, ending now
            run_ids: list[str] = []
            status = TickStatus.SKIPPED
            if n % 5 == 4:
                run_id = str(uuid.uuid4())
                tags = {
                    "dagster/sensor_name": SENSOR,
                    "agent_pipelines/reason": "new_data",
                    "agent_pipelines/kind": "live_detector",
                }
                instance.add_run(
                    DagsterRun(
                        job_name="live_detector_job",
                        run_id=run_id,
                        status=dg.DagsterRunStatus.SUCCESS,
                        tags=tags,
                    )
                )
                run_ids, status, runs = [run_id], TickStatus.SUCCESS, runs + 1
            tick = TickData(
                instigator_origin_id=state.instigator_origin_id,
                instigator_name=SENSOR,
                instigator_type=InstigatorType.SENSOR,
                status=status,
                timestamp=at,
                end_timestamp=at + 0.1,
                selector_id=state.selector_id,
                run_ids=run_ids,
                skip_reason=None if run_ids else "no new lines; 0 open session(s)",
            )
            rows.append(
                {
                    "job_origin_id": tick.instigator_origin_id,
                    "selector_id": tick.selector_id,
                    "status": status.value,
                    "type": InstigatorType.SENSOR.value,
                    "timestamp": datetime_from_timestamp(at),
                    "tick_body": serialize_value(tick),
                }
            )
        storage = instance.schedule_storage
        for i in range(0, len(rows), 1000):
            with storage.connect() as conn:
                conn.execute(JobTickTable.insert(), rows[i : i + 1000])
        seconds = time.perf_counter() - started
        count = len(instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=total + 10))
    return {"ticks": count, "added": total - have, "runs_added": runs, "fill_s": seconds}


RUNS_PAGE = """query {
  runsFeedOrError(limit: 30, view: ROOTS) {
    ... on RunsFeedConnection { hasMore results { id runStatus creationTime startTime endTime jobName
      tags { key value } } } }
  runsFeedCountOrError(view: ROOTS) { ... on RunsFeedCount { count } }
}"""

TICKS = """query($limit: Int, $dayRange: Int) {
  sensorOrError(sensorSelector: {repositoryName: "__repository__", repositoryLocationName: "%s",
                                 sensorName: "%s"}) {
    ... on Sensor { sensorState { ticks(limit: $limit, dayRange: $dayRange) { id status timestamp runIds } } }
    ... on PythonError { message }
  }
}""" % (LOCATION, SENSOR)  # noqa: UP031


def ui_times(home: Path, inst_env: dict[str, str]) -> dict:
    """Start the webserver on the instance and time the runs page and the sensor's tick history."""
    port = free_port()
    env = dict(os.environ, **inst_env)
    log = open(home / "webserver.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    out: dict = {}
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                body = requests.post(url, json={"query": TICKS, "variables": {"limit": 1}}, timeout=30).json()
                if body.get("data", {}).get("sensorOrError", {}).get("sensorState"):
                    break
            except (requests.RequestException, ValueError):
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"webserver not ready; see {home}/webserver.log")
            time.sleep(1)
        for name, query, variables in (
            ("runs_page", RUNS_PAGE, {}),
            ("ticks_25", TICKS, {"limit": 25}),
            ("ticks_day", TICKS, {"dayRange": 1}),
        ):
            times = []
            for i in range(12):
                t = time.perf_counter()
                response = requests.post(url, json={"query": query, "variables": variables}, timeout=300)
                elapsed = time.perf_counter() - t
                body = response.json()
                assert "errors" not in body, body
                if i >= 2:
                    times.append(elapsed)
            out[name] = pct(times, 0.5)
            if name == "ticks_day":
                out["ticks_in_day"] = len(body["data"]["sensorOrError"]["sensorState"]["ticks"])
            if name == "runs_page":
                out["runs_count"] = body["data"]["runsFeedCountOrError"]["count"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    return out

"""Express runs through a real instance on disk: launched at submission, executed in a process
forked from the warm fork server, recorded like any run; other runs still queue."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.launcher import LaunchRunContext
from dagster._core.run_coordinator import SubmitRunContext

from agent_pipelines.orchestration.run_launch import (
    EXPRESS_TAG,
    ExpressRunCoordinator,
    PreforkRunLauncher,
    is_express,
)

OVERRIDES = {
    "run_coordinator": {
        "module": "agent_pipelines.orchestration.run_launch",
        "class": "ExpressRunCoordinator",
    },
    "run_launcher": {
        "module": "agent_pipelines.orchestration.run_launch",
        "class": "PreforkRunLauncher",
        "config": {"preload_modules": ["dagster"]},
    },
}


def _create(instance: dg.DagsterInstance, job: dg.JobDefinition) -> dg.DagsterRun:
    recon = dg.reconstructable(job)
    return instance.create_run_for_job(job_def=job, job_code_origin=recon.get_python_origin(), tags=job.tags)


def _wait(instance: dg.DagsterInstance, run_id: str, timeout: float = 120) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def test_express_run_skips_the_queue_and_runs_forked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from express_jobs import express_job, plain_job

    out = tmp_path / "pid.txt"
    monkeypatch.setenv("EXPRESS_TEST_OUT", str(out))
    with dg.instance_for_test(overrides=OVERRIDES) as instance:
        assert isinstance(instance.run_coordinator, ExpressRunCoordinator)
        assert isinstance(instance.run_launcher, PreforkRunLauncher)
        assert instance.run_launcher.preload_modules == ["dagster"]
        run = _create(instance, express_job)
        assert run.tags[EXPRESS_TAG] == "true"
        submitted = instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None))
        assert submitted.status != dg.DagsterRunStatus.QUEUED  # launched at once, not queued
        finished = _wait(instance, run.run_id)
        assert finished.status == dg.DagsterRunStatus.SUCCESS
        pid, parent = (int(x) for x in out.read_text().split()[:2])
        assert pid != os.getpid() and parent != os.getpid()  # a child of the fork server, not of us
        messages = [
            e.message for e in instance.all_logs(run.run_id) if e.message and "fork server" in e.message
        ]
        assert messages
        # Nothing captured from an express run's stdout/stderr (an in-process run of the same job
        # on the same instance is captured: its files exist).
        storage = Path(instance.root_directory) / "storage"
        assert not (storage / run.run_id).exists()
        captured = express_job.execute_in_process(instance=instance)
        assert (storage / captured.run_id).exists()
        # A run without the tag takes Dagster's default path: the code server of the workspace.
        plain = _create(instance, plain_job)
        assert not is_express(plain)
        with pytest.raises(DagsterInvariantViolationError, match="workspace"):
            instance.run_launcher.launch_run(LaunchRunContext(dagster_run=plain, workspace=None))
        instance.run_launcher.dispose()


def test_terminate_stops_an_express_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from express_jobs import express_job

    monkeypatch.setenv("EXPRESS_TEST_OUT", str(tmp_path / "pid.txt"))
    with dg.instance_for_test(overrides=OVERRIDES) as instance:
        run = _create(instance, express_job)
        instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        _wait(instance, run.run_id)
        # A finished run cannot be terminated; nothing is left running.
        assert instance.run_launcher.terminate(run.run_id) is False


def test_forked_runs_use_the_instance_the_fork_server_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
    from dagster._serdes import serialize_value

    from agent_pipelines.orchestration import run_launch  # the fork server's preload, here
    from agent_pipelines.orchestration.run_launch import (
        warmup as run_launch_warmup,  # the fork server's preload, here
    )

    with dg.instance_for_test(overrides=OVERRIDES) as instance, dg.instance_for_test() as other:
        ref = instance.get_ref()
        monkeypatch.setenv(run_launch.INSTANCE_ENV, serialize_value(run_launch.express_ref(ref)))
        warm = run_launch_warmup.open_instance()
        assert warm is not None and isinstance(warm.compute_log_manager, NoOpComputeLogManager)
        monkeypatch.setattr(run_launch_warmup, "WARM_INSTANCE", warm)
        assert run_launch._open(ref) is warm  # a run of this instance: opened once, before the fork
        opened = run_launch._open(other.get_ref())  # another instance: the run opens its own
        assert opened is not warm and isinstance(opened.compute_log_manager, NoOpComputeLogManager)
        opened.dispose()
        warm.dispose()


FIRST_RUN = """
import sys, time
import dagster as dg
from dagster._core.run_coordinator import SubmitRunContext
from test_run_launch import OVERRIDES, _create, _wait
from express_jobs import express_job

with dg.instance_for_test(overrides=OVERRIDES) as instance:
    run = _create(instance, express_job)
    # As the daemon does: the launcher is built by the first submission, which launches at once.
    instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None))
    assert _wait(instance, run.run_id).status == dg.DagsterRunStatus.SUCCESS
    instance.run_launcher.dispose()
"""


def test_the_first_run_of_a_new_launcher_uses_the_warm_instance(tmp_path: Path) -> None:
    """The daemon builds its launcher at the first express run and launches it at once: that run
    started the fork server before the launcher's warm-up had told it which instance to open, so
    every run opened the instance itself (~0.2 s of schema checks each). A fresh process, since
    the fork server is one per process."""
    import subprocess
    import sys

    out = tmp_path / "pid.txt"
    tests = Path(__file__).resolve().parent
    env = {**os.environ, "EXPRESS_TEST_OUT": str(out), "PYTHONPATH": str(tests)}
    env.pop("AGENT_PIPELINES_PREFORK_INSTANCE", None)
    done = subprocess.run(
        [sys.executable, "-c", FIRST_RUN], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text().split()[2] == "True"


def test_warm_up_says_nothing(tmp_path: Path) -> None:
    """Issue 25: the fork server's warm-up printed Dagster's "no dagster.yaml" warning about its
    temporary instance on every start (DAGSTER_HOME is set under `agent-pipelines ui`)."""
    import subprocess
    import sys

    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    env.pop("AGENT_PIPELINES_PREFORK_INSTANCE", None)
    done = subprocess.run(
        [sys.executable, "-c", "import agent_pipelines.orchestration.run_launch.warmup"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "dagster.yaml" not in done.stderr and "elemetry" not in done.stderr, done.stderr


def test_the_coordinator_sets_the_sensor_daemon_loop() -> None:
    """``sensor_loop_seconds`` (config/dagster.yaml) reaches the loop of the sensor daemon in the
    process that builds the coordinator; without it Dagster's loop is left as it is."""
    from agent_pipelines.orchestration import dagster_internals

    before = dagster_internals.set_sensor_loop_seconds(5.0)
    try:
        with dg.instance_for_test(overrides=OVERRIDES) as instance:
            assert instance.run_coordinator.sensor_loop_seconds is None
            assert dagster_internals.set_sensor_loop_seconds(5.0) == 5.0
        fast = {
            **OVERRIDES,
            "run_coordinator": {**OVERRIDES["run_coordinator"], "config": {"sensor_loop_seconds": 0.5}},
        }
        with dg.instance_for_test(overrides=fast) as instance:
            coordinator = instance.run_coordinator
            assert isinstance(coordinator, ExpressRunCoordinator) and coordinator.sensor_loop_seconds == 0.5
            assert dagster_internals.set_sensor_loop_seconds(5.0) == 0.5
    finally:
        dagster_internals.set_sensor_loop_seconds(before)


def test_the_shipped_instance_config_loops_sensors_every_half_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from agent_pipelines.orchestration import dagster_internals

    root = Path(__file__).resolve().parents[1]
    shutil.copy(root / "config" / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # the file's storage lives in DAGSTER_HOME
    before = dagster_internals.set_sensor_loop_seconds(5.0)
    try:
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            coordinator = instance.run_coordinator
            assert isinstance(coordinator, ExpressRunCoordinator) and coordinator.sensor_loop_seconds == 0.5
    finally:
        dagster_internals.set_sensor_loop_seconds(before)


def test_a_run_holds_its_event_log_open_while_it_executes() -> None:
    """Dagster stores each event through a connection of its own; the close of a SQLite database's
    last connection checkpoints and deletes its write-ahead log (fsyncs, every event). While an
    express run executes, a held connection keeps the log: events are stored as before, the log is
    checkpointed once at the end."""
    from agent_pipelines.orchestration.run_launch import event_log_held_open

    with dg.instance_for_test() as instance:
        run = instance.add_run(dg.DagsterRun(job_name="j", run_id="r-held"))
        instance.report_engine_event("launched", run)  # the daemon made the run's database
        shard = Path(instance.event_log_storage.path_for_shard(run.run_id))
        wal = Path(f"{shard}-wal")
        instance.report_engine_event("before", run)
        assert not wal.exists()  # the last connection closed: log checkpointed and deleted
        with event_log_held_open(instance, run.run_id) as held:
            assert str(shard) in held
            for i in range(3):
                instance.report_engine_event(f"event {i}", run)
                assert wal.exists()
        assert not wal.exists()  # checkpointed once, when the run let go
        messages = [e.message for e in instance.all_logs(run.run_id)]
        assert messages == ["launched", "before", "event 0", "event 1", "event 2"]
        # A run whose database Dagster has not made: nothing is made here.
        with event_log_held_open(instance, "r-none") as none_held:
            assert str(instance.event_log_storage.path_for_shard("r-none")) not in none_held
        assert not Path(instance.event_log_storage.path_for_shard("r-none")).exists()

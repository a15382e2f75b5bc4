"""Express runs: past the run queue and into a process that has already imported the code.

Why: a live alert's path is sensor tick → detector run → Telegram, and before its first op the run
cost 1.7-2.5 s on a 2-core machine: up to a second in the run queue (its dequeue interval), then
a new Python process importing Dagster, polars and the code location. Dagster's design stays —
the sensor requests a run of the detector job, the run executes its ops, the UI shows it — only
the two pluggable instance parts that start a run are swapped for runs tagged :data:`EXPRESS_TAG`
(the live detector job carries it):

* :class:`ExpressRunCoordinator` is Dagster's ``QueuedRunCoordinator`` except that an express run
  is launched as it is submitted instead of waiting for the next dequeue. The live sensor already
  keeps at most one detector run in flight, which is what a queue limit would have given it. Its
  ``sensor_loop_seconds`` shortens the sensor daemon's 5-second loop in the daemon's process, so a
  tick that ended by requesting a run is followed by the next one within that time, not 5 s later
  (:func:`~agent_pipelines.orchestration.dagster_internals.set_sensor_loop_seconds`).
* :class:`PreforkRunLauncher` is Dagster's ``DefaultRunLauncher`` except that an express run
  executes in a process forked from a fork server that imported ``preload_modules`` (the code
  location) once: starting a run costs a ``fork``, not an interpreter start and its imports. The fork
  server also opens the launcher's instance once (``run_launch_warmup.WARM_INSTANCE``), so a run
  does not check every SQLite storage's schema again, and an express run does not capture
  stdout/stderr (see :data:`NO_CAPTURE`). Other runs (analytics, reports) start as before, in a
  fresh process from the code server.

Both are set in ``config/dagster.yaml``. They subclass Dagster's public launcher and coordinator;
the few names Dagster does not export come from :mod:`agent_pipelines.orchestration.dagster_internals`
(pinned for Dagster 1.13, checked by a test). The fork server keeps the code it imported until the
daemon restarts (as Dagster's own forkserver executor does): after changing detector code, restart
``agent-pipelines ui`` (or the daemon) for live runs to pick it up; other runs reload as usual.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sqlite3
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any

from dagster import (
    Array,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultRunLauncher,
    Field,
    Noneable,
    QueuedRunCoordinator,
    SubmitRunContext,
    serialize_value,
)

from agent_pipelines.orchestration.dagster_internals import (
    INDEX_SHARD_NAME,
    ConfigurableClassData,
    EngineEventData,
    InstanceRef,
    LaunchRunContext,
    execute_run,
    mark_shard_checked,
    no_capture,
    recon_job_from_origin,
    set_sensor_loop_seconds,
)

NO_CAPTURE = no_capture()  # see dagster_internals.no_capture

EXPRESS_TAG = "agent_pipelines/express"
WARMUP_MODULE = "agent_pipelines.orchestration.run_launch.warmup"
# The launcher's instance, serialized, for the fork server to open once (see run_launch_warmup).
INSTANCE_ENV = "AGENT_PIPELINES_PREFORK_INSTANCE"


def express_ref(instance_ref: InstanceRef) -> InstanceRef:
    """The instance an express run executes with: the launcher's storages, no output capture."""
    return instance_ref._replace(compute_logs_data=NO_CAPTURE)


def is_express(run: DagsterRun) -> bool:
    return run.tags.get(EXPRESS_TAG) == "true"


class ExpressRunCoordinator(QueuedRunCoordinator):
    """The queued run coordinator; runs tagged ``agent_pipelines/express=true`` skip the queue.

    With ``sensor_loop_seconds`` it also sets the sensor daemon's loop in the process that builds
    it (the daemon builds its instance's coordinator when it starts; elsewhere the setting is
    unused)."""

    sensor_loop_seconds: float | None = None

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        queue = super().config_type()
        assert isinstance(queue, dict)  # Dagster's coordinator declares its fields as a dict
        return {
            **queue,
            "sensor_loop_seconds": Field(
                Noneable(float),
                is_required=False,
                default_value=None,
                description="Start a sensor daemon loop this often instead of every 5 s.",
            ),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> ExpressRunCoordinator:
        queue = {k: v for k, v in config_value.items() if k != "sensor_loop_seconds"}
        coordinator = super().from_config_value(inst_data, queue)
        seconds = config_value.get("sensor_loop_seconds")
        if seconds:
            coordinator.sensor_loop_seconds = float(seconds)
            set_sensor_loop_seconds(float(seconds))
        return coordinator

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        if not is_express(run):
            return super().submit_run(context)
        if run.status == DagsterRunStatus.NOT_STARTED:
            self._instance.launch_run(run.run_id, context.workspace)
        return self._instance.get_run_by_id(run.run_id) or run


def execute_in_worker(instance_ref: InstanceRef, run_id: str) -> None:
    """The body of an express run's process: load the run and execute it, as Dagster's code server
    does in the process it starts (``dagster._grpc.impl``; the functions: :mod:`dagster_internals`)."""
    with _open(instance_ref) as instance:
        run = instance.get_run_by_id(run_id)
        if run is None or run.job_code_origin is None:
            return
        with event_log_held_open(instance, run_id):
            pid = os.getpid()
            instance.report_engine_event(
                f"Started process for run (pid: {pid}), forked from the warm fork server.",
                run,
                EngineEventData.in_process(pid),
            )
            execute_run(recon_job_from_origin(run.job_code_origin), run, instance)


@contextlib.contextmanager
def event_log_held_open(instance: DagsterInstance, run_id: str) -> Iterator[list[str]]:
    """While a run executes here, one idle connection to each SQLite database of its event log (its
    own, made by the daemon when it launched the run, and the index); yields their paths.

    Dagster's SQLite event log opens and closes a connection for every event it stores (~26 a
    detector run). In WAL mode the close of a database's last connection checkpoints the log into
    the database and deletes it, with their fsyncs: on every event. With a connection held, SQLite
    checkpoints as it does by itself (every 1000 pages) and once more when the run ends. Nothing is
    read or written through it, and no transaction is left open (a checkpoint is never blocked).
    The run's database was checked against Dagster's migrations when the daemon made it, so this
    process does not check it again (:func:`dagster_internals.mark_shard_checked`). Any other
    storage (consolidated SQLite, PostgreSQL): nothing is held."""
    storage = instance.event_log_storage
    path_for_shard = getattr(storage, "path_for_shard", None)
    held: list[sqlite3.Connection] = []
    paths: list[str] = []
    if callable(path_for_shard):
        for shard in (run_id, INDEX_SHARD_NAME):
            path = str(path_for_shard(shard))
            if not os.path.isfile(path):  # never made here: Dagster makes it, with its schema
                continue
            with contextlib.suppress(sqlite3.Error):
                connection = sqlite3.connect(path, timeout=30)
                connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                held.append(connection)
                paths.append(path)
                if shard == run_id:
                    mark_shard_checked(storage, run_id)
    try:
        yield paths
    finally:
        for connection in held:
            connection.close()


def _open(instance_ref: InstanceRef) -> DagsterInstance:
    """The run's instance (:func:`express_ref`): the one the fork server opened before forking us
    when it is this one (its storages checked their schemas once, not once per run), else opened."""
    ref = express_ref(instance_ref)
    warm = getattr(sys.modules.get(WARMUP_MODULE), "WARM_INSTANCE", None)
    if isinstance(warm, DagsterInstance) and serialize_value(warm.get_ref()) == serialize_value(ref):
        return warm
    return DagsterInstance.from_ref(ref)


class PreforkRunLauncher(DefaultRunLauncher):
    """The default run launcher; express runs execute in a process forked from a warm fork server."""

    def __init__(
        self, inst_data: ConfigurableClassData | None = None, preload_modules: Sequence[str] = ()
    ) -> None:
        super().__init__(inst_data=inst_data)
        self.preload_modules = list(preload_modules)
        self._context: ForkServerContext | None = None
        self._workers: dict[str, BaseProcess] = {}
        self._lock = threading.Lock()
        self._warming: threading.Thread | None = None

    def register_instance(self, instance: DagsterInstance) -> None:
        super().register_instance(instance)
        if self.preload_modules and self._warming is None:  # import the code now, not at the first alert
            self._warming = threading.Thread(target=self._warm, name="prefork-warm", daemon=True)
            self._warming.start()

    def _warm(self) -> None:
        from multiprocessing import forkserver

        with self._lock:
            self._fork_context()
            # The fork server inherits the environment it starts with: it opens this instance once.
            os.environ[INSTANCE_ENV] = serialize_value(express_ref(self._instance.get_ref()))
            forkserver.ensure_running()

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {
            "preload_modules": Field(
                Noneable(Array(str)),
                is_required=False,
                default_value=None,
                description="Modules the fork server imports once (the code location's module).",
            )
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> PreforkRunLauncher:
        return cls(inst_data=inst_data, preload_modules=config_value.get("preload_modules") or ())

    def _fork_context(self) -> ForkServerContext:
        if self._context is None:
            context = multiprocessing.get_context("forkserver")
            # The code location, then what executing any run imports (run_launch_warmup).
            context.set_forkserver_preload([*self.preload_modules, WARMUP_MODULE])
            self._context = context
        return self._context

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        if not is_express(run) or run.job_code_origin is None:
            super().launch_run(context)
            return
        # The daemon builds its launcher at its first express run and launches at once: the
        # warm-up must start the fork server (telling it which instance to open) before this run
        # does, or every run would open the instance itself.
        if self._warming is not None:
            self._warming.join()
        with self._lock:
            self._reap()
            worker = self._fork_context().Process(
                target=execute_in_worker,
                args=(self._instance.get_ref(), run.run_id),
                name=f"dagster-run-{run.run_id[:8]}",
            )
            worker.start()
            self._workers[run.run_id] = worker
            self._run_ids.add(run.run_id)

    def _reap(self) -> None:
        for run_id, worker in list(self._workers.items()):
            if not worker.is_alive():
                worker.join(0)
                del self._workers[run_id]

    def terminate(self, run_id: str) -> bool:
        worker = self._workers.get(run_id)
        if worker is None:
            return super().terminate(run_id)
        run = self._instance.get_run_by_id(run_id)
        if not run or run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        worker.terminate()
        return True

    def dispose(self) -> None:
        for worker in self._workers.values():
            worker.join(5)
        super().dispose()

"""Log rotation that never loses a line: closed days out of the live files, into compressed archives.

The original rotation script gzipped each log and then truncated it, losing whatever a writer
appended in between. Here a file is never rewritten or truncated in place (a live tailer may be
reading it). A rotation:

1. **stages** each file to rotate — closed daily partitions ``stream/YYYY-MM-DD.jsonl`` and the
   single-file logs holding closed days — by *renaming* it into ``archive/.staging/<token>/``.
   Writers open by path on every append, so the next append creates a fresh live file; a tailer
   following the old inode reads it to its end.
2. waits a short **grace** period and takes the writers' ``flock`` on the staged file: writers that
   opened it just before the rename finish their append first.
3. **prepares** every output inside the token folder, touching nothing visible: valid lines of
   closed days as deterministic gzip members (merged after an existing archive of the same day),
   lines of today or later to be appended back to the live files, refused lines for the quarantine.
   Lines are routed byte for byte; only the verdict comes from parsing (the reader's contract
   checks, then ``contract.CleanedEvent``'s checks as the final gate, run as one query by
   :mod:`~agent_pipelines.core.contract.gate`, pandera itself only for a block that fails). Each gzip
   member is decompressed again and compared with its lines before it is written (on the compression
   threads), and each archive's size checked once it is fsynced.
4. writes ``manifest.json`` (temp file, fsync, rename;
:class:`~agent_pipelines.ops.rotation.manifest.Manifest`):
   the **commit point**.
5. **commits** step by step, each step idempotent: archives renamed into place; lines appended
   back exactly once (the append position is recorded under the target's lock before writing, so
   a rerun can see whether its bytes are already there); quarantine records written (the
   quarantine store keys them); the staged file deleted; the token folder removed.
6. applies **retention** (:mod:`agent_pipelines.ops.retention`): expired archives and the oldest
   session transcripts are deleted.

A run killed anywhere is finished by the next run, which first completes every token folder it
finds (re-preparing from the staged file when no manifest was written) before staging anything new,
so it ends in the state an uninterrupted run would have reached. ``archive/.rotation.lock`` (a
non-blocking ``flock``) makes a second concurrent rotation stop with :class:`RotationBusy`.

For tests, ``AGENT_PIPELINES_ROTATION_CRASH_AT=<step>[:<n>]`` SIGKILLs the process the ``n``-th
time it reaches a named step (see :data:`CRASH_STEPS`).

Modules: :mod:`~agent_pipelines.ops.rotation.config` (settings, constants),
:mod:`~agent_pipelines.ops.rotation.plan`
(what is there and what a rotation will do), :mod:`~agent_pipelines.ops.rotation.run` (running it),
:mod:`~agent_pipelines.ops.rotation.commit` (staging, preparing and committing one file),
:mod:`~agent_pipelines.ops.rotation.route` (where each line goes), :mod:`~agent_pipelines.ops.rotation.sinks`
(where routed lines are written) and :mod:`~agent_pipelines.ops.rotation.manifest` (the typed records on
disk).
"""

from __future__ import annotations

from agent_pipelines.core.archive import gzip_member
from agent_pipelines.ops.rotation.config import (
    BLOCK_BYTES,
    CRASH_ENV,
    CRASH_STEPS,
    DEFAULT_GRACE_SECONDS,
    GRACE_ENV,
    SCHEDULE_CRON,
    SCHEDULE_TIMEZONE,
    SHOW_SESSIONS,
    RotationBusy,
    RotationError,
    Settings,
    human_size,
    settings,
)
from agent_pipelines.ops.rotation.plan import DeleteStep, Outcome, RotationPlan, SourceStep, inventory
from agent_pipelines.ops.rotation.run import (
    RotationReport,
    apply_retention,
    archive_closed,
    plan_rotation,
    resume_interrupted,
    rotate,
    rotation_lock,
)

__all__ = [
    "BLOCK_BYTES",
    "CRASH_ENV",
    "CRASH_STEPS",
    "DEFAULT_GRACE_SECONDS",
    "GRACE_ENV",
    "SCHEDULE_CRON",
    "SCHEDULE_TIMEZONE",
    "SHOW_SESSIONS",
    "DeleteStep",
    "Outcome",
    "RotationBusy",
    "RotationError",
    "RotationPlan",
    "RotationReport",
    "Settings",
    "SourceStep",
    "apply_retention",
    "archive_closed",
    "gzip_member",
    "human_size",
    "inventory",
    "plan_rotation",
    "resume_interrupted",
    "rotate",
    "rotation_lock",
    "settings",
]

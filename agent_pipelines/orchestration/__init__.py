"""The Dagster side of the library: the only package below the top-level wiring that imports Dagster.

Owns: the live detector job (``detector_job``), resources (``resources``, ``log_store``), the IO
manager, the instance and the variables Dagster reads (``instance``), partition registration
(``partitions``), run launching (``run_launch``), asset metadata for the UI (``ui_metadata``), the
filter for Dagster's known warnings (``quiet``) and every Dagster name that is not public API,
pinned to Dagster 1.13 in one adapter (``dagster_internals``: nothing else imports ``dagster._``).

May import: every library package; imported by ``assets``, ``sensors``, ``jobs``,
``agent_pipelines.definitions`` and the CLI.
"""

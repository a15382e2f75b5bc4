"""The Dagster side of the library: the only package below the top-level wiring that imports Dagster.

Owns: the live detector job (``detector_job``), resources (``resources``, ``log_store``), the IO manager,
the instance and its settings (``instance``), partition registration (``partitions``), run launching
(``run_launch``), asset metadata for the UI (``ui_metadata``) and the filter for Dagster's known
warnings (``quiet``).

May import: every library package; imported by ``assets``, ``sensors``, ``jobs``,
``agent_pipelines.definitions`` and the CLI.
"""

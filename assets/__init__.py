"""Dagster assets: thin wiring over the library.

The package imports :mod:`agent_pipelines.orchestration.quiet` before any of its modules, so every process
that
loads an asset module (the CLI's ``detect``, a run, the code server) filters the beta warnings of
the features we use on purpose (``backfill_policy``, ``owners``) — not only ``definitions.py``.
"""

from agent_pipelines.orchestration import quiet  # noqa: F401

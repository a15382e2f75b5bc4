"""The live path: detectors over new lines, their persistent state, alerts and their delivery.

Owns: the detector rules (``detectors``), the state that survives between runs (``state``), the alert
records and table (``alerts``, ``alerts_table``) and the channels with their outbox (``notifiers``).
Dagster runs it through ``agent_pipelines.orchestration.detector_job``; the CLI through ``detect``.

May import: ``agent_pipelines.core`` and ``agent_pipelines.text``; never Dagster, never another
purpose package.
"""

"""Housekeeping of the log folder: rotation into daily archives and retention.

Owns: ``rotation`` (plan, route, commit and run of a rotation, crash-safe) and ``retention``.

May import: ``agent_pipelines.core`` and ``agent_pipelines.text``; never Dagster, never another
purpose package.
"""

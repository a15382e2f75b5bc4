"""Batch answers over cleaned events: session metrics, error clusters, insights, usage and reports.

Owns: ``metrics`` (sessions, success, loops), ``clustering`` and ``errors`` (error clusters and
occurrences), ``insights`` (planning and task insights), ``usage`` (tokens and cost by day) and
``report`` (the weekly report in Markdown and HTML) and ``replay`` (one session's timeline as a page
and as terminal text). The assets and the CLI call these same functions.

May import: ``agent_pipelines.core`` and ``agent_pipelines.text``; never Dagster, never another
purpose package.
"""

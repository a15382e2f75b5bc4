"""Getting logs in: transcript importers (Claude Code, Codex, ...) and the object-storage log mirror.

Owns: ``importers`` (transcripts to contract events, with import state and pricing) and
``log_mirror`` (an ``s3://`` log folder followed into a local, append-only one).

May import: ``agent_pipelines.core`` and ``agent_pipelines.text``; never Dagster, never another
purpose package.
"""

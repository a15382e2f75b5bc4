"""The event contract and everything that reads, writes and stores events: no analysis, no Dagster.

Owns: the contract (``contract``), the reader and the cleaned-day stream (``reader``, ``cleaned``), events'
inheritance of their attempt's context (``inherit``), the
writers (``writer``, ``logger``, ``metrics_line``, ``jsonl``, ``atomic``), where files live (``paths``,
``partitions``, ``object_store``, ``archive``, ``quarantine``), the file follower (``tailer``), the time
windows (``windows``) and the typed settings (``settings``: loaded once at the edges, passed down).

May import: ``agent_pipelines.text`` (redaction happens where text enters) and third-party libraries.
Imported by every other package.
"""

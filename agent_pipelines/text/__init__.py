"""Text in, text out: secret redaction, message masking, template mining and Markdown escaping.

The lowest layer: pure functions over strings and polars columns, shared by the reader (redaction at
the edge), the live detectors and batch clustering (one masking, one miner), and the reports.

May import: the standard library and polars only; nothing else of ours.
"""

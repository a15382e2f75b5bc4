"""The contract check of a pass's events, all at once.

Events are built in Python one by one, but checked together: the pass's lines go through the same
vectorized rules the reader applies to a log folder (:func:`agent_pipelines.core.reader.blocks.parse_block`),
a few milliseconds for thousands of events where checking each as it is built cost a third of the
import. An event the contract refuses is not written; it is quarantined with the location of the
record it came from.
"""

from __future__ import annotations

from agent_pipelines.core.contract import MAX_LINE_BYTES
from agent_pipelines.core.reader.blocks import parse_block


def refused(lines: list[str]) -> dict[int, tuple[str, str]]:
    """Index -> (reason, detail) of the lines (serialized events) the contract refuses."""
    if not lines:
        return {}
    block = ("\n".join(lines) + "\n").encode("utf-8")
    # Only the refusals are used (the lines written are ours, from records redacted where they
    # entered, core.py): redacting the parsed frame, thrown away here, was a tenth of the import.
    _events, bad = parse_block(block, "<import>", 0, 0, MAX_LINE_BYTES, redact=False)
    return {int(r["line_number"]): (str(r["reason"]), str(r["detail"])) for r in bad}

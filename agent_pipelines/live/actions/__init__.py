"""Actions: run a configured command or HTTP call for an alert's recommendation, at most once.

The original system's monitor acted on each alert's ``recommendation`` (an AI autofix for an error
loop, a fresh session for a tool loop, a health check for a stuck agent...). Here a team configures,
per recommendation, a command (the alert JSON on its stdin) or a URL (the alert JSON as the POST
body) in ``alerts.yaml``; nothing runs unless configured.

* :mod:`.ledger` — one file per alert under ``<data>/state/actions/``: planned, launched, running,
  the outcome of every attempt; the at-most-once rules live there.
* :mod:`.runner` — the detached process that runs one attempt and records it, so a slow action never
  holds up detection, delivery or other actions, and survives the detector run ending.
"""

from agent_pipelines.live.actions.ledger import ActionLedger, ActionRecord

__all__ = ["ActionLedger", "ActionRecord"]

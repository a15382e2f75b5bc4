"""agent-pipelines: logs, analytics and live alerts for fleets of AI coding agents.

The public names below are imported lazily, so ``import agent_pipelines.core.paths`` (used by tiny
orchestrator hooks) does not pay for polars and pandera.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "AgentWorkLogger": "agent_pipelines.core.logger",
    "ContractError": "agent_pipelines.core.contract",
    "Reason": "agent_pipelines.core.contract",
    "check_event": "agent_pipelines.core.contract",
    "read_file": "agent_pipelines.core.reader",
    "read_logs": "agent_pipelines.core.reader",
    "ReadResult": "agent_pipelines.core.reader",
    "generate": "agent_pipelines.generator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agent_pipelines' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

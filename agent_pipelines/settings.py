"""Reading switches from the environment the way the seed system did."""

from __future__ import annotations

import os

_OFF = ("false", "0", "no", "off")


def env_flag(name: str, default: bool = True) -> bool:
    """A boolean switch: anything but ``false``/``0``/``no``/``off`` (any case) is on.

    The seed read ``AGENT_WORK_LOGGING_ENABLED`` and ``AGENT_WORK_ANALYZER_ENABLED`` as "on unless
    explicitly false"; every switch of ours reads the same way so users learn one rule.
    """
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in _OFF

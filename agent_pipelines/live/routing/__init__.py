"""Alert routing: ``alerts.yaml`` (receivers, an Alertmanager-shaped route tree, actions), silences,
bundling bursts, and durable per-receiver delivery.

* :mod:`.config` — the file's pydantic model and its one-line errors.
* :mod:`.silences` — silences set from the command line, and the record of what they held.
* :mod:`.messages` — what a bundle says to Telegram, to apprise, to a webhook.
* :mod:`.router` — route, bundle (group_wait / group_interval / repeat_interval), deliver per receiver.
(The detector run's two steps around the committed state are in :mod:`agent_pipelines.live.dispatch`.)

No file means no routing: the Telegram-only behaviour of :func:`agent_pipelines.live.alerts.publish`.
"""

from agent_pipelines.live.routing.config import AlertsConfig, AlertsConfigError, load_config, parse_config
from agent_pipelines.live.routing.router import Router, resolve
from agent_pipelines.live.routing.silences import Silence, SilenceStore

__all__ = [
    "AlertsConfig",
    "AlertsConfigError",
    "Router",
    "Silence",
    "SilenceStore",
    "load_config",
    "parse_config",
    "resolve",
]

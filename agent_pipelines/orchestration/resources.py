"""Dagster resources.

``TelegramResource`` configures the Telegram notifier. Environment variables:

* ``TELEGRAM_BOT_TOKEN`` — the bot token from @BotFather (``123456789:AA...``). Secret.
* ``TELEGRAM_CHAT_ID`` — the chat (user, group or channel id, e.g. ``-1001234567890``) to post to.
* ``TELEGRAM_API_BASE_URL`` — optional, default ``https://api.telegram.org``; tests point it at a
  local fake server.

The edge (:mod:`agent_pipelines.definitions`, ``agent-pipelines detect``) builds it with
:meth:`TelegramResource.from_settings` from the settings it loaded. Why not ``dg.EnvVar`` directly:
in Dagster 1.13 an ``EnvVar`` whose variable is unset fails config post-processing ("You have
attempted to fetch the environment variable ... which is not set"), i.e. *every run using the
resource fails*. Telegram is optional — a deployment without it must still run all assets — so
``from_settings`` uses ``dg.EnvVar`` only for variables that are set (keeping the value out of the
Dagster UI) and leaves the field ``None`` otherwise. ``configured`` is then False and callers log
one warning (:meth:`TelegramResource.warn_if_unconfigured`) and skip sending; alerts still go to the
outbox and are delivered once Telegram is configured.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from agent_pipelines.core.settings import Settings, defaults
from agent_pipelines.live.notifiers.outbox import Outbox
from agent_pipelines.live.notifiers.telegram import DEFAULT_API_BASE, TelegramClient
from agent_pipelines.orchestration.io_manager import PARQUET_IO, PolarsParquetIOManager, tables_location
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.text.redaction import register_secret

ENV_BOT_TOKEN = "TELEGRAM_BOT_TOKEN"
ENV_CHAT_ID = "TELEGRAM_CHAT_ID"
ENV_API_BASE_URL = "TELEGRAM_API_BASE_URL"

_warned_lock = threading.Lock()
_warned = False


class TelegramResource(dg.ConfigurableResource):
    """Telegram Bot API settings; ``get_client()`` builds a :class:`TelegramClient`.

    Build it with :meth:`from_settings` at the edge so an unset variable means "not configured"
    instead of a failed run.
    """

    bot_token: str | None = Field(default=None, description=f"Bot token (env {ENV_BOT_TOKEN}). Secret.")
    chat_id: str | None = Field(default=None, description=f"Target chat id (env {ENV_CHAT_ID}).")
    api_base_url: str = Field(
        default=DEFAULT_API_BASE, description=f"Bot API base URL (env {ENV_API_BASE_URL})."
    )
    timeout_seconds: float = Field(default=10.0, description="Per-request timeout.")
    max_retries: int = Field(default=4, description="Retries after the first attempt (5xx, 429, network).")
    max_total_seconds: float = Field(
        default=120.0, description="Upper bound on time spent retrying one message."
    )
    max_age_seconds: float = Field(
        default=3600.0,
        description="Older alerts are written but not sent (env AGENT_ALERT_TELEGRAM_MAX_AGE_SECONDS).",
    )
    max_retry_after_seconds: float = Field(
        default=60.0,
        description="Longest 429 retry_after we wait in-process; longer leaves messages pending.",
    )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> TelegramResource:
        """The resource for ``settings``: ``dg.EnvVar`` for each ``TELEGRAM_*`` variable that is set
        (the token never enters the definitions), ``None`` for one that is not (see module doc)."""
        kwargs: dict[str, Any] = {"max_age_seconds": settings.telegram_max_age_seconds}
        if settings.telegram_bot_token is not None:
            kwargs["bot_token"] = dg.EnvVar(ENV_BOT_TOKEN)
        if settings.telegram_chat_id:
            kwargs["chat_id"] = dg.EnvVar(ENV_CHAT_ID)
        if settings.telegram_api_base_url:
            kwargs["api_base_url"] = dg.EnvVar(ENV_API_BASE_URL)
        kwargs.update(overrides)
        return cls(**kwargs)

    def __repr_args__(self) -> Any:
        """Hide the token from ``repr``/``str`` (pydantic would print it verbatim)."""
        for name, value in super().__repr_args__():
            if name == "bot_token" and value:
                yield name, "***"
            else:
                yield name, value

    @property
    def configured(self) -> bool:
        """True when both a token and a chat id are set (non-empty)."""
        return bool(_plain(self.bot_token) and _plain(self.chat_id))

    def missing_settings(self) -> list[str]:
        """Names of the environment variables still needed, for a helpful warning."""
        missing = []
        if not _plain(self.bot_token):
            missing.append(ENV_BOT_TOKEN)
        if not _plain(self.chat_id):
            missing.append(ENV_CHAT_ID)
        return missing

    def warn_if_unconfigured(self, log: logging.Logger | Any | None = None) -> bool:
        """Log one clear warning per process when Telegram is not configured; returns ``configured``.

        ``log`` may be a ``logging.Logger`` or a Dagster ``context.log``.
        """
        global _warned
        if self.configured:
            return True
        with _warned_lock:
            if _warned:
                return False
            _warned = True
        (log or logging.getLogger(__name__)).warning(
            "Telegram notifications are disabled: set %s to enable them. Alerts are still written to "
            "agent-alerts.jsonl and kept in the outbox.",
            " and ".join(self.missing_settings()),
        )
        return False

    def get_client(self) -> TelegramClient:
        """A client for the configured chat. Raises ``RuntimeError`` when not configured."""
        token, chat_id = _plain(self.bot_token), _plain(self.chat_id)
        if not token or not chat_id:
            raise RuntimeError(f"Telegram is not configured: set {' and '.join(self.missing_settings())}")
        register_secret(token)
        return TelegramClient(
            token,
            chat_id,
            api_base=_plain(self.api_base_url) or DEFAULT_API_BASE,
            timeout=self.timeout_seconds,
            max_retries=self.max_retries,
            max_total_time=self.max_total_seconds,
            max_retry_after=self.max_retry_after_seconds,
        )

    def get_outbox(self, data_dir: str | os.PathLike[str]) -> Outbox:
        """The outbox under ``<data>/state/telegram-outbox`` (``data_dir``: the local data folder)."""
        return Outbox(Path(data_dir) / "state" / "telegram-outbox")


def resources(
    settings: Settings, logs_dir: str = "", data_dir: str = ""
) -> dict[str, dg.ConfigurableResource | dg.ConfigurableIOManager | dg.IOManagerDefinition]:
    """Every resource of the code location, bound once from the edge's ``settings``: the log folder
    (and the settings runs read), the Parquet tables, Telegram and the detector job's in-memory IO
    manager. ``logs_dir``/``data_dir`` override the settings' folders (``materialize``, tests)."""
    return {
        **analytics_resources(logs_dir, data_dir, settings),
        "telegram": TelegramResource.from_settings(settings),
        "detector_io": dg.mem_io_manager,
    }


def analytics_resources(
    logs_dir: str = "", data_dir: str = "", settings: Settings | None = None
) -> dict[str, dg.ConfigurableResource | dg.ConfigurableIOManager]:
    """The batch analytics' resources (the log folder and the Parquet tables) for ``settings``
    (every default without); ``logs_dir``/``data_dir`` override its folders. The code location,
    ``agent-pipelines materialize``, the benchmarks and the tests bind them here."""
    store = LogStore.from_settings(settings or defaults(), logs_dir, data_dir)
    return {
        "log_store": store,
        PARQUET_IO: PolarsParquetIOManager(
            base_dir=tables_location(store.data_location), local_dir=str(store.data_path)
        ),
    }


def detector_resources(
    log_store: LogStore | None = None, telegram: TelegramResource | None = None
) -> dict[str, Any]:
    """The live detector job's resources, bound one way for the sensor's code location, ``detect
    --once``, the benchmark and the tests: the log folder, Telegram (not configured unless given)
    and an in-memory IO manager (the job's three ops hand one batch over in process)."""
    return {
        "log_store": log_store if log_store is not None else LogStore(),
        "telegram": telegram if telegram is not None else TelegramResource(),
        "detector_io": dg.mem_io_manager,
    }


def _plain(value: Any) -> str | None:
    """The string value of a field, resolving an unresolved ``EnvVar`` (outside a run) safely."""
    if value is None:
        return None
    if isinstance(value, dg.EnvVar):
        return value.get_value() or None
    text = str(value).strip()
    return text or None


def _reset_warning_for_tests() -> None:
    global _warned
    with _warned_lock:
        _warned = False

"""``alerts.yaml``: receivers, the routing tree, and actions, validated in one place.

The shape is Alertmanager's, so a team that runs one reads ours without a manual: ``receivers`` are
named destinations, ``route`` is a tree whose children match alerts on ``type`` / ``severity`` /
``executor`` / ``project`` / ``task`` (first matching child wins unless it says ``continue: true``;
no child matching leaves the alert with the parent's receiver), and ``group_wait`` /
``group_interval`` / ``repeat_interval`` are inherited down the tree. ``actions`` maps a
recommendation to a command or an HTTP call.

Secrets stay out of the file: ``${NAME}`` in any string is replaced by that environment variable
(an unset one is an error naming it). A bad file raises :class:`AlertsConfigError` whose message is
one line: the file, the place in it and what is wrong.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

RECOMMENDATIONS = (
    "trigger_ai_autofix",
    "fresh_session",
    "check_agent_health",
    "analyze_root_cause",
    "review_prompt_efficiency",
    "manual_review",
)
Recommendation = Literal[
    "trigger_ai_autofix",
    "fresh_session",
    "check_agent_health",
    "analyze_root_cause",
    "review_prompt_efficiency",
    "manual_review",
]
# A matcher's name → the alert field it reads (``project`` reads ``project_id`` when present).
MATCH_FIELDS: dict[str, tuple[str, ...]] = {
    "type": ("type",),
    "severity": ("severity",),
    "executor": ("executor",),
    "project": ("project_id", "project"),
    "task": ("task_id",),
    "recommendation": ("recommendation",),
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class AlertsConfigError(ValueError):
    """The alerts configuration cannot be used; the message is one line for the user."""


def parse_duration(value: Any) -> float:
    """Seconds from ``30s``, ``5m``, ``4h``, ``1d``, ``250ms`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 4h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration such as 30s, 5m or 4h")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError("a duration must be finite and ≥ 0")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WebhookReceiver(_Strict):
    """Our own JSON webhook: HMAC-SHA256 signed body, ``Idempotency-Key`` header."""

    url: str
    secret: str | None = Field(default=None, description="HMAC key; ${VAR} keeps it out of the file")
    format: Literal["json", "slack"] = "json"
    timeout: float = 10.0
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("timeout", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("a webhook url starts with http:// or https://")
        return value


class TelegramReceiver(_Strict):
    """The built-in Telegram client (TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID), our own outbox path."""


class Receiver(_Strict):
    """One named destination: exactly one of ``apprise`` (a URL), ``webhook`` or ``telegram``.

    One apprise URL per receiver, not a list: apprise reports one success or failure for all its
    URLs, so a list with one broken URL would re-send to the working ones on every retry."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    apprise: str | None = Field(default=None, description="one apprise URL: a receiver is the unit of 'once'")
    webhook: WebhookReceiver | None = None
    telegram: TelegramReceiver | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Receiver:
        kinds = [k for k in ("apprise", "webhook", "telegram") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"receiver {self.name!r} needs exactly one of apprise, webhook, telegram")
        if self.apprise is not None and "://" not in self.apprise:
            raise ValueError(f"receiver {self.name!r}: apprise needs a URL such as slack://... or ntfy://...")
        return self

    @property
    def kind(self) -> str:
        return (
            "apprise" if self.apprise is not None else "webhook" if self.webhook is not None else "telegram"
        )


class Route(_Strict):
    """A node of the routing tree; unset timing fields inherit from the parent."""

    receiver: str | None = None
    match: dict[str, str | list[str]] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    continue_: bool = Field(default=False, alias="continue")
    group_by: list[str] | None = None
    group_wait: float | None = None
    group_interval: float | None = None
    repeat_interval: float | None = None
    routes: list[Route] = Field(default_factory=list)

    @field_validator("group_wait", "group_interval", "repeat_interval", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("match", "match_re")
    @classmethod
    def _known_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(MATCH_FIELDS))
        if unknown:
            raise ValueError(f"cannot match on {', '.join(unknown)} (known: {', '.join(MATCH_FIELDS)})")
        return value

    @field_validator("match_re")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"match_re.{name}: {exc}") from None
        return value

    @field_validator("group_by")
    @classmethod
    def _group_fields(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (unknown := sorted(set(value) - set(MATCH_FIELDS) - {"attempt"})):
            raise ValueError(f"cannot group by {', '.join(unknown)}")
        return value


class Action(_Strict):
    """What to do for one recommendation: a ``command`` (alert JSON on stdin) or a ``url`` (POST)."""

    command: list[str] | None = None
    url: str | None = None
    timeout: float = 60.0
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_backoff: float = 30.0
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("timeout", "retry_backoff", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_kind(self) -> Action:
        if (self.command is None) == (self.url is None):
            raise ValueError("an action needs exactly one of command or url")
        if self.command is not None and not self.command:
            raise ValueError("an action's command cannot be empty")
        return self


class AlertsConfig(_Strict):
    """The whole file."""

    receivers: list[Receiver] = Field(default_factory=list)
    route: Route = Field(default_factory=Route)
    actions: dict[Recommendation, Action] = Field(default_factory=dict)
    max_age: float = Field(default=3600.0, description="older alerts are written, never sent or acted on")

    @field_validator("max_age", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _receivers_exist(self) -> AlertsConfig:
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError("receiver names must be unique")
        for name in _route_receivers(self.route):
            if name not in names:
                raise ValueError(f"route names receiver {name!r}, which is not in receivers")
        return self

    def receiver(self, name: str) -> Receiver:
        return next(r for r in self.receivers if r.name == name)


def _route_receivers(route: Route) -> list[str]:
    names = [route.receiver] if route.receiver else []
    for child in route.routes:
        names.extend(_route_receivers(child))
    return names


def _expand(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    """``${VAR}`` replaced by the environment's value, in every string of the parsed file."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise AlertsConfigError(f"{where}: ${{{name}}} is used but the variable is not set")
            return environ[name]

        return _ENV.sub(sub, value)
    if isinstance(value, list):
        return [_expand(v, where, environ) for v in value]
    if isinstance(value, Mapping):
        return {k: _expand(v, where, environ) for k, v in value.items()}
    return value


def secrets_environment() -> Mapping[str, str]:
    """Where ``${NAME}`` is looked up: the process environment, read here and nowhere else below
    the edges. The receivers' and actions' secrets are named by the file, so the typed settings
    cannot list them; like Telegram's token (Dagster's ``EnvVar``), they are read by the process
    that uses them and never travel in a run's config or the ledger."""
    return os.environ


def parse_config(
    data: Any, where: str = "alerts.yaml", environ: Mapping[str, str] | None = None
) -> AlertsConfig:
    """A parsed YAML document as a checked :class:`AlertsConfig` (one-line error otherwise).
    ``environ`` (default :func:`secrets_environment`) resolves ``${NAME}``."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise AlertsConfigError(f"{where}: expected a mapping at the top (receivers, route, actions)")
    try:
        expanded = _expand(data, where, secrets_environment() if environ is None else environ)
        return AlertsConfig.model_validate(expanded)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"]) or "top level"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        raise AlertsConfigError(f"{where}: {place}: {message}{more}") from None


def load_config(path: str | os.PathLike[str] | None) -> AlertsConfig | None:
    """The configuration at ``path``; ``None`` when there is no file (today's Telegram-only behaviour)."""
    import yaml  # type: ignore[import-untyped]  # no stubs in the lock; safe_load only

    if path is None:
        return None
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AlertsConfigError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise AlertsConfigError(f"{file}:{at}: {problem}") from None
    return parse_config(data, str(file))

"""Slack, Discord, Teams, e-mail, ntfy, Mattermost, PagerDuty... through ``apprise`` URLs.

Why apprise: one well-kept library speaks ~100 services, configured by one URL each
(``slack://T/B/token``, ``discord://id/token``, ``msteams://...``, ``mailtos://user:pass@host?to=...``,
``ntfy://host/topic``, ``mmost://host/token``); we keep only what it lacks around it — the durable
per-receiver outbox (at least once, never twice), redaction of what we send and log, and the
retry-later on failure. Apprise reports only success or failure, so every failure is retried on a
later run (a wrong URL therefore stays pending until it is fixed, which is what we want: fixing it
delivers the backlog).

The URLs carry tokens: each is registered as a secret (so our logs and errors never show it) and
apprise's own logger gets the redacting filter.
"""

from __future__ import annotations

from typing import Any

from agent_pipelines.live.notifiers.webhook import DeliveryError
from agent_pipelines.text.redaction import install_log_filter, register_secret


class AppriseSender:
    """Sends outbox messages (plain text, first line the title) to one apprise URL."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        import apprise

        register_secret(url)
        # The token parts alone, as apprise may log the URL re-assembled in another order.
        for part in url.split("://", 1)[-1].replace("?", "/").replace("@", "/").split("/"):
            if len(part) >= 12:
                register_secret(part)
        install_log_filter("apprise")
        self._apprise = apprise.Apprise()
        joined = url + ("&" if "?" in url else "?") + f"cto={timeout:g}&rto={timeout:g}"
        if not self._apprise.add(joined):
            raise DeliveryError("the apprise URL of this receiver is not understood", retryable=False)
        self._body_format = apprise.NotifyFormat.TEXT

    def __repr__(self) -> str:
        return "AppriseSender(url='***')"

    def close(self) -> None:
        """Nothing to close (apprise opens a session per notification)."""

    def send_message(self, text: str, parse_mode: str | None = "text") -> dict[str, Any]:
        title, _, body = text.partition("\n")
        if not self._apprise.notify(
            body=body or title, title=title if body else "", body_format=self._body_format
        ):
            raise DeliveryError("apprise could not deliver to this receiver", retryable=True)
        return {}

"""A small, careful Telegram Bot API client (``sendMessage``, ``getMe``) on top of ``requests``.

Why not a library: we need exactly two methods, and three properties libraries rarely give together:

* **The token never leaks.** It lives in every request URL (``/bot<TOKEN>/sendMessage``), and
  ``requests`` copies that URL into exception messages and urllib3 logs it at DEBUG level. We
  register the token with :mod:`agent_pipelines.text.redaction`, re-raise every transport error as a
  :class:`TelegramError` whose text is redacted and *which has no exception chain* (``__context__``
  would otherwise carry the original message), install a redacting filter on urllib3's logger,
  and hide the token from ``repr``/``str``.
* **Bounded, polite retries.** 5xx, connection errors and timeouts are retried with capped
  exponential backoff and jitter inside a total time budget; a 429 waits exactly the
  ``parameters.retry_after`` Telegram asks for (when that is within ``max_retry_after``); other 4xx
  are permanent and raised at once with Telegram's description.
* **Honest about duplicates.** A *read* timeout is ambiguous — Telegram may have posted the
  message before we gave up — so retrying it can duplicate a message. That is the accepted
  trade-off (a lost alert is worse than a repeated one); it is the same window the outbox documents.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import requests

from agent_pipelines.text.redaction import REDACTED, install_log_filter, redact, register_secret

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.telegram.org"


class TelegramError(Exception):
    """A Bot API call failed. The message is always redacted (no token, no secrets).

    ``retryable`` tells a caller (the outbox) whether trying again later can help: True for
    transport errors, 5xx and rate limits; False for rejected requests (bad token, bad chat id,
    unparsable HTML, message too long).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: int | None = None,
        description: str | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(redact(message))
        self.status = status
        self.error_code = error_code
        self.description = redact(description) if description else None
        self.retry_after = retry_after
        self.retryable = retryable

    @property
    def is_auth_error(self) -> bool:
        """The token or chat is wrong (401/403/404): every further message would fail the same way."""
        return self.status in (401, 403, 404)


class TelegramRateLimited(TelegramError):
    """Telegram asked us to wait longer than ``max_retry_after``; retry after ``retry_after`` seconds."""


class TelegramClient:
    """Send messages to one chat through the Telegram Bot API.

    Usage::

        client = TelegramClient(token, chat_id)
        client.send_message("<b>hello</b>")   # returns Telegram's ``result`` dict

    Retry policy (all in seconds): up to ``max_retries`` retries after the first attempt, waits of
    ``min(backoff_max, backoff_base * 2**n)`` scaled by a random factor in [0.5, 1], never past
    ``max_total_time`` since the call started. Use small values in tests.
    """

    def __init__(
        self,
        token: str,
        chat_id: str | int,
        api_base: str = DEFAULT_API_BASE,
        timeout: float = 10.0,
        max_retries: int = 4,
        *,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_total_time: float = 120.0,
        max_retry_after: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not token:
            raise ValueError("a Telegram bot token is required")
        if chat_id is None or str(chat_id) == "":
            raise ValueError("a Telegram chat id is required")
        self._token = token
        register_secret(token)
        install_log_filter("urllib3.connectionpool")
        install_log_filter("urllib3.util.retry")
        self.chat_id = str(chat_id)
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_total_time = max_total_time
        self.max_retry_after = max_retry_after
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock  # with ``sleep``, what tests replace to check the retry budget exactly

    def __repr__(self) -> str:
        return f"TelegramClient(api_base={self.api_base!r}, chat_id={self.chat_id!r}, token='***')"

    __str__ = __repr__

    def close(self) -> None:
        """Close the HTTP session if we created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> TelegramClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API ---------------------------------------------------------------------------------

    def send_message(
        self,
        text: str,
        parse_mode: str | None = "HTML",
        *,
        disable_notification: bool = False,
    ) -> dict[str, Any]:
        """Post ``text`` to the configured chat; returns Telegram's ``result`` (has ``message_id``).

        The bot token itself is scrubbed from the text as a last line of defence (a literal replace,
        safe for HTML); pattern redaction is the formatter's job because it must happen before HTML
        escaping.
        Raises :class:`TelegramError` when the message could not be delivered.
        """
        payload: dict[str, Any] = {
            "chat_id": self.chat_id,
            "text": text.replace(self._token, REDACTED),
            "disable_web_page_preview": True,
        }
        if parse_mode:
            payload["parse_mode"] = parse_mode
        if disable_notification:
            payload["disable_notification"] = True
        return self._call("sendMessage", payload)

    def get_me(self) -> dict[str, Any]:
        """Check the token: returns the bot's user object."""
        return self._call("getMe", None)

    # -- internals ----------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return redact(text, [self._token])

    def _backoff(self, retry_number: int) -> float:
        base = min(self.backoff_max, self.backoff_base * (2**retry_number))
        return base * random.uniform(0.5, 1.0)

    def _call(self, method: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        url = f"{self.api_base}/bot{self._token}/{method}"
        started = self._clock()
        last_error: TelegramError | None = None
        for attempt in range(self.max_retries + 1):
            error, wait = self._attempt(url, method, payload)
            if isinstance(error, dict):
                return error
            last_error = error
            if not error.retryable or isinstance(error, TelegramRateLimited) or attempt >= self.max_retries:
                break
            if wait is None:
                wait = self._backoff(attempt)
            remaining = self.max_total_time - (self._clock() - started)
            if wait > remaining:
                logger.warning(
                    "Telegram %s: giving up, next retry in %.1fs would exceed the %.0fs budget: %s",
                    method,
                    wait,
                    self.max_total_time,
                    error,
                )
                break
            logger.info("Telegram %s failed (%s); retry %d in %.2fs", method, error, attempt + 1, wait)
            self._sleep(wait)
        assert last_error is not None
        raise last_error

    def _attempt(
        self, url: str, method: str, payload: dict[str, Any] | None
    ) -> tuple[dict[str, Any] | TelegramError, float | None]:
        """One HTTP request. Returns (result, None) on success or (error, wait-before-retry or None)."""
        transport_error: str | None = None
        try:
            if payload is None:
                response = self._session.get(url, timeout=self.timeout)
            else:
                response = self._session.post(url, json=payload, timeout=self.timeout)
        except requests.Timeout as exc:
            transport_error = f"timed out after {self.timeout}s ({type(exc).__name__}: {exc})"
        except requests.ConnectionError as exc:
            transport_error = f"connection failed ({type(exc).__name__}: {exc})"
        except requests.RequestException as exc:
            transport_error = f"request failed ({type(exc).__name__}: {exc})"
        if transport_error is not None:
            # Raised outside the except block on purpose: no __context__ chain carrying the raw URL.
            return TelegramError(f"Telegram {method} {self._redact(transport_error)}", retryable=True), None

        body: dict[str, Any] = {}
        try:
            parsed = response.json()
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            pass
        status = response.status_code
        if 200 <= status < 300 and body.get("ok") is True:
            result = body.get("result")
            return (result if isinstance(result, dict) else {"result": result}), None

        description = str(body.get("description") or response.reason or "no description")
        description = self._redact(description)
        error_code = body.get("error_code") if isinstance(body.get("error_code"), int) else status
        parameters = body["parameters"] if isinstance(body.get("parameters"), dict) else {}

        if status == 429:
            retry_after = _as_float(parameters.get("retry_after")) or _as_float(
                response.headers.get("Retry-After")
            )
            retry_after = retry_after if retry_after is not None else 1.0
            if retry_after > self.max_retry_after:
                return TelegramRateLimited(
                    f"Telegram {method} rate limited: retry after {retry_after:g}s "
                    f"(more than max_retry_after={self.max_retry_after:g}s)",
                    status=status,
                    error_code=error_code,
                    description=description,
                    retry_after=retry_after,
                    retryable=True,
                ), None
            error = TelegramError(
                f"Telegram {method} rate limited (429): {description}",
                status=status,
                error_code=error_code,
                description=description,
                retry_after=retry_after,
                retryable=True,
            )
            return error, retry_after
        if status >= 500 or status in (408,):
            return TelegramError(
                f"Telegram {method} server error {status}: {description}",
                status=status,
                error_code=error_code,
                description=description,
                retryable=True,
            ), None
        hint = ""
        if status == 401:
            hint = " (check TELEGRAM_BOT_TOKEN)"
        elif status in (400, 403) and "chat" in description.lower():
            hint = " (check TELEGRAM_CHAT_ID and that the bot is a member of the chat)"
        return TelegramError(
            f"Telegram {method} rejected ({status}): {description}{hint}",
            status=status,
            error_code=error_code,
            description=description,
            retryable=False,
        ), None


def _as_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None

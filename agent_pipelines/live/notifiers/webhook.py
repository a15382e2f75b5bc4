"""Our own JSON webhook: a body a receiver can verify (HMAC-SHA256) and deduplicate (idempotency key).

Why our own and not apprise's ``json://``: a fleet's orchestrator acts on what it receives, so it must
know the message came from us and must be able to drop a repeat. The outbox promises at least once
(a crash after the receiver answered but before our journal write re-sends one message); the
``Idempotency-Key`` header (the alert id for a single alert, a digest of the alert ids for a group)
turns that into exactly once on a receiver that remembers keys.

Headers of every POST::

    Content-Type: application/json
    Idempotency-Key: <key>
    X-Agent-Pipelines-Signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>
    X-Agent-Pipelines-Timestamp: <epoch seconds>   (also inside the body, so it is signed)

Verify with ``hmac.compare_digest(sign(secret, body), header)`` over the *raw* bytes received.
Status handling (what the outbox does next): 2xx delivered; 408/429/5xx, timeouts and connection
errors retry later; 400 is dead-lettered (the same body would be refused again); other 4xx stop the
run and keep everything pending (a configuration problem, fixed by the operator).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import requests

from agent_pipelines.text.redaction import install_log_filter, redact, register_secret

SIGNATURE_HEADER = "X-Agent-Pipelines-Signature"
TIMESTAMP_HEADER = "X-Agent-Pipelines-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` (constant-time compare)."""
    return bool(header) and hmac.compare_digest(sign(secret, body), str(header))


class DeliveryError(Exception):
    """A receiver did not take a message. Redacted text; ``retryable`` and ``status`` for the outbox."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True) -> None:
        super().__init__(redact(message))
        self.status = status
        self.retryable = retryable


class WebhookSender:
    """POSTs outbox messages (already JSON text) to one URL, signed when a secret is set."""

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        *,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self._secret = secret
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._session = session or requests.Session()
        if secret:
            register_secret(secret)
        install_log_filter("urllib3.connectionpool")

    def __repr__(self) -> str:
        return f"WebhookSender(url={redact(self.url)!r}, secret={'***' if self._secret else None})"

    def close(self) -> None:
        self._session.close()

    def send_message(self, text: str, parse_mode: str | None = "json") -> dict[str, Any]:
        """POST ``text`` (the JSON body, sent byte for byte as signed). Raises :class:`DeliveryError`."""
        body = text.encode("utf-8")
        key = ""
        try:
            parsed = json.loads(text)
            key = str(parsed.get("idempotency_key") or "") if isinstance(parsed, dict) else ""
        except ValueError:
            pass
        headers = {"Content-Type": "application/json", **self.headers}
        if key:
            headers[IDEMPOTENCY_HEADER] = key
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        error: str | None = None
        try:
            response = self._session.post(self.url, data=body, headers=headers, timeout=self.timeout)
        except requests.Timeout:
            error = f"webhook timed out after {self.timeout:g}s"
        except requests.RequestException as exc:
            error = f"webhook request failed ({type(exc).__name__})"
        if error is not None:  # raised outside the except block: no chain carrying the raw URL
            raise DeliveryError(error, retryable=True)
        status = response.status_code
        if 200 <= status < 300:
            return {"status": status}
        detail = redact(response.text[:200].strip())
        retryable = status >= 500 or status in (408, 429)
        raise DeliveryError(f"webhook answered {status}: {detail}", status=status, retryable=retryable)

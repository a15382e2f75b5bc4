"""A real HTTP server speaking enough of the Telegram Bot API to test our client end to end.

Why a real server rather than mocking ``requests``: the behaviours that matter — timeouts,
connection refused while the server is down, retry timing, what ends up in exception text — only
happen on a real socket. The server listens on 127.0.0.1 on a free port (or a fixed one, so it can
be stopped and restarted "in place" while an outbox still has pending messages).

Usage::

    with FakeTelegram(token=TOKEN, chat_ids={"42"}) as tg:
        client = TelegramClient(TOKEN, "42", api_base=tg.api_base)
        tg.fail_next(1, status=500)
        client.send_message("hi")
        assert tg.texts() == ["hi"]

Validation mirrors Telegram: wrong token → 401 ``Unauthorized``; unknown chat → 400 ``chat not
found``; empty text; text longer than 4096 UTF-16 units *after* entity parsing → ``message is too
long``; HTML with unsupported or unbalanced tags or bare ``<``/``&`` → ``can't parse entities``.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_TOKEN = "123456789:AAEfakeTokenForTestsOnly_abcdefghijklmnopq"
MAX_TEXT = 4096
_SUPPORTED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^<>]*)?)>")
_ENTITY_RE = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});")


class EntityError(ValueError):
    """The HTML would be rejected by Telegram with ``can't parse entities``."""


def parse_html_text(text: str) -> str:
    """Validate Telegram HTML and return the plain text Telegram would display (tags removed)."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            m = _TAG_RE.match(text, i)
            if not m:
                raise EntityError(f"Unexpected character '<' at byte offset {len(text[:i].encode())}")
            closing, name = m.group(1), m.group(2).lower()
            if name not in _SUPPORTED_TAGS:
                raise EntityError(f'Unsupported start tag "{name}" at byte offset {len(text[:i].encode())}')
            if closing:
                if not stack or stack[-1] != name:
                    expected = stack[-1] if stack else ""
                    raise EntityError(
                        f"Unmatched end tag at byte offset {len(text[:i].encode())}, "
                        f'expected "</{expected}>", found "</{name}>"'
                    )
                stack.pop()
            else:
                stack.append(name)
            i = m.end()
        elif ch == "&":
            m = _ENTITY_RE.match(text, i)
            if not m:
                raise EntityError(f"Unsupported entity at byte offset {len(text[:i].encode())}")
            out.append(html.unescape(m.group(0)))
            i = m.end()
        elif ch == ">":
            raise EntityError(f"Unexpected character '>' at byte offset {len(text[:i].encode())}")
        else:
            out.append(ch)
            i += 1
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Action:
    kind: str  # "fail" | "rate_limit" | "delay" | "drop"
    status: int = 500
    description: str = "Internal Server Error"
    retry_after: float = 1.0
    seconds: float = 0.0
    deliver: bool = True


@dataclass
class ReceivedRequest:
    """One request the server saw (for assertions about retries and ordering)."""

    method: str
    token: str
    payload: dict[str, Any]
    status: int
    at: float = field(default_factory=time.monotonic)


class FakeTelegram:
    """A threaded Bot API server; a context manager; restartable on the same port."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        chat_ids: Iterable[str | int] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.chat_ids = {str(c) for c in chat_ids} if chat_ids is not None else None
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._actions: deque[_Action] = deque()
        self._messages: list[dict[str, Any]] = []
        self._requests: list[ReceivedRequest] = []
        self._next_message_id = 1
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> FakeTelegram:
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop open keep-alive connections, like a crashed server would.

        New connections are then refused. Recorded messages are kept.
        """
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting --------------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, description: str | None = None) -> None:
        """The next ``n`` requests fail with ``status`` (Bot API error body)."""
        desc = description or ("Internal Server Error" if status >= 500 else "Bad Request")
        with self._lock:
            self._actions.extend(_Action("fail", status=status, description=desc) for _ in range(n))

    def rate_limit_next(self, n: int = 1, retry_after: float = 1) -> None:
        """The next ``n`` requests get 429 with ``parameters.retry_after``."""
        with self._lock:
            self._actions.extend(_Action("rate_limit", status=429, retry_after=retry_after) for _ in range(n))

    def delay_next(self, n: int = 1, seconds: float = 1.0, deliver: bool = True) -> None:
        """The next ``n`` requests are answered after ``seconds`` (to trigger client timeouts).

        ``deliver=True`` mimics real Telegram: the message is still posted even if the client gave
        up waiting (the source of duplicates after a read timeout); ``False`` drops it.
        """
        with self._lock:
            self._actions.extend(_Action("delay", seconds=seconds, deliver=deliver) for _ in range(n))

    def clear_script(self) -> None:
        with self._lock:
            self._actions.clear()

    def _next_action(self) -> _Action | None:
        with self._lock:
            return self._actions.popleft() if self._actions else None

    # -- inspection -------------------------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Messages accepted (Bot API ``Message`` objects plus ``parse_mode``), in arrival order."""
        with self._lock:
            return list(self._messages)

    def texts(self) -> list[str]:
        """The raw texts of the accepted messages, as sent."""
        return [m["raw_text"] for m in self.messages]

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= n:
                break
            time.sleep(0.01)
        return self.messages

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._requests.clear()
            self._actions.clear()

    # -- request handling (called from handler threads) -----------------------------------------

    def _record_request(self, req: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    def _handle(self, token: str, method: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        action = self._next_action()
        if action is not None:
            if action.kind == "fail":
                return action.status, _error(action.status, action.description)
            if action.kind == "rate_limit":
                retry = (
                    int(action.retry_after) if float(action.retry_after).is_integer() else action.retry_after
                )
                body = _error(429, f"Too Many Requests: retry after {retry}")
                body["parameters"] = {"retry_after": retry}
                return 429, body
            if action.kind == "delay":
                time.sleep(action.seconds)
                if not action.deliver:
                    return 504, _error(504, "Gateway Timeout")
        if token != self.token:
            return 401, _error(401, "Unauthorized")
        if method.lower() == "getme":
            bot_id = int(self.token.split(":", 1)[0])
            return 200, {
                "ok": True,
                "result": {"id": bot_id, "is_bot": True, "first_name": "Fake", "username": "fake_bot"},
            }
        if method.lower() == "sendmessage":
            return self._send_message(payload)
        return 404, _error(404, "Not Found")

    def _send_message(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = payload.get("chat_id")
        if chat_id is None or str(chat_id) == "":
            return 400, _error(400, "Bad Request: chat_id is empty")
        if self.chat_ids is not None and str(chat_id) not in self.chat_ids:
            return 400, _error(400, "Bad Request: chat not found")
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            return 400, _error(400, "Bad Request: message text is empty")
        parse_mode = str(payload.get("parse_mode") or "")
        shown = text
        if parse_mode.upper() == "HTML":
            try:
                shown = parse_html_text(text)
            except EntityError as exc:
                return 400, _error(400, f"Bad Request: can't parse entities: {exc}")
        if utf16_len(shown) > MAX_TEXT:
            return 400, _error(400, "Bad Request: message is too long")
        if not shown.strip():
            return 400, _error(400, "Bad Request: message text is empty")
        with self._lock:
            message = {
                "message_id": self._next_message_id,
                "from": {"id": int(self.token.split(":", 1)[0]), "is_bot": True, "first_name": "Fake"},
                "chat": {"id": _chat_id_value(chat_id), "type": "private"},
                "date": int(time.time()),
                "text": shown,
            }
            self._next_message_id += 1
            self._messages.append({**message, "raw_text": text, "parse_mode": parse_mode or None})
        return 200, {"ok": True, "result": message}


def _chat_id_value(chat_id: Any) -> int | str:
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return str(chat_id)


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # rebind the same port right after stop() (TIME_WAIT)
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler sleeping in delay_next()
    fake: FakeTelegram

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # broken pipes after stop() or client timeouts are expected in tests

    def close_connections(self) -> None:
        """Cut every open connection (clients with keep-alive would otherwise keep being served)."""
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()


_PATH_RE = re.compile(r"^/bot(?P<token>[^/]*)/(?P<method>[A-Za-z]+)/?$")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean (and never print tokens from request lines)

    def _payload(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not raw:
            return query
        if ctype == "application/json":
            try:
                body = json.loads(raw)
            except ValueError:
                return None
            return {**query, **body} if isinstance(body, dict) else None
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
        return {**query, **form}

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        m = _PATH_RE.match(path)
        payload = self._payload()
        if not m:
            status, body = 404, _error(404, "Not Found")
            token, method = "", path
        elif payload is None:
            status, body = 400, _error(400, "Bad Request: invalid JSON body")
            token, method = m.group("token"), m.group("method")
        else:
            token, method = m.group("token"), m.group("method")
            status, body = self.server.fake._handle(token, method, payload)
        self.server.fake._record_request(ReceivedRequest(method, token, payload or {}, status))
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429 and "parameters" in body:
                self.send_header("Retry-After", str(body["parameters"]["retry_after"]))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout) or the server is stopping

    do_POST = _dispatch
    do_GET = _dispatch

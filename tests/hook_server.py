"""A real local HTTP server standing in for alert receivers: Slack-shaped webhooks (Mattermost's
``/hooks/<token>`` path, which apprise's ``mmost://`` posts to with Slack's ``{"text": ...}`` body),
our signed JSON webhook (it checks the HMAC and answers 401 when it is wrong) and a receiver that
fails on purpose (500, 429 with Retry-After, or hangs past the client's timeout).

``behaviour`` is a list consumed one answer per request (``"ok"``, ``"500"``, ``"429"``, ``"hang"``);
when it is empty every answer is ``ok``. Every request that got a 2xx is in ``accepted``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent_pipelines.live.notifiers.webhook import SIGNATURE_HEADER, verify


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class HookServer:
    def __init__(
        self, secret: str | None = None, behaviour: list[str] | None = None, hang_s: float = 3.0
    ) -> None:
        self.secret = secret
        self.behaviour = list(behaviour or [])
        self.hang_s = hang_s
        self.received: list[Received] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server.lock:
                    answer = server.behaviour.pop(0) if server.behaviour else "ok"
                status = 200
                if answer == "hang":
                    time.sleep(server.hang_s)
                    status = 504
                elif answer == "500":
                    status = 500
                elif answer == "429":
                    status = 429
                elif server.secret is not None and not verify(
                    server.secret, body, self.headers.get(SIGNATURE_HEADER)
                ):
                    status = 401
                with server.lock:
                    server.received.append(Received(self.path, dict(self.headers), body, status))
                try:
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b"{}" if status < 300 else b'{"error":"no"}')
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def __enter__(self) -> HookServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

"""The replays and reports, served read-only on loopback next to the Dagster UI.

``agent-pipelines ui`` starts it on the UI's port + 1 (``--files-port``): a small static server over
the data folder that answers GET and HEAD for ``/replays/...`` and ``/reports/...`` only — no
directory listings, nothing outside those two folders (symlinks included), no other method. The
pages are static HTML the pipeline wrote (``session_replays``, ``weekly_report``); the links in the
UI's metadata point here (``AGENT_PIPELINES_FILES_URL``). Behind a proxy (``deploy/``) the proxy
serves the same folders instead.
"""

from __future__ import annotations

import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

SERVED = ("replays", "reports")


class FilesHandler(SimpleHTTPRequestHandler):
    """GET/HEAD of files under the served folders; 404 for anything else (listings included)."""

    server_version = "agent-pipelines-files"
    sys_version = ""

    def __init__(self, *args: Any, directory: str, **kwargs: Any) -> None:
        self.root = Path(directory).resolve()
        super().__init__(*args, directory=directory, **kwargs)

    def _allowed(self) -> Path | None:
        parts = [p for p in unquote(urlsplit(self.path).path).split("/") if p]
        if len(parts) < 2 or parts[0] not in SERVED or any(p in ("..", ".") for p in parts):
            return None
        target = self.root.joinpath(*parts).resolve()
        base = (self.root / parts[0]).resolve()
        if not target.is_file() or not target.is_relative_to(base):
            return None
        return target

    def send_head(self) -> Any:
        if self._allowed() is None:
            self.send_error(HTTPStatus.NOT_FOUND, "not found")
            return None
        return super().send_head()

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows problems only (see ``agent-pipelines ui --log-level``)."""


def serve_files(data_dir: Path, host: str, port: int) -> ThreadingHTTPServer:
    """Start serving ``data_dir``'s replays and reports on ``host:port`` in a daemon thread."""
    server = ThreadingHTTPServer((host, port), partial(FilesHandler, directory=str(data_dir)))
    threading.Thread(target=server.serve_forever, name="agent-pipelines-files", daemon=True).start()
    return server


__all__ = ["SERVED", "FilesHandler", "serve_files"]

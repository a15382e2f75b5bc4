"""A durable, idempotent outbox for Telegram messages: no alert lost, none sent twice.

Why: alerts are produced by sensors and jobs that may crash, be restarted, or run while Telegram
(or the network) is down. Sending directly would either lose alerts (on failure) or repeat them
(on a re-run). Instead, producers ``enqueue`` a message under a **stable key** (e.g. a digest of
the alert ids it carries) and a deliverer drains the queue.

On-disk layout (one directory, e.g. ``<data>/state/telegram-outbox/``)::

    pending/<seq>-<keyhash>.json   one file per message waiting to be sent (write-temp + fsync + rename)
    dead/<seq>-<keyhash>.json      messages Telegram rejected permanently (400); kept, never dropped
    delivered.jsonl                append-only journal of delivered keys (fsync'd), bounded history
    state.lock                     flock held briefly for every mutation (enqueue, mark delivered)
    deliver.lock                   flock held for a whole delivery run: one deliverer at a time

Guarantees and their limits:

* **Idempotent enqueue.** A key that is pending, dead-lettered, or in the delivered history is ignored. The
  history keeps the last ``history_limit`` keys (default 10 000); keys older than that could be
  re-enqueued, so producers should not re-enqueue ancient alerts.
* **Ordered, at-least-once delivery with one duplicate window.** For each message, in enqueue order:
  send → append the key to ``delivered.jsonl`` and fsync → delete the pending file. A crash *after*
  Telegram accepted the message but *before* the journal fsync (microseconds, plus the client's
  own read-timeout retry, see :mod:`.telegram`) re-sends that one message on the next run. That
  window is unavoidable without Telegram-side idempotency keys, which the Bot API does not have.
  A crash after the journal write but before the delete is harmless: the next run sees the key in
  the journal and just removes the file.
* **No double send under concurrency.** ``deliver`` takes ``deliver.lock`` without blocking; a second
  process (or thread) finding it held returns at once with ``busy=True`` instead of racing.
* **Failures stay pending.** A retryable failure (network, 5xx, 429) stops the run — later messages
  keep their order — and the message is retried next call. A permanent rejection (400: bad HTML,
  too long) moves that message to ``dead/`` so one poison message cannot block the queue forever.
  401/403/404 (wrong token or chat) stop the run and keep everything pending: fixing the
  configuration must deliver the backlog.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent_pipelines.core.atomic import atomic_write, fsync_path
from agent_pipelines.text.redaction import redact

logger = logging.getLogger(__name__)

DEFAULT_HISTORY_LIMIT = 10_000


class MessageSender(Protocol):
    """What the outbox needs from a client (``TelegramClient`` satisfies it)."""

    def send_message(self, text: str, parse_mode: str | None = "HTML") -> dict[str, Any]: ...


@dataclass(frozen=True)
class PendingMessage:
    """A message waiting in the outbox."""

    key: str
    text: str
    parse_mode: str | None
    enqueued_at: float
    attempts: int
    last_error: str | None
    path: Path
    alert_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeliveryResult:
    """What one ``deliver`` call did. ``last_error`` is redacted."""

    sent: int
    failed: int
    pending: int
    dead: int = 0
    skipped: int = 0
    busy: bool = False
    last_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.busy


def stable_key(*parts: str, prefix: str = "msg") -> str:
    """A stable outbox key from parts (e.g. alert ids): order-insensitive, short, collision-safe."""
    digest = hashlib.sha256("\x1f".join(sorted(parts)).encode("utf-8")).hexdigest()[:32]
    return f"{prefix}:{digest}"


class Outbox:
    """A directory-backed queue of messages keyed for idempotency. See the module docstring."""

    def __init__(self, path: str | os.PathLike[str], history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        self.path = Path(path)
        self.history_limit = max(1, history_limit)
        self.pending_dir = self.path / "pending"
        self.dead_dir = self.path / "dead"
        self.journal_path = self.path / "delivered.jsonl"
        for directory in (self.path, self.pending_dir, self.dead_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r})"

    # -- locks --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _state_lock(self) -> Iterator[None]:
        with open(self.path / "state.lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _deliver_lock(self) -> Iterator[bool]:
        """Yields True if we hold the delivery lock, False if another deliverer does."""
        with open(self.path / "deliver.lock", "a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    yield False
                    return
                raise
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # -- journal ------------------------------------------------------------------------------------

    def delivered_keys(self) -> set[str]:
        """Keys in the delivered history (the last ``history_limit``, possibly a few more)."""
        keys: set[str] = set()
        try:
            with open(self.journal_path, encoding="utf-8") as handle:
                for line in handle:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # a torn last line after a crash: that key was never confirmed
                    if isinstance(record, dict) and isinstance(record.get("key"), str):
                        keys.add(record["key"])
        except FileNotFoundError:
            pass
        return keys

    def _append_journal(self, record: dict[str, Any]) -> None:
        """Append one line and fsync; starts on a fresh line if a crash left a torn one."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size:
                with open(self.journal_path, "rb") as reader:
                    reader.seek(size - 1)
                    if reader.read(1) != b"\n":
                        line = "\n" + line
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _compact_journal(self) -> None:
        """Keep only the newest ``history_limit`` lines once the journal is 50% over (amortised)."""
        try:
            with open(self.journal_path, encoding="utf-8") as handle:
                lines = [line for line in handle if line.strip()]
        except FileNotFoundError:
            return
        if len(lines) <= self.history_limit + self.history_limit // 2:
            return
        kept = "".join(line if line.endswith("\n") else line + "\n" for line in lines[-self.history_limit :])
        atomic_write(self.journal_path, kept.encode("utf-8"))

    # -- queue --------------------------------------------------------------------------------------

    @staticmethod
    def _key_hash(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

    def _pending_files(self) -> list[Path]:
        return sorted(p for p in self.pending_dir.glob("*.json") if not p.name.startswith(".tmp-"))

    def enqueue(
        self, key: str, text: str, parse_mode: str | None = "HTML", alert_ids: Sequence[str] = ()
    ) -> bool:
        """Queue ``text`` under ``key``. Returns False (and does nothing) if the key is pending or
        was already delivered. The message is on disk (fsync'd) when this returns True.

        ``alert_ids`` records which alerts the message carries, so :meth:`known_alert_ids` can stop
        a later digest from repeating them."""
        if not key:
            raise ValueError("an outbox key is required")
        key_hash = self._key_hash(key)
        with self._state_lock():
            if any(p.stem.endswith(f"-{key_hash}") for p in self._pending_files()):
                return False
            if any(self.dead_dir.glob(f"*-{key_hash}.json")):
                return False  # rejected before: re-sending the same text would be rejected again
            if key in self.delivered_keys():
                return False
            seq = time.time_ns()
            existing = self._pending_files()
            if existing:  # keep enqueue order even if the wall clock steps back
                last_seq = int(existing[-1].stem.split("-", 1)[0])
                seq = max(seq, last_seq + 1)
            record = {
                "key": key,
                "text": text,
                "parse_mode": parse_mode,
                "enqueued_at": time.time(),
                "attempts": 0,
                "last_error": None,
                "alert_ids": list(alert_ids),
            }
            target = self.pending_dir / f"{seq:020d}-{key_hash}.json"
            atomic_write(target, json.dumps(record, ensure_ascii=False).encode("utf-8"))
        return True

    def enqueue_many(
        self, key: str, texts: Sequence[str], parse_mode: str | None = "HTML", alert_ids: Sequence[str] = ()
    ) -> int:
        """Queue the parts of one logical message (e.g. a split digest) as ``key#1/3``, ``key#2/3``...

        Returns how many parts were newly queued. A single text keeps the plain ``key``.
        """
        if len(texts) == 1:
            return int(self.enqueue(key, texts[0], parse_mode, alert_ids))
        return sum(
            self.enqueue(f"{key}#{i}/{len(texts)}", t, parse_mode, alert_ids) for i, t in enumerate(texts, 1)
        )

    def known_alert_ids(self) -> set[str]:
        """Alert ids already carried by a pending, dead-lettered or (recently) delivered message."""
        ids: set[str] = set()
        for directory in (self.pending_dir, self.dead_dir):
            for path in directory.glob("*.json"):
                with contextlib.suppress(OSError, ValueError):
                    ids.update(json.loads(path.read_text(encoding="utf-8")).get("alert_ids") or [])
        with contextlib.suppress(FileNotFoundError), open(self.journal_path, encoding="utf-8") as handle:
            for line in handle:
                with contextlib.suppress(ValueError, AttributeError):
                    ids.update(json.loads(line).get("alert_ids") or [])
        return ids

    def _read(self, path: Path) -> PendingMessage | None:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            logger.error("Outbox: unreadable message file %s moved to dead/", path.name)
            with contextlib.suppress(OSError):
                os.replace(path, self.dead_dir / path.name)
            return None
        return _message(record, path)

    def pending(self) -> list[PendingMessage]:
        """Messages waiting to be sent, oldest first."""
        return [m for m in (self._read(p) for p in self._pending_files()) if m is not None]

    def dead(self) -> list[PendingMessage]:
        """Messages Telegram rejected permanently (kept for inspection; never re-sent automatically)."""
        paths = sorted(p for p in self.dead_dir.glob("*.json") if not p.name.startswith(".tmp-"))
        messages = []
        for path in paths:
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            messages.append(_message(record, path))
        return messages

    def _mark_delivered(self, message: PendingMessage, result: dict[str, Any]) -> None:
        with self._state_lock():
            record: dict[str, Any] = {
                "key": message.key,
                "delivered_at": time.time(),
                "message_id": result.get("message_id"),
            }
            if message.alert_ids:
                record["alert_ids"] = list(message.alert_ids)
            self._append_journal(record)
            with contextlib.suppress(FileNotFoundError):
                message.path.unlink()
            fsync_path(self.pending_dir)

    def _mark_failed(self, message: PendingMessage, error: str, *, dead: bool) -> None:
        record = {
            "key": message.key,
            "text": message.text,
            "parse_mode": message.parse_mode,
            "enqueued_at": message.enqueued_at,
            "attempts": message.attempts + 1,
            "last_error": error,
            "last_attempt_at": time.time(),
            "alert_ids": list(message.alert_ids),
        }
        with self._state_lock():
            if not message.path.exists():
                return
            data = json.dumps(record, ensure_ascii=False).encode("utf-8")
            if dead:
                atomic_write(self.dead_dir / message.path.name, data)
                message.path.unlink()
                fsync_path(self.pending_dir)
            else:
                atomic_write(message.path, data)

    def deliver(self, client: MessageSender, max_messages: int | None = None) -> DeliveryResult:
        """Send pending messages in order; each is recorded as delivered before the next is sent.

        Stops at the first retryable failure (the rest stay pending, in order). Returns a summary.
        Never raises for delivery failures — they are reported in the result and logged (redacted).
        """
        with self._deliver_lock() as acquired:
            if not acquired:
                return DeliveryResult(sent=0, failed=0, pending=len(self._pending_files()), busy=True)
            sent = failed = dead = skipped = 0
            last_error: str | None = None
            delivered = self.delivered_keys()
            for path in self._pending_files():
                if max_messages is not None and sent + dead >= max_messages:
                    break
                message = self._read(path)
                if message is None:
                    continue
                if message.key in delivered:
                    # Crash between journal append and unlink on a previous run: already sent.
                    with self._state_lock(), contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    skipped += 1
                    continue
                try:
                    result = client.send_message(message.text, parse_mode=message.parse_mode)
                except Exception as exc:  # any client failure must leave the message pending
                    last_error = redact(str(exc))
                    retryable = bool(getattr(exc, "retryable", True))
                    status = getattr(exc, "status", None)
                    permanent = not retryable and status == 400
                    self._mark_failed(message, last_error, dead=permanent)
                    if permanent:
                        dead += 1
                        logger.error(
                            "Outbox: Telegram rejected message %s permanently: %s", message.key, last_error
                        )
                        continue
                    failed += 1
                    logger.warning("Outbox: delivery of %s failed, will retry: %s", message.key, last_error)
                    break
                self._mark_delivered(message, result if isinstance(result, dict) else {})
                delivered.add(message.key)
                sent += 1
            if sent:
                with self._state_lock():
                    self._compact_journal()
            remaining = len(self._pending_files())
        if sent or failed or dead:
            logger.info(
                "Outbox: sent %d, failed %d, dead-lettered %d, %d still pending",
                sent,
                failed,
                dead,
                remaining,
            )
        return DeliveryResult(
            sent=sent, failed=failed, pending=remaining, dead=dead, skipped=skipped, last_error=last_error
        )


def _message(record: dict[str, Any], path: Path) -> PendingMessage:
    """A message file's record as a :class:`PendingMessage` (pending and dead files share a format)."""
    return PendingMessage(
        key=str(record.get("key")),
        text=str(record.get("text") or ""),
        parse_mode=record.get("parse_mode", "HTML"),
        enqueued_at=float(record.get("enqueued_at") or 0),
        attempts=int(record.get("attempts") or 0),
        last_error=record.get("last_error"),
        path=path,
        alert_ids=tuple(record.get("alert_ids") or ()),
    )

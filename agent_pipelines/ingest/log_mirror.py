"""A log folder on object storage, followed into a local, append-only folder the reader already knows.

Agents on many hosts write their logs locally and a shipper copies them to one prefix, e.g.
``s3://team-logs/fleet/<host>/stream/2026-11-30.jsonl`` (``rclone copy`` every few seconds: see
``deploy/shipper/``). S3 has no append: a shipper either re-uploads a grown file whole under the
same key (rclone) or writes each batch as a new object (Vector's ``aws_s3`` sink, keys such as
``stream/2026-11-30/<time>-<id>.jsonl.gz``). Either way an object only ever changes as a whole.

:func:`sync` turns that back into what every reader of ours expects — a log folder of daily files
that only grow — so the reader, the tailer, the assets, ``validate``, ``summary`` and the live
sensor work on it unchanged. Each sync lists the prefix once and, for every object whose ETag or
size changed since the last sync:

* a **grown** object (its bytes up to what we took are unchanged, checked on the last 256 of them
  fetched again with the new tail in one ranged GET) contributes only its new complete lines;
* a **new** object contributes all its complete lines (gzip objects are decompressed);
* a **rewritten** object (the bytes we took changed: a host's log was truncated or replaced)
  contributes all its lines again, with a note; the batch tables deduplicate them by event id.

Those lines are *appended* to the local file of their UTC day, ``stream/YYYY-MM-DD.jsonl`` (from the
key: ``.../stream/<day>.jsonl`` or ``.../stream/<day>/<batch>``), or to ``agent-work-stream.jsonl``.
Lines of several hosts interleave by sync, never inside a line. The local file keeps its identity
and only grows, so the tailer's byte offsets stay valid: the live sensor sees new lines within one
sync of their upload.

Guarantees: every complete line of every object is appended exactly once while the object only
grows, also across a crash mid-sync (the bytes about to be appended are journaled first and the
append is completed on the next sync). A half-written last line waits in the object until its
newline is uploaded, however old its day (a note says so for days before yesterday), except in batch
objects (written once, whole), whose partial last line is appended with a newline so the reader
quarantines it instead of losing it.
Objects deleted from the bucket are kept locally (retention is the local rotation's job). One sync
runs at a time per folder (a file lock). Not guaranteed: order between hosts, and anything about
objects outside the layout above, which are ignored (counted in the report).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from agent_pipelines.core import object_store, paths
from agent_pipelines.core.atomic import atomic_write
from agent_pipelines.core.paths import MIRROR_DIR, mirror_dir  # noqa: F401 - part of this module's API

STATE_DIR = ".mirror"
MANIFEST = "manifest.json"
JOURNAL = "pending.json"
JOURNAL_BYTES = "pending.bin"
LOCK = "lock"
TAIL_BYTES = 256

_DAY_FILE = re.compile(r"(?:^|/)stream/(\d{4}-\d{2}-\d{2})\.jsonl$")
_DAY_BATCH = re.compile(r"(?:^|/)stream/(\d{4}-\d{2}-\d{2})/[^/]+$")
_LEGACY = re.compile(r"(?:^|/)" + re.escape(paths.STREAM_FILE) + r"$")
_VERBATIM = {paths.GROUND_TRUTH_FILE}


@dataclass
class SyncReport:
    """What one sync did; ``notes`` are worth a warning in a run's log."""

    listed: int = 0
    fetched: int = 0
    bytes_appended: int = 0
    lines_appended: int = 0
    ignored: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def target_of(relative_key: str) -> tuple[str, bool] | None:
    """The local file a key's lines go to and whether the key is a batch (final once written).

    ``None`` for keys outside the layout (archives, transcripts, anything else): not ours to guess.
    """
    for pattern, batch in ((_DAY_BATCH, True), (_DAY_FILE, False)):
        match = pattern.search(relative_key)
        if match:
            try:
                day = date.fromisoformat(match.group(1))
            except ValueError:
                return None
            return f"{paths.STREAM_DIR}/{day.isoformat()}.jsonl", batch
    if _LEGACY.search(relative_key):
        return paths.STREAM_FILE, False
    return None


# --------------------------------------------------------------------------------------------
# State: the manifest (what was taken from each object) and the journal (an append in progress)
# --------------------------------------------------------------------------------------------


def _state(root: Path) -> Path:
    return root / STATE_DIR


def _load_manifest(root: Path) -> dict[str, dict[str, Any]]:
    try:
        value = json.loads((_state(root) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _save_manifest(root: Path, manifest: dict[str, dict[str, Any]]) -> None:
    atomic_write(_state(root) / MANIFEST, json.dumps(manifest, separators=(",", ":")).encode())


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    _state(root).mkdir(parents=True, exist_ok=True)
    with open(_state(root) / LOCK, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _append(root: Path, manifest: dict[str, dict[str, Any]], key: str, entry: dict[str, Any],
            data: bytes) -> None:  # fmt: skip
    """Append ``data`` to the entry's local file and record ``entry``, exactly once (journaled)."""
    target = root / entry["target"]
    target.parent.mkdir(parents=True, exist_ok=True)
    before = target.stat().st_size if target.exists() else 0
    state = _state(root)
    atomic_write(state / JOURNAL_BYTES, data)
    atomic_write(state / JOURNAL, json.dumps({"key": key, "entry": entry, "before": before}).encode())
    _complete(root, manifest)


def _complete(root: Path, manifest: dict[str, dict[str, Any]]) -> bool:
    """Finish a journaled append (after a crash too); returns whether there was one."""
    state = _state(root)
    try:
        journal = json.loads((state / JOURNAL).read_text(encoding="utf-8"))
        data = (state / JOURNAL_BYTES).read_bytes()
    except (OSError, ValueError):
        return False
    target = root / journal["entry"]["target"]
    size = target.stat().st_size if target.exists() else 0
    done = size - journal["before"]
    if done < 0:  # the file was rotated away since: its successor gets the whole batch
        done = 0
    if done < len(data):
        with open(target, "ab") as handle:
            handle.write(data[done:])
            handle.flush()
            os.fsync(handle.fileno())
    manifest[journal["key"]] = journal["entry"]
    _save_manifest(root, manifest)
    (state / JOURNAL).unlink(missing_ok=True)
    (state / JOURNAL_BYTES).unlink(missing_ok=True)
    return True


# --------------------------------------------------------------------------------------------
# Sync
# --------------------------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _is_final(relative_key: str, batch: bool) -> bool:
    """Final objects will not grow again: a partial last line there is appended, not waited for.

    Only batches are (gzip, or one object per batch: written once, whole). A day file is re-uploaded
    whole by its shipper whenever it grows, however old its day: its partial last line waits for the
    upload that completes it (appending it early gave two ``malformed_json`` halves and no event)."""
    return batch or relative_key.endswith(".gz")


def _is_old(relative_key: str, today: date) -> bool:
    """A day file of a day before yesterday: no writer should still be on it (worth a note)."""
    match = _DAY_FILE.search(relative_key)
    return match is not None and date.fromisoformat(match.group(1)) < today - timedelta(days=1)


def _fetch(store: Any, key: str, start: int, size: int, gz: bool) -> tuple[bytes, int]:
    """The object's content from ``start`` (decompressed for gzip), and the offset it begins at."""
    import obstore

    if gz:
        raw = bytes(obstore.get(store, key).bytes())
        content = gzip.decompress(raw)
        return content[start:], start
    if start >= size:
        return b"", start
    return bytes(obstore.get_range(store, key, start=start, end=size)), start


def _sync_object(store: Any, root: Path, manifest: dict[str, dict[str, Any]], key: str, rel: str,
                 meta: Mapping[str, Any], today: date, report: SyncReport) -> None:  # fmt: skip
    mapped = target_of(rel)
    if mapped is None:
        report.ignored += 1
        return
    target, batch = mapped
    gz = rel.endswith(".gz")
    old = manifest.get(key)
    if old and old.get("etag") == meta.get("e_tag") and old.get("size") == meta["size"]:
        return
    consumed = int(old["consumed"]) if old else 0
    tail_len = int(old.get("tail_len", 0)) if old else 0
    report.fetched += 1
    content, begin = _fetch(store, key, consumed - tail_len, int(meta["size"]), gz)
    if old and (len(content) < tail_len or _digest(content[:tail_len]) != old.get("tail")):
        report.notes.append(f"{rel} was rewritten in the bucket (its first {consumed} bytes changed): "
                            "taking all its lines again")  # fmt: skip
        consumed = 0
        content, begin = _fetch(store, key, 0, int(meta["size"]), gz)
        new = content
    else:
        new = content[consumed - begin :]
    final = _is_final(rel, batch)
    cut = new.rfind(b"\n") + 1
    if not final and cut < len(new) and _is_old(rel, today):
        report.notes.append(f"{rel}: a last line without newline ({len(new) - cut} bytes) waits for its end")
    take = new if final else new[:cut]
    if final and take and not take.endswith(b"\n"):
        take += b"\n"  # a partial last line that will never be finished: the reader quarantines it
    used = len(new) if final else cut
    consumed_after = consumed + used
    window = content[: consumed_after - begin]
    keep = min(TAIL_BYTES, len(window))
    entry = {
        "etag": meta.get("e_tag"),
        "size": int(meta["size"]),
        "consumed": consumed_after,
        "tail": _digest(window[len(window) - keep :]),
        "tail_len": keep,
        "target": target,
    }
    if take:
        _append(root, manifest, key, entry, take)
        report.bytes_appended += len(take)
        report.lines_appended += take.count(b"\n")
    else:
        manifest[key] = entry
        _save_manifest(root, manifest)


def _replace_verbatim(store: Any, root: Path, manifest: dict[str, dict[str, Any]], key: str, rel: str,
                      meta: Mapping[str, Any], report: SyncReport) -> None:  # fmt: skip
    import obstore

    old = manifest.get(key)
    if old and old.get("etag") == meta.get("e_tag") and old.get("size") == meta["size"]:
        return
    report.fetched += 1
    atomic_write(root / rel, bytes(obstore.get(store, key).bytes()))
    manifest[key] = {"etag": meta.get("e_tag"), "size": int(meta["size"]), "target": rel}
    _save_manifest(root, manifest)


def sync(url: str, root: Path | None = None, *, now: datetime | None = None) -> SyncReport:
    """Bring the local folder ``root`` (default :func:`mirror_dir`) up to date with ``url``.

    Raises :class:`object_store.ObjectStoreError` (one line) when the bucket cannot be listed or read.
    """
    import obstore

    started = time.perf_counter()
    location = object_store.Location.parse(url)
    root = root or mirror_dir(url)
    root.mkdir(parents=True, exist_ok=True)
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    report = SyncReport()
    store = object_store.store(url)
    prefix = f"{location.prefix}/" if location.prefix else ""
    with _locked(root):
        manifest = _load_manifest(root)
        if _complete(root, manifest):
            report.notes.append("finished an append interrupted by a crash")
        try:
            objects = [meta for batch in obstore.list(store, prefix=prefix or None) for meta in batch]
            objects.sort(key=lambda m: m["path"])
            report.listed = len(objects)
            for meta in objects:
                key = meta["path"]
                rel = key[len(prefix) :]
                if rel in _VERBATIM:
                    _replace_verbatim(store, root, manifest, key, rel, meta, report)
                else:
                    _sync_object(store, root, manifest, key, rel, meta, today, report)
        except object_store.FAILURES as exc:
            raise object_store.ObjectStoreError(f"{url}: {object_store.describe(exc)}") from exc
    report.seconds = time.perf_counter() - started
    return report


_last_sync: dict[str, float] = {}


def follow(url: str, *, min_interval: float = 1.0, root: Path | None = None) -> Path:
    """The local folder of ``url``, synced unless this process synced it under ``min_interval`` ago.

    What :class:`~agent_pipelines.orchestration.log_store.LogStore` and the CLI call: a sensor tick and the
    run
    it launches moments later then cost one listing, not three.
    """
    root = root or mirror_dir(url)
    key = f"{url}|{root}"
    if time.monotonic() - _last_sync.get(key, -1e9) >= min_interval:
        sync(url, root)
        _last_sync[key] = time.monotonic()
    return root

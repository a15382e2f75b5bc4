"""A staged file's records on disk: ``origin.json`` (what was staged) and ``manifest.json`` (the
commit point: every prepared output and where it goes), as typed structures.

Both are versioned: a manifest carries ``version`` (1, the layout rotations have always written; a
manifest from before over-long lines were kept whole has no ``oversize``), ``origin.json`` carries it
since version 1 of its own (a file without one is the same layout, from older rotations). So what an
interrupted run of an older version left still loads and is finished. A file that is not a manifest of
this layout (hand-edited, cut short, from an unknown version) stops the run with one line naming
the file and the problem; nothing is deleted and the staged file stays where it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_pipelines.ops.rotation.config import RotationError

VERSION = 1
ORIGIN_VERSION = 1


class ManifestError(RotationError):
    """A staging record that cannot be read: which file, and what is wrong with it."""


@dataclass(frozen=True)
class StagedOrigin:
    """``origin.json``: a file renamed into the staging folder, and from where."""

    token: str
    kind: str
    origin: str  # path relative to the log folder
    staged_at: float  # seconds since the epoch
    version: int = ORIGIN_VERSION

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def load(cls, path: Path) -> StagedOrigin:
        """Read ``origin.json`` (with or without ``version``); :class:`ManifestError` if it is not one."""
        d = _read_object(path)
        version = _get(d, "version", int, path, default=ORIGIN_VERSION)  # older rotations wrote none
        if version != ORIGIN_VERSION:
            raise ManifestError(
                f"{path}: origin version {version} is not known (this one reads {ORIGIN_VERSION})"
            )
        return cls(
            token=_get(d, "token", str, path),
            kind=_get(d, "kind", str, path),
            origin=_get(d, "origin", str, path),
            staged_at=float(_get(d, "staged_at", (int, float), path)),
        )


@dataclass(frozen=True)
class ArchiveEntry:
    """A prepared archive: written as ``tmp`` in the token folder, renamed to ``target``."""

    target: str
    tmp: str
    merged: bool  # an existing archive was copied first and the new lines appended
    lines_new: int
    lines_total: int
    raw_bytes: int
    compressed_bytes: int


@dataclass(frozen=True)
class ReturnEntry:
    """Lines of today or later, prepared as ``file``, appended back to the live ``target``."""

    target: str
    file: str
    lines: int
    bytes: int


@dataclass(frozen=True)
class QuarantineEntry:
    file: str
    lines: int
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    """Everything one staged file became; written before anything is made visible."""

    token: str
    kind: str
    origin: str
    source_bytes: int
    source_lines: int
    blank_lines: int
    archives: tuple[ArchiveEntry, ...]
    returns: tuple[ReturnEntry, ...]
    quarantine: QuarantineEntry
    oversize: tuple[str, ...]  # over-long lines copied whole, moved to the quarantine folder
    quarantine_dir: str
    version: int = VERSION

    @property
    def lines_routed(self) -> int:
        """Lines accounted for: archived, returned, quarantined or blank."""
        return (
            sum(a.lines_new for a in self.archives)
            + sum(r.lines for r in self.returns)
            + self.quarantine.lines
            + self.blank_lines
        )

    def to_json(self) -> bytes:
        """The layout on disk (key order as rotations have always written it)."""
        d = {
            "version": self.version,
            "token": self.token,
            "kind": self.kind,
            "origin": self.origin,
            "source_bytes": self.source_bytes,
            "source_lines": self.source_lines,
            "blank_lines": self.blank_lines,
            "archives": [asdict(a) for a in self.archives],
            "returns": [asdict(r) for r in self.returns],
            "quarantine": asdict(self.quarantine),
            "oversize": list(self.oversize),
            "quarantine_dir": self.quarantine_dir,
        }
        return json.dumps(d, indent=1).encode()

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read ``manifest.json``; :class:`ManifestError` (one line) if it is not one."""
        d = _read_object(path)
        version = _get(d, "version", int, path)
        if version != VERSION:
            raise ManifestError(f"{path}: manifest version {version} is not known (this one reads {VERSION})")
        q = _get(d, "quarantine", dict, path)
        return cls(
            token=_get(d, "token", str, path),
            kind=_get(d, "kind", str, path),
            origin=_get(d, "origin", str, path),
            source_bytes=_get(d, "source_bytes", int, path),
            source_lines=_get(d, "source_lines", int, path),
            blank_lines=_get(d, "blank_lines", int, path),
            archives=tuple(
                ArchiveEntry(
                    target=_get(a, "target", str, path),
                    tmp=_get(a, "tmp", str, path),
                    merged=_get(a, "merged", bool, path),
                    lines_new=_get(a, "lines_new", int, path),
                    lines_total=_get(a, "lines_total", int, path),
                    raw_bytes=_get(a, "raw_bytes", int, path),
                    compressed_bytes=_get(a, "compressed_bytes", int, path),
                )
                for a in _objects(d, "archives", path)
            ),
            returns=tuple(
                ReturnEntry(
                    target=_get(r, "target", str, path),
                    file=_get(r, "file", str, path),
                    lines=_get(r, "lines", int, path),
                    bytes=_get(r, "bytes", int, path),
                )
                for r in _objects(d, "returns", path)
            ),
            quarantine=QuarantineEntry(
                file=_get(q, "file", str, path),
                lines=_get(q, "lines", int, path),
                reasons={str(k): _count(v, path) for k, v in _get(q, "reasons", dict, path).items()},
            ),
            # rotations before over-long lines were copied whole wrote no "oversize"
            oversize=tuple(_get(d, "oversize", list, path, default=[])),
            quarantine_dir=_get(d, "quarantine_dir", str, path),
            version=version,
        )


def _read_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_bytes())
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc}); the staged file is left as it is") from None
    if not isinstance(value, dict):
        raise ManifestError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


_MISSING = object()


def _get(d: Mapping[str, Any], key: str, kind: Any, path: Path, default: Any = _MISSING) -> Any:
    value = d.get(key, _MISSING)
    if value is _MISSING:
        if default is not _MISSING:
            return default
        raise ManifestError(f"{path}: '{key}' is missing; the staged file is left as it is")
    wrong_bool = isinstance(value, bool) and kind in (int, (int, float))
    if not isinstance(value, kind) or wrong_bool:
        raise ManifestError(
            f"{path}: '{key}' has the wrong type ({type(value).__name__}); the staged file is left as it is"
        )
    return value


def _objects(d: Mapping[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    items = _get(d, key, list, path)
    if not all(isinstance(item, dict) for item in items):
        raise ManifestError(f"{path}: every entry of '{key}' must be an object")
    return items


def _count(value: Any, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(f"{path}: quarantine reason counts must be integers")
    return value

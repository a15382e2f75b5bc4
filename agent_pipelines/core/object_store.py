"""Object storage (``s3://bucket/prefix`` on AWS or any S3-compatible store) through ``obstore``.

Why obstore: it is the Python face of the Rust ``object_store`` crate that polars' own cloud
readers and writers use, so the Parquet scans (polars) and our listing, ranged reads and puts
(obstore) share one implementation, one set of settings and one set of environment variables. It
has no dependency beyond its wheel (s3fs drags aiobotocore and its exact botocore pins into the
environment), exposes what a log mirror needs — listing with ETag and size, ranged GET, atomic
whole-object PUT — and is maintained by Development Seed alongside the crate's releases.

Settings are the standard AWS variables, read by both libraries: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` and, for stores other than AWS
(MinIO, Ceph, R2, a test server), ``AWS_ENDPOINT_URL``. An ``http://`` endpoint is allowed
explicitly (local test servers); on AWS the default HTTPS endpoints are used. An empty variable
counts as unset (a compose file passes ``${AWS_ENDPOINT_URL:-}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from obstore.exceptions import BaseError as _ObstoreError

if TYPE_CHECKING:  # typing-only names in obstore's stubs
    from obstore.store import ClientConfig

SCHEMES = ("s3://",)
# What a failed call raises: obstore's own errors, and the OSError/ValueError some map to.
FAILURES: tuple[type[BaseException], ...] = (_ObstoreError, OSError, RuntimeError, ValueError)


class ObjectStoreError(RuntimeError):
    """A bucket that cannot be reached or read; the message says which URL and why, in one line."""


def is_url(value: object) -> bool:
    """Whether a folder setting is an object-store URL rather than a local path."""
    return isinstance(value, str) and value.startswith(SCHEMES)


@dataclass(frozen=True)
class Location:
    """``s3://bucket/prefix`` split into its parts; ``prefix`` has no leading or trailing slash."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> Location:
        if not is_url(url):
            raise ValueError(f"not an object-store URL: {url!r} (expected s3://bucket/prefix)")
        rest = url.split("://", 1)[1]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {url!r} (expected s3://bucket/prefix)")
        return cls(bucket, prefix.strip("/"))

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, relative: str) -> str:
        """The full object key of a path relative to this location."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def child(self, relative: str) -> str:
        """The URL of a path relative to this location."""
        return f"{self.url}/{relative.strip('/')}"


def storage_options() -> dict[str, str]:
    """What to pass polars as ``storage_options``: polars reads the ``AWS_*`` variables itself; we
    only allow an ``http://`` endpoint (a local test server; an HTTPS endpoint is unaffected)."""
    return {"aws_allow_http": "true"}


def store(url: str) -> Any:
    """An ``obstore`` store rooted at the URL's bucket (keys are full keys; see :class:`Location`).

    obstore reads the ``AWS_*`` variables itself (we never do: the edges drop empty ones, see
    :func:`agent_pipelines.core.settings.drop_empty_aws_variables`)."""
    return _store(Location.parse(url).bucket)


@lru_cache(maxsize=16)
def _store(bucket: str) -> Any:
    from obstore.store import S3Store

    client: ClientConfig = {"allow_http": True}
    return S3Store(bucket, client_options=client)


def publish(local: Path, data_location: str, relative: str) -> str | None:
    """Copy a file we wrote locally (a report) to ``<data_location>/<relative>`` when the data
    folder is a bucket; returns the object's URL, or ``None`` for a local data folder."""
    if not is_url(data_location):
        return None
    import obstore

    url = Location.parse(data_location).child(relative)
    try:
        obstore.put(store(url), Location.parse(url).prefix, local)
    except FAILURES as exc:
        raise ObjectStoreError(f"{url}: {describe(exc)}") from exc
    return url


def describe(exc: BaseException) -> str:
    """One line for a failed object-store call (obstore's messages span several lines)."""
    text = " ".join(str(exc).split("Debug source:")[0].split())
    return text if len(text) < 300 else text[:297] + "..."

"""Polars frames stored as Parquet, one file per partition.

Why our own IO manager rather than ``dagster-polars``: its 0.27.12 release calls
``pl.scan_parquet(..., rechunk=...)``, an argument polars 2.0 removed, so it cannot load anything
with the polars we depend on (it works only with ``polars<2``). What we need is small: one Parquet
file per asset partition, written atomically, and a partitioned upstream read back as one frame.

Layout under ``<data>/tables/``::

    <asset key path>/<partition key>.parquet    a partitioned asset (one file per partition)
    <asset key path>/asset.parquet              an unpartitioned asset

Writes go to a temporary file in the same folder and are renamed over the target, so a reader
(the UI, the CLI, a concurrent run) sees the previous version or the new one, never half a file;
re-materializing today's partition as lines arrive just replaces its file.

The data folder may be an ``s3://bucket/prefix`` URL (a team's setup): tables then live under
``<url>/tables/`` with the same layout. A partition is written to a local temporary file and
uploaded with one PUT, which S3 applies atomically (a reader sees the old object or the new one),
and inputs are scanned by polars' native cloud reader; listing which partitions exist is one LIST
per asset. See :mod:`agent_pipelines.core.object_store` for the settings.

Loading an input with several upstream partitions (an unpartitioned ``session_metrics`` over all
daily ``cleaned_events``) scans every partition file that exists as one frame. Partitions that
were never materialized are skipped rather than failing the run: a day registered a moment ago has
no file yet, and an empty day is simply no rows. The frame type follows the input's annotation:
``pl.LazyFrame`` gets a lazy scan (so a downstream asset can push filters and projections into
the Parquet reader), anything else a ``pl.DataFrame``.

Runs over many partitions at once (a backfill with ``BackfillPolicy.single_run()``): an asset returns
``{partition key: frame}`` and each frame goes to its partition's file; an input annotated
``dict[str, pl.LazyFrame]`` gets one lazy scan per upstream partition, so a day-by-day computation
over a 90-day backfill holds one day in memory at a time. An asset whose day frames are too big to
hold together (``cleaned_events``) writes each one as it goes with :meth:`write_partition`.
"""

from __future__ import annotations

import os
import typing
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from agent_pipelines.core import object_store, paths
from agent_pipelines.orchestration.dagster_internals import add_asset_metadata_unchecked

PARQUET_IO = "parquet_io_manager"  # the resource key the assets store their tables under

UNPARTITIONED_FILE = "asset.parquet"
TABLES_DIR = "tables"


def tables_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<data>/tables``: where every asset's Parquet files live."""
    return paths.data_dir(data_dir) / TABLES_DIR


def tables_location(data_dir: str | os.PathLike[str] | None = None) -> str:
    """``<data>/tables`` as configured: a local path, or a URL when the data folder is in a bucket."""
    location = paths.data_location(data_dir)
    if object_store.is_url(location):
        return object_store.Location.parse(location).child(TABLES_DIR)
    return str(paths.data_dir(data_dir) / TABLES_DIR)


def table_path(base: Path, asset_key: dg.AssetKey, partition_key: str | None = None) -> Path:
    """The Parquet file of one asset (partition)."""
    folder = base.joinpath(*asset_key.path)
    return folder / (f"{partition_key}.parquet" if partition_key is not None else UNPARTITIONED_FILE)


# zstd level 1, not polars' default 3: on a day of cleaned events it wrote ~25% faster and the file
# came out no larger (dictionary and run-length encoding already did most of the work).
ZSTD_LEVEL = 1


def write_parquet(frame: pl.DataFrame | pl.LazyFrame, target: Path) -> int:
    """Write ``frame`` to ``target`` atomically (temporary file + rename); returns the row count."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(tmp, compression="zstd", compression_level=ZSTD_LEVEL)
            rows = pl.scan_parquet(tmp).select(pl.len()).collect().item()
        else:
            frame.write_parquet(tmp, compression="zstd", compression_level=ZSTD_LEVEL, statistics=True)
            rows = frame.height
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return int(rows)


def scan_tables(files: list[Path] | list[str]) -> pl.LazyFrame | None:
    """One lazy frame over several Parquet files of the same table, or ``None`` when there are none.

    ``diagonal_relaxed`` so that a partition written before a column was added still loads (the
    missing column is null) instead of failing every downstream run. ``s3://`` URLs are read by
    polars' cloud reader with the environment's settings.
    """
    if not files:
        return None
    options = object_store.storage_options() if any(object_store.is_url(str(f)) for f in files) else None
    scans = [pl.scan_parquet(f, storage_options=options) for f in files]
    return scans[0] if len(scans) == 1 else pl.concat(scans, how="diagonal_relaxed")


def _existing(urls: list[str]) -> list[str]:
    """The URLs among ``urls`` (one table's files) that exist, with one LIST of their folder."""
    import obstore

    if not urls:
        return []
    folder = urls[0].rsplit("/", 1)[0]
    location = object_store.Location.parse(folder)
    try:
        listed = {
            meta["path"]
            for batch in obstore.list(object_store.store(folder), prefix=location.prefix + "/")
            for meta in batch
        }
    except object_store.FAILURES as exc:
        raise object_store.ObjectStoreError(f"{folder}: {object_store.describe(exc)}") from exc
    return [u for u in urls if object_store.Location.parse(u).prefix in listed]


def add_partition_metadata(
    context: dg.OutputContext | dg.AssetExecutionContext,
    partition_key: str | None,
    metadata: dict[str, Any],
    run_keys: Collection[str] | None = None,
) -> None:
    """Metadata of one partition of a run over many: it wins over the run's on that partition's
    materialization (Dagster's partition-scoped asset metadata). Outside a run (an output context
    built by hand) there is no materialization to add it to.

    ``run_keys``: the run's partition keys, listed once by a caller adding metadata to each of many
    partitions; a key among them is added without Dagster listing them again from the instance
    (see :func:`~agent_pipelines.orchestration.dagster_internals.add_asset_metadata_unchecked`)."""
    if partition_key is None:
        return
    if (
        run_keys is not None
        and partition_key in run_keys
        and isinstance(context, dg.AssetExecutionContext)
        and add_asset_metadata_unchecked(context, metadata, partition_key)
    ):
        return
    if isinstance(context, dg.OutputContext):
        try:
            step = context.step_context
        except dg.DagsterInvariantViolationError:
            return
        step.add_asset_metadata(metadata, partition_key=partition_key)
    else:
        context.add_asset_metadata(metadata, partition_key=partition_key)


def _column_schema(schema: pl.Schema) -> dg.TableSchema:
    from agent_pipelines.orchestration.ui_metadata import describe_columns

    return describe_columns(schema)


class PolarsParquetIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as zstd Parquet under ``<data>/tables`` (see the module docstring).

    ``base_dir`` is ``<data>/tables`` for the ``log_store`` resource's data folder (the edge binds
    both from one setting; empty: ``<project>/data/tables``); it may be an ``s3://`` URL.
    """

    base_dir: str = ""
    local_dir: str = ""  # the local data folder: uploads to a bucket are staged in its .upload

    @property
    def base_location(self) -> str:
        return self.base_dir or tables_location()

    @property
    def remote(self) -> bool:
        return object_store.is_url(self.base_location)

    @property
    def base_path(self) -> Path:
        if self.remote:
            raise ValueError(f"tables are in {self.base_location}, not on a local disk")
        return Path(self.base_location)

    def path_for(self, asset_key: dg.AssetKey, partition_key: str | None = None) -> Path:
        return table_path(self.base_path, asset_key, partition_key)

    def location_for(self, asset_key: dg.AssetKey, partition_key: str | None = None) -> str:
        """The file of one asset (partition): a local path or an ``s3://`` URL."""
        if not self.remote:
            return str(self.path_for(asset_key, partition_key))
        name = f"{partition_key}.parquet" if partition_key is not None else UNPARTITIONED_FILE
        return object_store.Location.parse(self.base_location).child("/".join([*asset_key.path, name]))

    def stored(self, asset_key: dg.AssetKey, partition_keys: list[str] | None) -> list[str]:
        """The stored files of some partitions (``None``: the unpartitioned file), that exist."""
        wanted = [
            self.location_for(asset_key, k)
            for k in (partition_keys if partition_keys is not None else [None])
        ]
        if self.remote:
            return _existing(wanted)
        return [w for w in wanted if Path(w).exists()]

    def stored_partitions(self, asset_key: dg.AssetKey) -> list[str]:
        """Every stored partition file of a partitioned asset, in key order."""
        if self.remote:
            import obstore

            folder = self.location_for(asset_key, "x").rsplit("/", 1)[0]
            location = object_store.Location.parse(folder)
            listed = [
                meta["path"]
                for batch in obstore.list(object_store.store(folder), prefix=location.prefix + "/")
                for meta in batch
                if meta["path"].endswith(".parquet")
            ]
            return [f"s3://{location.bucket}/{key}" for key in sorted(listed)]
        local = self.path_for(asset_key, "x").parent
        return [str(p) for p in sorted(local.glob("*.parquet"))] if local.exists() else []

    def write_partition(
        self, asset_key: dg.AssetKey, partition_key: str | None, frame: pl.DataFrame | pl.LazyFrame
    ) -> tuple[str, int, int]:
        """Store one partition's frame: atomically on disk, or one PUT to ``s3://``.

        Returns where it went, its rows and its size in bytes. Public for assets that write their
        days one at a time (``cleaned_events`` over a many-day backfill).
        """
        if self.remote:
            url = self.location_for(asset_key, partition_key)
            staging = paths.local_dir(self.local_dir or None) / ".upload"
            local = staging / f"{uuid.uuid4().hex}.parquet"
            try:
                rows = write_parquet(frame, local)
                size = local.stat().st_size
                location = object_store.Location.parse(self.base_location)
                object_store.publish(local, location.url, url[len(location.url) + 1 :])
            finally:
                local.unlink(missing_ok=True)
            return url, rows, size
        target = self.path_for(asset_key, partition_key)
        rows = write_parquet(frame, target)
        return str(target), rows, target.stat().st_size

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        keys = context.asset_partition_keys if context.has_asset_partitions else [None]
        frames = obj if isinstance(obj, dict) else None
        if frames is None:
            if len(keys) != 1:
                raise ValueError(
                    f"{context.asset_key.to_user_string()} ran for {len(keys)} partitions: return "
                    "{partition key: frame}"
                )
            frames = {keys[0]: obj}
        elif set(frames) != set(keys):
            raise ValueError(
                f"{context.asset_key.to_user_string()} returned partitions {sorted(frames)[:5]}..., "
                f"the run is for {sorted(k for k in keys if k is not None)[:5]}..."
            )
        rows = size = 0
        last = None
        schema = None
        for key, frame in frames.items():
            if not isinstance(frame, pl.DataFrame | pl.LazyFrame):
                raise TypeError(
                    f"{context.asset_key.to_user_string()} returned {type(frame).__name__}; "
                    "this IO manager stores polars DataFrames/LazyFrames only"
                )
            last, n, nbytes = self.write_partition(context.asset_key, key, frame)
            rows += n
            size += nbytes
            schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
            if len(frames) > 1:
                # A run over many partitions: each partition's materialization shows its own file
                # and row count, not the run's (else every Plots chart is a flat line).
                add_partition_metadata(context, key, self._file_metadata(last, n, nbytes))
        if last is None or schema is None:
            return
        shown = last if len(frames) == 1 else last.rsplit("/", 1)[0]
        context.add_output_metadata(
            {**self._file_metadata(shown, rows, size), "dagster/column_schema": _column_schema(schema)}
        )

    def _file_metadata(self, where: str, rows: int, size: int) -> dict[str, Any]:
        shown: dg.MetadataValue = dg.MetadataValue.url(where) if self.remote else dg.MetadataValue.path(where)
        return {"dagster/row_count": rows, "path": shown, "size_bytes": size}

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | pl.LazyFrame | dict[str, pl.LazyFrame]:
        asset_key = context.asset_key
        if typing.get_origin(context.dagster_type.typing_type) is dict:
            day_keys = list(context.asset_partition_keys) if context.has_asset_partitions else []
            options = object_store.storage_options() if self.remote else None
            existing = set(self.stored(asset_key, day_keys))
            return {
                k: pl.scan_parquet(where, storage_options=options)
                for k in day_keys
                if (where := self.location_for(asset_key, k)) in existing
            }
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else None
        lazy = scan_tables(self.stored(asset_key, keys))
        if lazy is None:
            context.log.warning(f"no stored data for {asset_key.to_user_string()}: loading an empty frame")
            lazy = pl.LazyFrame()
        wants_lazy = context.dagster_type.typing_type is pl.LazyFrame
        return lazy if wants_lazy else lazy.collect()

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

Loading an input with several upstream partitions (an unpartitioned ``session_metrics`` over all
daily ``cleaned_events``) scans every partition file that exists as one frame. Partitions that
were never materialized are skipped rather than failing the run: a day registered a moment ago has
no file yet, and an empty day is simply no rows. The frame type follows the input's annotation:
``pl.LazyFrame`` gets a lazy scan (so a downstream asset can push filters and projections into
the Parquet reader), anything else a ``pl.DataFrame``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from agent_pipelines import paths

UNPARTITIONED_FILE = "asset.parquet"
TABLES_DIR = "tables"


def tables_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<data>/tables``: where every asset's Parquet files live."""
    return paths.data_dir(data_dir) / TABLES_DIR


def table_path(base: Path, asset_key: dg.AssetKey, partition_key: str | None = None) -> Path:
    """The Parquet file of one asset (partition)."""
    folder = base.joinpath(*asset_key.path)
    return folder / (f"{partition_key}.parquet" if partition_key is not None else UNPARTITIONED_FILE)


def write_parquet(frame: pl.DataFrame | pl.LazyFrame, target: Path) -> int:
    """Write ``frame`` to ``target`` atomically (temporary file + rename); returns the row count."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(tmp, compression="zstd")
            rows = pl.scan_parquet(tmp).select(pl.len()).collect().item()
        else:
            frame.write_parquet(tmp, compression="zstd", statistics=True)
            rows = frame.height
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return int(rows)


def scan_tables(files: list[Path]) -> pl.LazyFrame | None:
    """One lazy frame over several Parquet files of the same table, or ``None`` when there are none.

    ``diagonal_relaxed`` so that a partition written before a column was added still loads (the
    missing column is null) instead of failing every downstream run.
    """
    if not files:
        return None
    if len(files) == 1:
        return pl.scan_parquet(files[0])
    return pl.concat([pl.scan_parquet(f) for f in files], how="diagonal_relaxed")


def _column_schema(schema: pl.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, str(dtype)) for name, dtype in schema.items()])


class PolarsParquetIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as zstd Parquet under ``<data>/tables`` (see the module docstring).

    ``base_dir`` empty means ``AGENT_PIPELINES_DATA_DIR``/``<project>/data`` + ``/tables``, the same
    folder the ``log_store`` resource's data folder resolves to.
    """

    base_dir: str = ""

    @property
    def base_path(self) -> Path:
        return Path(self.base_dir) if self.base_dir else tables_dir()

    def path_for(self, asset_key: dg.AssetKey, partition_key: str | None = None) -> Path:
        return table_path(self.base_path, asset_key, partition_key)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        if not isinstance(obj, pl.DataFrame | pl.LazyFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()} returned {type(obj).__name__}; "
                "this IO manager stores polars DataFrames/LazyFrames only"
            )
        keys = context.asset_partition_keys if context.has_asset_partitions else [None]
        if len(keys) != 1:
            raise ValueError(f"one partition per run is supported, got {len(keys)}: write them one by one")
        target = self.path_for(context.asset_key, keys[0])
        rows = write_parquet(obj, target)
        schema = obj.collect_schema() if isinstance(obj, pl.LazyFrame) else obj.schema
        context.add_output_metadata(
            {
                "dagster/row_count": rows,
                "dagster/column_schema": _column_schema(schema),
                "path": dg.MetadataValue.path(str(target)),
                "size_bytes": target.stat().st_size,
            }
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | pl.LazyFrame:
        asset_key = context.asset_key
        if context.has_asset_partitions:
            files = [self.path_for(asset_key, k) for k in context.asset_partition_keys]
            files = [f for f in files if f.exists()]
        else:
            files = [f for f in [self.path_for(asset_key)] if f.exists()]
        lazy = scan_tables(files)
        if lazy is None:
            context.log.warning(f"no stored data for {asset_key.to_user_string()}: loading an empty frame")
            lazy = pl.LazyFrame()
        wants_lazy = context.dagster_type.typing_type is pl.LazyFrame
        return lazy if wants_lazy else lazy.collect()

"""The cleaned-events pass block by block: the same rows, quarantine and counts as the whole-day
path (``read_logs`` + ``dedupe`` + one Parquet write), whatever the block size."""

from __future__ import annotations

import itertools
import threading
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_reader import BAD_LINES, event

from agent_pipelines.analytics import usage
from agent_pipelines.core import paths
from agent_pipelines.core.cleaned import clean_days, lazy_blocks
from agent_pipelines.core.quarantine import quarantine_of_day, read_quarantine
from agent_pipelines.core.reader import (
    FirstSeen,
    compact,
    dedupe,
    iter_logs,
    read_ahead,
    read_file,
    read_logs,
)
from agent_pipelines.orchestration.io_manager import write_parquet

DAYS = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]


def write_logs(root: Path) -> None:
    """Three days of many small blocks' worth of lines, with bad lines, a line written twice in
    one file, the same line in a day's file and in the original logger's single file, a BOM and
    a half-written last line."""
    for n, day in enumerate(DAYS):
        part = paths.stream_partition_path(root, day.isoformat())
        part.parent.mkdir(parents=True, exist_ok=True)
        end = {"event_type": "session_end", "data": {"completion_status": "success", "cost_usd": 0.25}}
        lines = [event(i, day.isoformat(), **(end if i % 15 == 0 else {})) for i in range(120 + 20 * n)]
        lines[7:7] = [bad for bad, _ in BAD_LINES[: 3 + n]]
        lines.append(lines[60])  # written twice, far apart (another block)
        part.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n" + b'{"timestamp": "half')
    legacy = [event(5, "2026-03-02"), event(7, "2026-03-03"), b"{broken", event(1000, "2026-03-01")]
    (root / paths.STREAM_FILE).write_bytes(b"\n".join(legacy) + b"\n")


def n_extra(day: date) -> int:
    """session_end rows beyond the first day's 8 (one every 15 lines, 20 more lines a day)."""
    return [0, 2, 3][DAYS.index(day)]


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    root = tmp_path / "logs"
    write_logs(root)
    return root


def test_block_size_changes_nothing_in_a_file_read(logs: Path) -> None:
    path = paths.stream_partition_path(logs, "2026-03-02")
    whole = read_file(path, block_bytes=64 << 20)
    for block_bytes in (1500, 4096):
        blocks = read_file(path, block_bytes=block_bytes)
        assert blocks.events.equals(whole.events)
        assert blocks.quarantine.equals(whole.quarantine)
        assert (blocks.offsets, blocks.lines, blocks.pending_bytes) == (
            whole.offsets,
            whole.lines,
            whole.pending_bytes,
        )
    final = read_file(path, block_bytes=1500, final=True)
    assert final.quarantine["reason"].to_list()[-1] == "truncated_line"
    assert final.pending_bytes == 0


def test_a_small_file_is_one_block_unless_the_caller_sets_the_size(
    logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader's own size: a file up to WHOLE_FILE_BYTES in one block (a block's fixed cost paid
    once), a larger one in READ_BLOCK_BYTES blocks; same rows either way."""
    from agent_pipelines.core.reader import iter_read, stream

    path = paths.stream_partition_path(logs, "2026-03-02")
    size = path.stat().st_size
    monkeypatch.setattr(stream, "READ_BLOCK_BYTES", 1500)
    monkeypatch.setattr(stream, "MID_FILE_BYTES", 0)
    monkeypatch.setattr(stream, "WHOLE_FILE_BYTES", size)
    whole = list(iter_read(path))
    assert sum(1 for r in whole if r.events.height) == 1
    monkeypatch.setattr(stream, "WHOLE_FILE_BYTES", size - 10)
    blocks = list(iter_read(path))
    assert sum(1 for r in blocks if r.events.height) > 5
    assert len(list(iter_read(path, block_bytes=size * 2))) == 2  # the caller's size wins
    for got in (whole, blocks):
        assert pl.concat([r.events for r in got]).equals(pl.concat([r.events for r in whole]))


def test_a_large_file_is_read_in_an_even_number_of_blocks_of_about_one_size(
    logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's two threads end a file on a pair of blocks, not on a short last one parsed alone."""
    from agent_pipelines.core.reader import iter_read, stream

    path = paths.stream_partition_path(logs, "2026-03-02")
    size = path.stat().st_size
    monkeypatch.setattr(stream, "WHOLE_FILE_BYTES", 1000)
    monkeypatch.setattr(stream, "MID_FILE_BYTES", 1000)
    whole = pl.concat([r.events for r in iter_read(path, block_bytes=size * 2)])
    for most in (1500, 2000, 3100, size // 3):
        monkeypatch.setattr(stream, "READ_BLOCK_BYTES", most)
        blocks = [r for r in iter_read(path) if r.events.height]
        sizes = [b.events.height for b in blocks]
        assert len(blocks) % 2 == 0 and len(blocks) >= -(-size // most)
        assert max(sizes) - min(sizes) <= max(sizes) // 2  # no short last block
        assert pl.concat([b.events for b in blocks]).equals(whole)


def test_a_middle_sized_file_is_read_in_larger_blocks_than_a_large_one(
    logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above WHOLE_FILE_BYTES and up to MID_FILE_BYTES, blocks of up to MID_BLOCK_BYTES (a block's
    fixed cost paid fewer times); beyond, READ_BLOCK_BYTES. Still an even number, same rows."""
    from agent_pipelines.core.reader import iter_read, stream

    path = paths.stream_partition_path(logs, "2026-03-02")
    size = path.stat().st_size - (3 if path.read_bytes().startswith(stream.BOM) else 0)  # what is read
    whole = pl.concat([r.events for r in iter_read(path, block_bytes=size * 2)])
    monkeypatch.setattr(stream, "WHOLE_FILE_BYTES", 1000)
    monkeypatch.setattr(stream, "READ_BLOCK_BYTES", 1500)
    monkeypatch.setattr(stream, "MID_BLOCK_BYTES", size // 3)
    counts = {}
    for mid in (size, size - 1):  # the file is middle-sized, then just too large to be
        monkeypatch.setattr(stream, "MID_FILE_BYTES", mid)
        blocks = [r.events for r in iter_read(path) if r.events.height]
        counts[mid] = len(blocks)
        assert len(blocks) % 2 == 0
        assert pl.concat(blocks).equals(whole)
    assert counts[size] == 4  # 3 blocks of at most a third, made even
    assert counts[size - 1] >= -(-size // 1500)


def test_on_read_comes_once_when_the_last_byte_is_read(logs: Path, tmp_path: Path) -> None:
    """``on_read`` (the cleaned pass hands the pool to the next day then) comes once per day, once
    the last file's last block is in the pool and before its result is handed on (the day's last
    file here: the original logger's single file, one block)."""
    got: list[object] = []
    read: list[int] = []
    blocks = iter_logs(
        logs, days=[DAYS[1]], final_before=DAYS[2], block_bytes=1500, parallel=2,
        on_read=lambda: read.append(len(got)),
    )  # fmt: skip
    for result in blocks:
        got.append(result)
    assert len(read) == 1 and read[0] <= len(got) - 2  # the last file's block and its end still to come
    empty: list[int] = []
    assert len(list(iter_logs(tmp_path, days=[DAYS[0]], on_read=lambda: empty.append(1)))) == 1  # no file
    assert empty == [1]


def test_iter_logs_blocks_make_up_read_logs(logs: Path) -> None:
    blocks = list(iter_logs(logs, days=[DAYS[1]], final_before=DAYS[2], block_bytes=1500))
    assert len(blocks) > 10
    assert max(b.events.height for b in blocks) < 12  # never the whole day at once
    whole = read_logs(logs, days=[DAYS[1]], final_before=DAYS[2])
    events = pl.concat([b.events for b in blocks if b.events.height])
    assert events.equals(whole.events)
    assert set(events["day"].to_list()) == {DAYS[1]}  # the single file's other days are left out


# ids as the reader writes them (20 digits, some differing only by leading zeros or past 2**64), and
# others (another writer's, a hostile line's) that turn FirstSeen back to text midway
_IDS = st.one_of(
    st.integers(0, 40).map(lambda i: f"{i:020d}"),
    st.sampled_from(["99999999999999999999", "18446744073709551615", "18446744073709551616"]),
    st.sampled_from(["7", "007", "+0000000000000000007", " 0000000000000000007", "x" * 20]),
)


@settings(max_examples=80, deadline=None)
@given(
    ids=st.lists(_IDS, max_size=80),
    cuts=st.lists(st.integers(0, 80), max_size=6),
)
def test_first_seen_across_blocks_is_dedupe_of_the_whole(ids: list[str], cuts: list[int]) -> None:
    frame = pl.DataFrame(
        {"event_id": ids, "row": list(range(len(ids)))}, schema={"event_id": pl.String, "row": pl.Int64}
    )
    bounds = sorted({0, len(ids), *(c for c in cuts if c <= len(ids))})
    first_seen = FirstSeen()
    kept = [first_seen(frame[a:b]) for a, b in itertools.pairwise(bounds)]
    got = pl.concat(kept) if kept else frame.head(0)
    assert got.equals(dedupe(frame))  # the first of each id, in order
    assert first_seen.dropped == frame.height - got.height


@pytest.mark.parametrize("block_bytes", [1500, 64 << 20])
def test_clean_days_writes_what_the_whole_day_path_wrote(
    logs: Path, tmp_path: Path, block_bytes: int
) -> None:
    out = tmp_path / f"tables-{block_bytes}"
    data = tmp_path / f"data-{block_bytes}"
    calls: list[date] = []

    def write(day: date, rows: pl.LazyFrame) -> int:
        calls.append(day)
        target = out / f"{day}.parquet"
        write_parquet(rows, target)
        return target.stat().st_size

    done = list(clean_days(logs, DAYS, write, data_dir=data, final_before=DAYS[1], block_bytes=block_bytes))
    assert calls == DAYS and [d.day for d in done] == DAYS
    for summary in done:
        whole = read_logs(logs, days=[summary.day], final_before=DAYS[1])
        expected = dedupe(whole.events)
        stored = pl.read_parquet(out / f"{summary.day}.parquet")
        assert stored.equals(expected)
        assert stored.schema == expected.schema
        quarantine = quarantine_of_day(whole.quarantine, summary.day, logs)
        assert summary.events == expected.height and summary.read == whole.events.height
        assert summary.duplicates_dropped == whole.events.height - expected.height
        assert summary.quarantined == quarantine.height
        assert summary.reasons == dict(sorted(quarantine.group_by("reason").len().iter_rows()))
        assert sum(summary.by_type.values()) == expected.height
        assert sorted(summary.attempts.to_list()) == sorted(expected["attempt_id"].unique().to_list())
        assert summary.session_ends.height == 8 + n_extra(summary.day)
        assert usage.day_numbers(summary.session_ends) == usage.day_numbers(expected)
        assert summary.preview.equals(expected.head(10))
        assert summary.pending_bytes == whole.pending_bytes
        assert summary.stored_bytes == (out / f"{summary.day}.parquet").stat().st_size
    assert done[0].duplicates_dropped == 1 and done[1].duplicates_dropped == 2  # + the single file's copy
    kept = read_quarantine(data)
    assert kept.height == sum(d.quarantined for d in done) == sum(d.newly_quarantined for d in done)


def test_a_run_stopped_after_its_first_day_leaves_no_reader_behind(logs: Path, tmp_path: Path) -> None:
    """Days are read ahead in their own threads (the next one taking the pool as a day is all
    read): stopping the run stops every one of them."""
    before = {t for t in threading.enumerate() if t.name == "read-ahead"}

    def write(day: date, rows: pl.LazyFrame) -> int:
        return write_parquet(rows, tmp_path / f"{day}.parquet")

    days = clean_days(logs, [*DAYS, date(2026, 3, 4), date(2026, 3, 5)], write, block_bytes=64 << 20)
    first = next(days)
    days.close()
    assert first.day == DAYS[0] and first.events > 0
    assert {t for t in threading.enumerate() if t.name == "read-ahead"} == before


def test_a_day_without_files_is_written_empty(logs: Path, tmp_path: Path) -> None:
    empty_day = date(2026, 4, 1)
    target = tmp_path / "empty.parquet"
    [done] = clean_days(logs, [empty_day], lambda _, rows: write_parquet(rows, target))
    assert done.events == 0 and pl.read_parquet(target).height == 0
    assert pl.read_parquet(target).schema == read_logs(logs, days=[DAYS[0]]).events.schema


def test_a_partition_written_from_many_blocks_reads_back_equal(tmp_path: Path) -> None:
    blocks = [pl.DataFrame({"a": list(range(i, i + 7)), "s": [f"x{i}"] * 7}) for i in range(0, 700, 7)]
    target = tmp_path / "t.parquet"
    assert write_parquet(lazy_blocks(iter(blocks), blocks[0].schema), target) == 700
    assert pl.read_parquet(target).equals(pl.concat(blocks))
    # a query that projects and filters reads through the same source
    got = lazy_blocks(iter(blocks), blocks[0].schema).filter(pl.col("a") > 690).select("a").collect()
    assert got["a"].to_list() == list(range(691, 700))


def test_a_failing_block_source_leaves_no_partition(tmp_path: Path) -> None:
    def blocks():
        yield pl.DataFrame({"a": [1]})
        raise OSError("disk gone")

    target = tmp_path / "t.parquet"
    with pytest.raises(OSError, match="disk gone"):
        write_parquet(lazy_blocks(blocks(), {"a": pl.Int64()}), target)
    assert list(tmp_path.iterdir()) == []  # no partition, no temporary file


def test_read_ahead_keeps_order_raises_in_order_and_stops_early() -> None:
    assert list(read_ahead(iter(range(100)), 3)) == list(range(100))

    def failing():
        yield 1
        yield 2
        raise ValueError("bad block")

    got = []
    with pytest.raises(ValueError, match="bad block"):
        for item in read_ahead(failing()):
            got.append(item)
    assert got == [1, 2]

    produced = []
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                produced.append(i)
                yield i
                i += 1
        finally:
            closed.set()

    stream = read_ahead(endless(), 2)
    assert next(stream) == 0
    stream.close()  # type: ignore[attr-defined]
    assert closed.wait(5)
    assert len(produced) <= 5  # the producer stayed a few items ahead, then stopped


def test_read_ahead_holds_what_a_callable_allows_once_woken() -> None:
    """``ahead`` may grow while the producer waits for room (the next day's reader once the day
    being written is all read): woken, it hands on more, in order."""
    room = [1]
    made = [threading.Event() for _ in range(8)]

    def items():
        for i in range(8):
            made[i].set()
            yield i

    stream = read_ahead(items(), lambda: room[0])
    assert made[1].wait(5)  # one held, the next waiting for room
    room[0] = 3
    stream.wake()
    assert made[3].wait(5)  # three held, the fourth waiting
    assert list(stream) == list(range(8))


def test_the_contract_check_reads_less_and_misses_nothing(logs: Path, tmp_path: Path) -> None:
    """Each pass of ``validate_events`` catches what it is there for, on a frame and on a scan."""
    from assets.events import VALUE_COLUMNS, validate_events

    good = dedupe(read_logs(logs, days=[DAYS[0]]).events)
    assert "task_title" not in VALUE_COLUMNS and "event_id" in VALUE_COLUMNS
    first_end = pl.int_range(pl.len()) == pl.arg_where(pl.col("event_type") == "session_end").first()
    broken = {
        "a free-text column of the wrong type": good.with_columns(pl.lit(1).alias("task_title")),
        "a column too many (strict)": good.with_columns(pl.lit("x").alias("surprise")),
        "a column missing": good.drop("source_file"),
        "an event id twice": pl.concat([good, good.head(1)]),
        "a session_end without its status (a row check)": good.with_columns(
            pl.when(first_end).then(None).otherwise(pl.col("completion_status")).alias("completion_status")
        ),
        "an error without its message (a row check on a free-text column)": good.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.lit("error"))
            .otherwise(pl.col("event_type"))
            .alias("event_type"),
            pl.when(pl.int_range(pl.len()) == 0)
            .then(None)
            .otherwise(pl.col("error_message"))
            .alias("error_message"),
        ),
    }
    stored = tmp_path / "good.parquet"
    good.write_parquet(stored)
    assert validate_events(good).passed and validate_events(pl.scan_parquet(stored)).passed
    for what, frame in broken.items():
        target = tmp_path / "bad.parquet"
        frame.write_parquet(target)
        assert not validate_events(frame).passed, what
        assert not validate_events(pl.scan_parquet(target)).passed, what


def test_compact_copies_text_and_keeps_every_value() -> None:
    frame = pl.DataFrame(
        {"s": ["a" * 30, None, "", "b"], "n": [1, None, 3, 4], "c": ["x", "y", None, "z" * 13]}
    )
    assert compact(frame).equals(frame) and compact(frame).schema == frame.schema
    assert compact(frame["s"]).equals(frame["s"]) and compact(frame["n"]).equals(frame["n"])
    assert compact(frame.head(0)).equals(frame.head(0))


def test_the_id_uniqueness_check_finds_what_pandera_finds() -> None:
    """``event_id``'s uniqueness, checked on the numbers the ids spell, reports the same failure
    cases as pandera's ``unique`` (20-digit ids, and any other text, which is checked as text)."""
    import pandera.errors
    import pandera.polars as pa
    from pandera.config import ValidationDepth, config_context

    from assets.contract_check import check_unique_ids

    schema = pa.DataFrameSchema({"event_id": pa.Column(str, unique=True)})
    digits = [f"{n:020d}" for n in (7, 18446744073709551615, 7, 3, 0, 3, 3)]
    for ids in (digits, [*digits, "not-a-number"], [*digits[:3], "0000000000000000007"], digits[3:5]):
        frame = pl.DataFrame({"event_id": ids})
        try:
            with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
                schema.validate(frame.lazy(), lazy=True)
            expected = None
        except pandera.errors.SchemaErrors as exc:
            expected = exc.failure_cases.sort("index")
        found: list[pl.DataFrame] = []
        check_unique_ids(frame["event_id"], found)
        if expected is None:
            assert not found, ids
        else:
            assert found[0].select(expected.columns).sort("index").equals(expected), ids

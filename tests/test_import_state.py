"""The import state's record hashes survive the trip into SQLite exactly, by either way of inserting them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent_pipelines.ingest.importers.state import ImportState, insert_seen, record_hash

EDGES = [-(1 << 63), -(1 << 63) + 1, -1, 0, 1, (1 << 53) + 1, (1 << 63) - 1]


class NoJson(sqlite3.Connection):
    """An SQLite as built without its JSON functions (SQLITE_OMIT_JSON): json_each is unknown."""

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if "json_each" in sql:
            raise sqlite3.OperationalError("no such table: json_each")
        return super().execute(sql, *args)


def _table(db: sqlite3.Connection) -> list[tuple[int, str]]:
    return list(db.execute("SELECT h, typeof(h) FROM seen ORDER BY h"))


@given(st.lists(st.integers(-(1 << 63), (1 << 63) - 1), max_size=50))
def test_hashes_are_stored_exactly_either_way(hashes: list[int]) -> None:
    wanted = sorted(set(hashes) | set(EDGES))
    tables = []
    for factory in (sqlite3.Connection, NoJson):
        db = sqlite3.connect(":memory:", factory=factory)
        db.execute("CREATE TABLE seen (h INTEGER PRIMARY KEY) WITHOUT ROWID")
        insert_seen(db, sorted(hashes + EDGES))
        insert_seen(db, EDGES)  # already there: ignored
        tables.append(_table(db))
    assert tables[0] == tables[1] == [(h, "integer") for h in wanted]


def test_a_committed_pass_knows_its_records(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    seen = {record_hash(f"codex:function_call:call_{i}") for i in range(1000)} | set(EDGES)
    with ImportState(path) as state:
        state.mark_seen(seen)
        state.commit()
    with ImportState(path) as state:
        assert state.unseen(seen | {12345}) == {12345} - seen
        assert {h for (h,) in state.db.execute("SELECT h FROM seen")} == seen

"""The fast one-line masking path (many messages joined per regex pass) against the per-message rules.

``masking.mask_one_line_frame`` must give exactly what the reference rules give one message at a
time (``masking.mask``, Python ``re``; and ``mask_expr``, the per-row polars path), for any batch:
neighbouring messages must never change each other's result. ``masking.mask_values`` (the batch
path, which skips the rules a message cannot match by its gates) must give the same again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_pipelines.text import masking
from agent_pipelines.text.masking import mask_expr, mask_one_line_frame, mask_series, mask_values, masked_keys

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_clustering import all_messages, fuzz_messages  # noqa: E402


def _one_line(messages: list[str]) -> list[str]:
    return [m.replace("\n", " ") for m in messages]


def _fast(messages: list[str | None]) -> list[str]:
    """The chunked path, every rule (ungated), and the gated batch path: they must agree."""
    frame = pl.LazyFrame({"m": pl.Series(messages, dtype=pl.String)})
    ungated = mask_one_line_frame(frame, "m", "out").collect().get_column("out").to_list()
    table = mask_values(pl.Series("m", messages, dtype=pl.String), "out")
    lookup = dict(zip(table["m"].to_list(), table["out"].to_list(), strict=True))
    gated = [lookup[m] for m in messages]
    assert gated == ungated
    return ungated


def _reference(messages: list[str | None]) -> list[str]:
    return [masking._mask_uncached(m or "") for m in messages]


def test_fast_path_equals_reference_on_corpus_and_fuzz(monkeypatch) -> None:
    msgs: list[str | None] = [*_one_line(all_messages() + fuzz_messages(2_000)), None, "", " ", "\t"]
    expected = _reference(msgs)
    per_row_expr = mask_expr(pl.col("m"), multiline=False).alias("o")
    per_row = pl.DataFrame({"m": msgs}).select(per_row_expr)["o"].to_list()
    assert per_row == expected
    # Small chunks put many chunk edges between neighbours that matter.
    for chunk in (1, 3, 64, 2_048):
        monkeypatch.setattr(masking, "_CHUNK_ROWS", chunk)
        got = _fast(msgs)
        mismatches = [(m, a, b) for m, a, b in zip(msgs, got, expected, strict=True) if a != b]
        assert not mismatches[:5]


@pytest.mark.parametrize("copies", [1, 3])
def test_batch_path_equals_reference(copies: int) -> None:
    """Masking by keys (two stages over distinct texts; distinct messages first when they repeat)."""
    base: list[str | None] = [*all_messages()[:500], *fuzz_messages(300), None, "", "a\n\nb"]
    messages = base * copies  # repeated: the distinct messages are masked first
    expected = _reference(messages)
    series = pl.Series("m", messages, dtype=pl.String)
    assert mask_series(series).to_list() == expected
    keys, table = masked_keys(series)
    assert keys.len() == len(messages)
    assert table.get_column("key").is_unique().all()
    lookup = dict(zip(table["key"].to_list(), table["masked"].to_list(), strict=True))
    assert [lookup[k] for k in keys.to_list()] == expected


def test_batch_path_on_nothing() -> None:
    assert mask_series(pl.Series("m", [], dtype=pl.String)).to_list() == []
    assert mask_values(pl.Series("m", [], dtype=pl.String)).height == 0
    keys, table = masked_keys(pl.Series("m", [], dtype=pl.String))
    assert keys.is_empty() and table.is_empty()


_PIECES = [w for m in _one_line(all_messages()) for w in m.split(" ") if w][:3_000]
_ODD = [
    "",
    " ",
    "  ",
    "\t",
    "\r",
    "\x0b",
    "\x0c",
    "\x02",
    "\x03",
    "\x04",
    "\x05",
    "-",
    ".",
    ":",
    "::",
    "'",
    '"',
    "`",
    "/",
    "(",
    ")",
    "[",
    "]",
    "_QK",
    "KQ_",
    "_QD_",
    "<_SL_",
    "0x1f",
    "12",
    "-7",
    "3.5",
    "v2",
    "1.2.3",
    "é",
    "µs",
    "ms",
    " s",
    "Command failed: ",
    "exit code ",
    "Jan 5",
    "10.0.0.1",
    "a.com",
]
_token = st.one_of(st.sampled_from(_PIECES), st.sampled_from(_ODD), st.text(max_size=6))
_message = st.lists(_token, max_size=8).flatmap(
    lambda toks: st.sampled_from(["", " ", "\t", ":"]).map(lambda sep: sep.join(toks).replace("\n", ""))
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_message, min_size=1, max_size=12), st.integers(min_value=1, max_value=5))
def test_fast_path_equals_reference_on_any_batch(messages: list[str], chunk: int) -> None:
    old = masking._CHUNK_ROWS
    masking._CHUNK_ROWS = chunk
    try:
        assert _fast(messages) == _reference(messages)
    finally:
        masking._CHUNK_ROWS = old

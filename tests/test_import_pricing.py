"""The price table: offline, the same figures as genai-prices' own calculator, a user file first."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from genai_prices import Usage as GUsage
from genai_prices import calc_price
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_pipelines.ingest.importers.pricing import CostTally, PriceTable, Usage, load_price_file

WHEN = datetime(2026, 3, 2, 12, tzinfo=UTC)
MODELS = [
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-3-5-haiku-20241022",
    "gpt-5-codex",
    "gpt-5",
    "o3",
]


def test_the_table_needs_no_network() -> None:
    """Import and price every model in a fresh interpreter whose sockets all fail."""
    code = (
        "import socket\n"
        "def no(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = no; socket.create_connection = no; socket.getaddrinfo = no\n"
        "from agent_pipelines.ingest.importers.pricing import PriceTable, Usage\n"
        f"t = PriceTable(); u = Usage(1000, 1000, 1000, 1000)\n"
        f"print([t.cost(m, u) is not None for m in {MODELS!r}])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == str([True] * len(MODELS))
    assert socket.socket.connect is not None  # this process untouched


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    inp=st.integers(0, 300_000),
    out=st.integers(0, 50_000),
    cw=st.integers(0, 100_000),
    cr=st.integers(0, 100_000),
)
def test_same_cost_as_genai_prices_own_calculator(model: str, inp: int, out: int, cw: int, cr: int) -> None:
    """Our per-request arithmetic (for speed) agrees with the library's, tiers included."""
    if model.startswith(("gpt", "o3")):
        cw = 0  # OpenAI has no cache-write price
    ours = PriceTable().cost(model, Usage(inp, out, cw, cr), WHEN)
    ref = calc_price(
        GUsage(
            input_tokens=inp + cw + cr,
            output_tokens=out,
            cache_write_tokens=cw or None,
            cache_read_tokens=cr or None,
        ),
        model,
        genai_request_timestamp=WHEN,
    )
    assert ours == pytest.approx(float(ref.total_price), rel=1e-9, abs=1e-12)


def test_unknown_model_is_not_priced_at_zero() -> None:
    tally = CostTally()
    tally.add("no-such-model-7", Usage(10, 20), WHEN, PriceTable())
    assert tally.session_cost is None and tally.unpriced == {"no-such-model-7": 30}
    tally.add("claude-sonnet-4-5", Usage(100_000, 0), WHEN, PriceTable())
    assert tally.session_cost == 0.3 and tally.unpriced == {"no-such-model-7": 30}


def test_user_file_wins_and_bad_files_say_why(tmp_path: Path) -> None:
    good = tmp_path / "p.json"
    good.write_text(
        json.dumps({"claude-sonnet-4-5": {"input": 1, "output": 2}, "local": {"input": 0, "output": 0}})
    )
    table = PriceTable(good)
    assert table.cost("claude-sonnet-4-5-20250929", Usage(1_000_000, 1_000_000, 1_000_000, 0), WHEN) == 4.0
    assert table.cost("local-llama", Usage(5, 5), WHEN) == 0.0  # an explicit zero price is a price
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"m": {"input": "cheap"}}))
    with pytest.raises(ValueError, match="needs numeric 'input' and 'output'"):
        load_price_file(bad)
    bad.write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_price_file(bad)

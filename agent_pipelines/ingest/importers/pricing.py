"""Prices per million tokens, from an offline table, and the cost of one model request.

Where prices come from, in order:

1. **A user file** (``--prices FILE`` or ``AGENT_IMPORT_PRICES_FILE``): JSON, one entry per model
   name (matched exactly, then as a prefix, longest first), USD per million tokens::

       {"claude-sonnet-4-5": {"input": 3, "output": 15, "cache_write": 3.75, "cache_read": 0.3},
        "my-local-model": {"input": 0, "output": 0}}

   ``cache_write`` defaults to ``input`` and ``cache_read`` to ``input``; an explicit zero price is
   a price (a local model is free), a missing model is not.
2. **genai-prices** (pydantic's price table, a PyPI package): its data is bundled in the package and
   read with no network at import or lookup (checked: ``tests/test_import_pricing.py`` blocks
   sockets and prices every model we test). It knows price changes over time (a request is priced
   at its own date) and Anthropic's long-context tiers (over 200k input tokens, every token of the
   request is charged at the higher rate). Its own ``calc_price`` takes ~0.4 ms a call, too slow
   for millions of requests, so we read the rates once per (model, day) and compute here; a test
   checks that both give the same figure.

An unknown model is **never priced at zero**: :meth:`PriceTable.cost` returns ``None`` and the
caller counts the model's tokens as unpriced, reported by name.

Token semantics differ by vendor and are normalized by the importers into :class:`Usage`:
``input`` is *uncached* input, ``cache_write`` and ``cache_read`` the cached parts, ``output``
includes reasoning tokens. The tier threshold applies to all input (uncached + cache).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

PRICES_FILE_ENV = "AGENT_IMPORT_PRICES_FILE"
_PER = 1_000_000


@dataclass(frozen=True)
class Usage:
    """Tokens of one model request (or a sum of them)."""

    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write + self.cache_read

    @property
    def all_input(self) -> int:
        return self.input + self.cache_write + self.cache_read

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input + other.input,
            self.output + other.output,
            self.cache_write + other.cache_write,
            self.cache_read + other.cache_read,
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.input - other.input,
            self.output - other.output,
            self.cache_write - other.cache_write,
            self.cache_read - other.cache_read,
        )

    def max(self, other: Usage) -> Usage:
        """Field-wise maximum: the most complete of two snapshots of one message's usage."""
        return Usage(
            max(self.input, other.input),
            max(self.output, other.output),
            max(self.cache_write, other.cache_write),
            max(self.cache_read, other.cache_read),
        )

    def to_list(self) -> list[int]:
        return [self.input, self.output, self.cache_write, self.cache_read]

    @classmethod
    def from_list(cls, values: list[int]) -> Usage:
        return cls(*(int(v) for v in values[:4]))


@dataclass(frozen=True)
class Price:
    """One rate in USD per million tokens, with optional cliff tiers ``((threshold, rate), ...)``."""

    base: float
    tiers: tuple[tuple[int, float], ...] = ()

    def at(self, all_input_tokens: int) -> float:
        rate = self.base
        for start, tier_rate in self.tiers:
            if all_input_tokens > start:
                rate = tier_rate
        return rate


@dataclass(frozen=True)
class Rates:
    """What one model costs, and where the figures came from (``genai-prices`` or a file)."""

    model: str
    input: Price
    output: Price
    cache_write: Price
    cache_read: Price
    source: str

    def cost(self, usage: Usage) -> float:
        n = usage.all_input
        return (
            usage.input * self.input.at(n)
            + usage.output * self.output.at(n)
            + usage.cache_write * self.cache_write.at(n)
            + usage.cache_read * self.cache_read.at(n)
        ) / _PER


def _price(value: Any) -> Price | None:
    """A genai-prices value (``Decimal`` or ``TieredPrices``) or a plain number as a :class:`Price`."""
    if value is None:
        return None
    tiers = getattr(value, "tiers", None)
    if tiers is not None:
        return Price(float(value.base), tuple((int(t.start), float(t.price)) for t in tiers))
    return Price(float(value))


class PriceTable:
    """Model → :class:`Rates`, the user file first, then genai-prices; misses are remembered."""

    def __init__(self, user_file: str | os.PathLike[str] | None = None, *, use_library: bool = True) -> None:
        path = user_file or None  # --prices FILE, else AGENT_IMPORT_PRICES_FILE (the edge's settings)
        self.user_file = Path(path) if path else None
        self.user: dict[str, Rates] = load_price_file(self.user_file) if self.user_file else {}
        self.use_library = use_library
        self._cache: dict[tuple[str, int, int, int], Rates | None] = {}

    def rates(self, model: str, when: datetime | None = None) -> Rates | None:
        """The rates for ``model`` on the day of ``when`` (prices change over time), or ``None``."""
        moment = when or datetime.now(UTC)
        key = (model, moment.year, moment.month, moment.day)  # the day, without formatting it every request
        if key not in self._cache:
            self._cache[key] = self._lookup(model, moment.strftime("%Y-%m-%d"))
        return self._cache[key]

    def cost(self, model: str | None, usage: Usage, when: datetime | None = None) -> float | None:
        """USD for ``usage`` of ``model``; ``None`` for an unknown (or missing) model."""
        if not model:
            return None
        rates = self.rates(model, when)
        return None if rates is None else rates.cost(usage)

    def _lookup(self, model: str, day: str) -> Rates | None:
        name = model.lower()
        if name in self.user:
            return self.user[name]
        for prefix in sorted(self.user, key=len, reverse=True):
            if name.startswith(prefix):
                return self.user[prefix]
        if not self.use_library:
            return None
        return _library_rates(name, day)


@lru_cache(maxsize=4096)
def _library_rates(model: str, day: str) -> Rates | None:
    try:
        from genai_prices import data_snapshot
    except ImportError:  # pragma: no cover - a dependency; a broken install prices nothing
        return None
    try:
        _provider, info = data_snapshot.get_snapshot().find_provider_model(model, None, None, None)
    except LookupError:
        return None
    when = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
    prices = info.get_prices(when)
    inp = _price(getattr(prices, "input_mtok", None))
    out = _price(getattr(prices, "output_mtok", None))
    if inp is None or out is None:
        return None
    return Rates(
        model=info.id,
        input=inp,
        output=out,
        cache_write=_price(getattr(prices, "cache_write_mtok", None)) or inp,
        cache_read=_price(getattr(prices, "cache_read_mtok", None)) or inp,
        source=f"genai-prices:{info.id}",
    )


def load_price_file(path: Path) -> dict[str, Rates]:
    """Read a user price file (see the module docstring); a clear ``ValueError`` when it is wrong."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"price file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ValueError(f"price file {path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"price file {path} must be a JSON object of model name -> prices")
    table: dict[str, Rates] = {}
    for model, entry in raw.items():
        if (
            not isinstance(entry, dict)
            or not _is_number(entry.get("input"))
            or not _is_number(entry.get("output"))
        ):
            raise ValueError(f"price file {path}: {model!r} needs numeric 'input' and 'output' (USD per 1M)")
        for key in ("cache_write", "cache_read"):
            if key in entry and not _is_number(entry[key]):
                raise ValueError(f"price file {path}: {model!r}.{key} must be a number")
        inp = Price(float(entry["input"]))
        table[str(model).lower()] = Rates(
            model=str(model),
            input=inp,
            output=Price(float(entry["output"])),
            cache_write=Price(float(entry["cache_write"])) if "cache_write" in entry else inp,
            cache_read=Price(float(entry["cache_read"])) if "cache_read" in entry else inp,
            source=f"file:{path.name}",
        )
    return table


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


@dataclass
class CostTally:
    """Cost and tokens of one session: priced, carried by the records, and unpriced by model."""

    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    priced_requests: int = 0
    record_cost_requests: int = 0
    unpriced: dict[str, int] = field(default_factory=dict)  # model -> tokens without a price

    def to_json(self) -> dict[str, Any]:
        return {
            "u": self.usage.to_list(),
            "c": self.cost_usd,
            "p": self.priced_requests,
            "r": self.record_cost_requests,
            "x": self.unpriced,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> CostTally:
        if not value:
            return cls()
        return cls(
            Usage.from_list(value["u"]), float(value["c"]), int(value["p"]), int(value["r"]), dict(value["x"])
        )

    def add(
        self,
        model: str | None,
        usage: Usage,
        when: datetime | None,
        prices: PriceTable,
        record_cost: float | None = None,
    ) -> None:
        """Add one request (or the growth of one). The record's own cost wins when it has one."""
        self.usage = self.usage + usage
        if record_cost is not None:
            self.cost_usd += record_cost
            self.record_cost_requests += 1
            return
        cost = prices.cost(model, usage, when)
        if cost is None:
            if usage.total:
                name = model or "(no model)"
                self.unpriced[name] = self.unpriced.get(name, 0) + usage.total
            return
        self.cost_usd += cost
        self.priced_requests += 1

    @property
    def session_cost(self) -> float | None:
        """The session's cost, ``None`` when nothing could be priced (unknown, not zero)."""
        if self.unpriced and not (self.priced_requests or self.record_cost_requests):
            return None
        return round(self.cost_usd, 6)

"""What memory holds: sessions, messages, duplicates dropped, tokens and cost, redactions.

Token usage comes from the ``usage`` table (one row per API response). Cost uses the
price table of ``coditect.execution.pricing`` (``[llm.prices]`` overrides it): the
5-minute cache-write price for cache writes, twice the input price for the 1-hour ones
Claude Code reports separately. Models without a price count their tokens, not a cost,
and are listed under ``unpriced_models``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coditect.execution.pricing import PriceTable
    from coditect.memory.store import MemoryStore

__all__ = ["TOKEN_KINDS", "memory_stats"]

TOKEN_KINDS = ("input", "output", "cache_write", "cache_read")


@dataclass(slots=True)
class _Tally:
    responses: int = 0
    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0
    cost: float = 0.0

    def add(self, row: tuple[Any, ...], cost: float) -> None:
        self.responses += row[0]
        self.input += row[1]
        self.output += row[2]
        self.cache_write += row[3]
        self.cache_read += row[5]
        self.cost += cost

    def to_dict(self, **labels: Any) -> dict[str, Any]:
        return {
            **labels,
            "responses": self.responses,
            "tokens": {k: getattr(self, k) for k in TOKEN_KINDS},
            "cost_usd": round(self.cost, 6),
        }


def _cost(prices: PriceTable, model: str | None, row: tuple[Any, ...]) -> float | None:
    price = prices.lookup(model) if model else None
    if price is None:
        return None
    _, tokens_in, tokens_out, write, write_1h, read = row
    return (
        float(
            tokens_in * price.input
            + tokens_out * price.output
            + (write - write_1h) * price.cache_write
            + write_1h * price.input * 2
            + read * price.cache_read
        )
        / 1_000_000
    )


def _usage(store: MemoryStore, prices: PriceTable) -> dict[str, Any]:
    """Tokens and cost in total and by model, day and session, from one scan."""
    total = _Tally()
    tallies: dict[str, dict[Any, _Tally]] = {
        "model": defaultdict(_Tally),
        "day": defaultdict(_Tally),
        "session": defaultdict(_Tally),
    }
    unpriced: set[str] = set()
    rows = store.conn.execute(
        "SELECT session_id, substr(ts, 1, 10), model, count(*), sum(input_tokens), "
        "sum(output_tokens), sum(cache_write_tokens), sum(cache_write_1h_tokens), "
        "sum(cache_read_tokens) FROM usage GROUP BY 1, 2, 3"
    )
    for session, day, model, *counts in rows:
        cost = _cost(prices, model, tuple(counts))
        if cost is None and any(counts[1:]):
            unpriced.add(model or "(none)")
        for tally in (
            total,
            tallies["model"][model or "(none)"],
            tallies["day"][day or "(undated)"],
            tallies["session"][session],
        ):
            tally.add(tuple(counts), cost or 0.0)
    return {
        "tokens": {k: getattr(total, k) for k in TOKEN_KINDS},
        "responses": total.responses,
        "cost_usd": round(total.cost, 6),
        "unpriced_models": sorted(unpriced),
        "by_model": [
            t.to_dict(model=m)
            for m, t in sorted(tallies["model"].items(), key=lambda i: -i[1].cost)
        ],
        "by_day": [t.to_dict(day=d) for d, t in sorted(tallies["day"].items())],
        "by_session": [
            t.to_dict(session=s)
            for s, t in sorted(tallies["session"].items(), key=lambda i: (-i[1].cost, i[0]))
        ],
    }


def memory_stats(store: MemoryStore, prices: PriceTable) -> dict[str, Any]:
    """Everything ``coditect memory stats`` shows, as plain data."""
    conn = store.conn
    counters = store.counters()
    roles = dict(conn.execute("SELECT role, count(*) FROM messages GROUP BY role").fetchall())
    redactions = conn.execute(
        "SELECT type, count(*) FROM redactions GROUP BY type ORDER BY 2 DESC, 1"
    ).fetchall()
    return {
        "database": str(store.path),
        "sessions": conn.execute("SELECT count(*) FROM sessions").fetchone()[0],
        "messages": sum(roles.values()),
        "messages_by_role": roles,
        "other_records": conn.execute("SELECT count(*) FROM records").fetchone()[0],
        "files": conn.execute("SELECT count(*) FROM files").fetchone()[0],
        "duplicates_dropped": counters.get("duplicates", 0),
        "records_merged": counters.get("merged", 0),
        "forgotten_sessions": conn.execute("SELECT count(*) FROM forgotten").fetchone()[0],
        "redactions": dict(redactions),
        **_usage(store, prices),
    }

"""What model calls cost: a price table per model, in US dollars per million tokens.

The built-in table holds the providers' published list prices for their well-known
models; ``[llm.prices]`` in the config replaces an entry or adds a model. A model is
found by its exact name, else without a snapshot suffix (a date or ``latest``):
``claude-haiku-4-5-20251001`` and ``gpt-4.1-2025-04-14`` are priced as their base model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coditect.errors import ValidationError
from coditect.execution.base import Usage

__all__ = ["DEFAULT_PRICES", "PRICE_FIELDS", "Price", "PriceTable", "check_prices"]

PRICE_FIELDS = ("input", "output", "cache_write", "cache_read")
_SNAPSHOT = re.compile(r"^(?P<base>.+?)-(?:\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens of each kind."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_write_tokens * self.cache_write
            + usage.cache_read_tokens * self.cache_read
        ) / 1_000_000


def _p(input: float, output: float, cache_write: float, cache_read: float) -> Price:
    return Price(input, output, cache_write, cache_read)


# List prices, October 2026 (platform.claude.com/docs/en/about-claude/pricing,
# developers.openai.com/api/docs/pricing, ai.google.dev/gemini-api/docs/pricing).
# Anthropic cache writes are the 5-minute rate; OpenAI and Gemini do not bill cache
# writes per token. Long-prompt surcharges (Gemini 2.5 Pro over 200k) are not modelled.
DEFAULT_PRICES: dict[str, Price] = {
    "claude-fable-5-1": _p(10.0, 50.0, 12.5, 0.25),
    "claude-fable-5": _p(10.0, 50.0, 12.5, 1.0),
    "claude-opus-5": _p(5.0, 25.0, 6.25, 0.5),
    "claude-opus-4-8": _p(5.0, 25.0, 6.25, 0.5),
    "claude-opus-4-7": _p(5.0, 25.0, 6.25, 0.5),
    "claude-opus-4-6": _p(5.0, 25.0, 6.25, 0.5),
    "claude-opus-4-5": _p(5.0, 25.0, 6.25, 0.5),
    "claude-opus-4-1": _p(15.0, 75.0, 18.75, 1.5),
    "claude-opus-4": _p(15.0, 75.0, 18.75, 1.5),
    "claude-sonnet-5-5": _p(2.0, 10.0, 2.5, 0.1),
    "claude-sonnet-5": _p(2.0, 10.0, 2.5, 0.2),
    "claude-sonnet-4-6": _p(3.0, 15.0, 3.75, 0.3),
    "claude-sonnet-4-5": _p(3.0, 15.0, 3.75, 0.3),
    "claude-sonnet-4": _p(3.0, 15.0, 3.75, 0.3),
    "claude-haiku-4-5": _p(1.0, 5.0, 1.25, 0.1),
    "gpt-5.4": _p(2.5, 15.0, 0.0, 0.25),
    "gpt-5.4-mini": _p(0.75, 4.5, 0.0, 0.075),
    "gpt-5.1": _p(1.25, 10.0, 0.0, 0.125),
    "gpt-5": _p(1.25, 10.0, 0.0, 0.125),
    "gpt-5-mini": _p(0.25, 2.0, 0.0, 0.025),
    "gpt-5-nano": _p(0.05, 0.4, 0.0, 0.005),
    "gpt-4.1": _p(2.0, 8.0, 0.0, 0.5),
    "gpt-4.1-mini": _p(0.4, 1.6, 0.0, 0.1),
    "gpt-4.1-nano": _p(0.1, 0.4, 0.0, 0.025),
    "gpt-4o": _p(2.5, 10.0, 0.0, 1.25),
    "gpt-4o-mini": _p(0.15, 0.6, 0.0, 0.075),
    "o3": _p(2.0, 8.0, 0.0, 0.5),
    "o4-mini": _p(1.1, 4.4, 0.0, 0.275),
    "gemini-2.5-pro": _p(1.25, 10.0, 0.0, 0.125),
    "gemini-2.5-flash": _p(0.3, 2.5, 0.0, 0.03),
    "gemini-2.5-flash-lite": _p(0.1, 0.4, 0.0, 0.01),
}


def check_prices(prices: Mapping[str, Any], where: str = "llm.prices") -> dict[str, Price]:
    """``[llm.prices]`` as Price objects, or a ValidationError naming the bad entry.

    Each entry needs ``input`` and ``output``; ``cache_write`` and ``cache_read``
    default to the input price (the dearest guess, so budgets are not undercounted)."""
    hint = 'Write e.g. [llm.prices."my-model"] with input = 1.0 and output = 2.0 (USD per MTok).'
    checked: dict[str, Price] = {}
    for model, entry in prices.items():
        if not isinstance(entry, Mapping):
            raise ValidationError(f"{where}.{model} must be a table, not {entry!r}", hint)
        unknown = sorted(set(entry) - set(PRICE_FIELDS))
        if unknown:
            raise ValidationError(
                f"{where}.{model}: unknown price {unknown[0]!r}",
                "Prices are: " + ", ".join(PRICE_FIELDS) + ".",
            )
        for name in ("input", "output"):
            if name not in entry:
                raise ValidationError(f"{where}.{model} needs {name!r}", hint)
        values = {name: entry.get(name, entry["input"]) for name in PRICE_FIELDS}
        for name, value in values.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 <= value < math.inf
            ):
                raise ValidationError(
                    f"{where}.{model}.{name} must be a number ≥ 0, not {value!r}", hint
                )
        checked[str(model)] = Price(**{k: float(v) for k, v in values.items()})
    return checked


class PriceTable:
    """The built-in prices overlaid with the configured ones."""

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        self._prices = {**DEFAULT_PRICES, **check_prices(overrides or {})}

    def lookup(self, model: str) -> Price | None:
        name = model.removeprefix("models/")
        if name in self._prices:
            return self._prices[name]
        snapshot = _SNAPSHOT.match(name)
        return self._prices.get(snapshot["base"]) if snapshot else None

    def cost(self, model: str, usage: Usage) -> float | None:
        """What ``usage`` on ``model`` cost; None when the model has no price."""
        price = self.lookup(model)
        return None if price is None else price.cost(usage)

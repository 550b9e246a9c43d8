"""The budgets of a run: cost, tokens, wall time and failures, and what reaching one means.

A limit of 0 means no limit. Spending is counted for this run only (what earlier runs
spent on the same tasks does not count). When a budget is reached the runner starts no
more tasks. Cost, tokens and failures are only known when an attempt ends, so tasks
already running are allowed to finish and are recorded (the run can overshoot those
budgets by what they spend). A wall-time budget is about ending on time, so reaching it
also cancels the running tasks, which go back to pending.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from coditect.config import RunSettings
from coditect.errors import BudgetExceededError

__all__ = ["Budget", "BudgetBreach", "BudgetTracker"]


@dataclass(frozen=True)
class Budget:
    """The limits of one run (0: no limit)."""

    max_cost_usd: float = 0.0
    max_tokens: int = 0
    max_wall_seconds: float = 0.0
    max_failures: int = 0

    @classmethod
    def from_settings(cls, run: RunSettings) -> Budget:
        return cls(run.max_cost_usd, run.max_tokens, run.max_wall_seconds, run.max_failures)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "max_cost_usd": self.max_cost_usd,
            "max_tokens": self.max_tokens,
            "max_wall_seconds": self.max_wall_seconds,
            "max_failures": self.max_failures,
        }


@dataclass(frozen=True)
class BudgetBreach:
    """Which budget a run reached, with the limit and what was spent."""

    budget: str
    """cost, tokens, time or failures."""
    limit: float
    spent: float

    @property
    def cancels_running(self) -> bool:
        """Only the time budget stops tasks that are already running."""
        return self.budget == "time"

    @property
    def message(self) -> str:
        if self.budget == "cost":
            return f"the run reached its cost budget: spent ${self.spent:.4f} of ${self.limit:g}"
        if self.budget == "tokens":
            return f"the run reached its token budget: used {self.spent:,.0f} of {self.limit:,.0f}"
        if self.budget == "time":
            return f"the run reached its time budget: {self.spent:.1f}s of {self.limit:g}s"
        return f"the run reached its failure budget: {self.spent:.0f} of {self.limit:.0f} failed"

    def error(self) -> BudgetExceededError:
        flag = {
            "cost": "--max-cost",
            "tokens": "--max-tokens",
            "time": "--max-time",
            "failures": "--max-failures",
        }[self.budget]
        return BudgetExceededError(
            self.message,
            f"Raise it ({flag}, or [run] in .coditect/config.toml) and run again to go on; "
            "completed tasks are not run again.",
        )

    def to_dict(self) -> dict[str, object]:
        return {"budget": self.budget, "limit": self.limit, "spent": self.spent}


class BudgetTracker:
    """What a run has spent so far, against its budget."""

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self._started = clock()
        self.cost_usd = 0.0
        self.tokens = 0
        self.failures = 0

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def spend(self, *, cost_usd: float = 0.0, tokens: int = 0) -> None:
        self.cost_usd += cost_usd
        self.tokens += tokens

    def fail(self) -> None:
        """Count a task that failed for good (after its retries)."""
        self.failures += 1

    def seconds_left(self) -> float | None:
        """Seconds until the time budget; None without one."""
        if not self.budget.max_wall_seconds:
            return None
        return max(0.0, self.budget.max_wall_seconds - self.elapsed)

    def breach(self) -> BudgetBreach | None:
        """The first budget reached (cost, tokens, time, failures), or None."""
        b = self.budget
        checks: tuple[tuple[str, float, float], ...] = (
            ("cost", b.max_cost_usd, self.cost_usd),
            ("tokens", b.max_tokens, self.tokens),
            ("time", b.max_wall_seconds, self.elapsed),
            ("failures", b.max_failures, self.failures),
        )
        for name, limit, spent in checks:
            if limit and spent >= limit:
                return BudgetBreach(name, limit, spent)
        return None

"""Tokens and cost per task: what the runner recorded, and what memory's transcripts say.

A task counts when it has tokens or a cost recorded (``task.tokens``, ``task.cost_usd``,
written by the runner from each executor's result) or a session id (``task.session_id``,
the Claude Code session the claude-code executor started). When that session is in
memory, its ``usage`` rows give the tokens by kind and, priced as ``memory stats`` prices
them, the cost; that cost is the task's figure (``cost_source = "memory"``). Otherwise
the recorded cost is (``"run"``). Models without a price are listed, not guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from coditect.memory.stats import TOKEN_KINDS
from coditect.memory.stats import _cost as usage_cost

if TYPE_CHECKING:
    from coditect.config import Config
    from coditect.execution.pricing import PriceTable
    from coditect.memory.store import MemoryStore
    from coditect.paths import ProjectPaths
    from coditect.tasks.model import AgentTask

__all__ = ["CostReport", "TaskCost", "project_costs", "task_costs"]


@dataclass(slots=True)
class TaskCost:
    """One task's figures."""

    id: str
    title: str
    status: str
    session_id: str | None
    in_memory: bool = False
    responses: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_KINDS, 0))
    memory_cost_usd: float | None = None
    recorded_tokens: int = 0
    recorded_cost_usd: float = 0.0
    unpriced_models: list[str] = field(default_factory=list)

    @property
    def cost_source(self) -> str:
        return "memory" if self.memory_cost_usd is not None else "run"

    @property
    def cost_usd(self) -> float:
        """The memory's cost when the session is in memory and priced, else the run's."""
        if self.memory_cost_usd is not None:
            return self.memory_cost_usd
        return self.recorded_cost_usd

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "cost_usd": round(self.cost_usd, 6),
            "cost_source": self.cost_source,
        }


@dataclass(slots=True)
class CostReport:
    """Every task that cost something, and the totals."""

    tasks: list[TaskCost]
    memory: bool

    def totals(self) -> dict[str, Any]:
        return {
            "tasks": len(self.tasks),
            "sessions_in_memory": sum(t.in_memory for t in self.tasks),
            "tokens": {k: sum(t.tokens[k] for t in self.tasks) for k in TOKEN_KINDS},
            "recorded_tokens": sum(t.recorded_tokens for t in self.tasks),
            "recorded_cost_usd": round(sum(t.recorded_cost_usd for t in self.tasks), 6),
            "cost_usd": round(sum(t.cost_usd for t in self.tasks), 6),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "memory": self.memory,
            "tasks": [t.to_dict() for t in self.tasks],
            "totals": self.totals(),
        }


def _session_usage(store: MemoryStore, prices: PriceTable, row: TaskCost) -> None:
    usage = store.conn.execute(
        "SELECT model, count(*), sum(input_tokens), sum(output_tokens), "
        "sum(cache_write_tokens), sum(cache_write_1h_tokens), sum(cache_read_tokens) "
        "FROM usage WHERE session_id = ? GROUP BY model",
        (row.session_id,),
    ).fetchall()
    known = store.conn.execute("SELECT 1 FROM sessions WHERE id = ?", (row.session_id,))
    row.in_memory = bool(usage) or known.fetchone() is not None
    if not row.in_memory:
        return
    cost = 0.0
    for model, *counts in usage:
        responses, tokens_in, tokens_out, write, _, read = counts
        row.responses += responses
        for kind, value in zip(TOKEN_KINDS, (tokens_in, tokens_out, write, read), strict=True):
            row.tokens[kind] += value
        priced = usage_cost(prices, model, tuple(counts))
        if priced is None and any(counts[1:]):
            row.unpriced_models.append(model or "(none)")
        cost += priced or 0.0
    row.memory_cost_usd = None if row.unpriced_models else round(cost, 6)


def task_costs(
    tasks: Iterable[AgentTask], store: MemoryStore | None, prices: PriceTable
) -> CostReport:
    """The figures of every task with tokens, a cost or a session, in task order."""
    rows: list[TaskCost] = []
    for task in tasks:
        if not (task.tokens or task.cost_usd or task.session_id):
            continue
        row = TaskCost(
            task.id,
            task.title,
            task.status.value,
            task.session_id,
            recorded_tokens=task.tokens,
            recorded_cost_usd=task.cost_usd,
        )
        if store is not None and task.session_id:
            _session_usage(store, prices, row)
        rows.append(row)
    return CostReport(rows, store is not None)


def project_costs(project: ProjectPaths, config: Config) -> CostReport:
    """``task_costs`` for a project: its task state, and its memory when it has one."""
    from coditect.execution.pricing import PriceTable
    from coditect.memory.store import MemoryStore
    from coditect.tasks.store import StateStore

    tasks = StateStore(project.state_dir).load().orchestrator.tasks.values()
    prices = PriceTable(config.llm.prices)
    path = project.dir / "memory.db"
    if not path.exists():
        return task_costs(tasks, None, prices)
    with MemoryStore(path) as store:
        return task_costs(tasks, store, prices)

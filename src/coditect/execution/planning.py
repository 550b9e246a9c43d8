"""What ``coditect run --dry-run`` prints: the tasks the run would start, how each would
run, the waves and critical path of that work, and what it may cost.

The cost estimate is honest about what it knows: for each executor, the average cost of
a task that executor completed in this project's past runs (their ``summary.json``);
``script`` and ``interactive`` spend nothing; an executor without history is counted as
unknown rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from coditect.execution.records import Lease, is_run_id, lease_problem
from coditect.execution.scheduling import Scope, choose
from coditect.execution.worktrees import edits_code
from coditect.tasks.graph import DEFAULT_HOURS
from coditect.tasks.model import Status

if TYPE_CHECKING:
    from coditect.execution.runner import Runner
    from coditect.tasks.orchestrator import Orchestrator

__all__ = [
    "FREE_EXECUTORS",
    "dry_run_plan",
    "estimate_cost",
    "past_costs",
    "past_summaries",
    "scope_critical_path",
    "scope_waves",
]

FREE_EXECUTORS = frozenset({"script", "interactive"})
"""Executors that spend no tokens: shell commands, or a person."""


def scope_waves(orchestrator: Orchestrator, ids: set[str]) -> list[list[str]]:
    """The execution waves of the remaining work, kept to ``ids`` (empty waves dropped)."""
    kept = [[i for i in wave if i in ids] for wave in orchestrator.graph.waves()]
    return [wave for wave in kept if wave]


def scope_critical_path(orchestrator: Orchestrator, scope: Scope) -> tuple[list[str], float]:
    """The longest chain of remaining work inside the scope, by estimated hours."""
    graph = orchestrator.graph
    inside = [graph.remaining[i] and graph.ids[i] in scope for i in range(len(graph.ids))]
    weights = [
        DEFAULT_HOURS if t.estimated_hours is None else float(t.estimated_hours)
        for t in graph.tasks.values()
    ]
    chain = [0.0] * len(graph.ids)
    following = [-1] * len(graph.ids)
    for i in reversed(graph.topological_order):
        if not inside[i]:
            continue
        best = max((j for j in graph.dependents[i] if inside[j]), key=chain.__getitem__, default=-1)
        chain[i] = weights[i] + (chain[best] if best >= 0 else 0.0)
        following[i] = best
    starts = [i for i in range(len(graph.ids)) if inside[i]]
    if not starts:
        return [], 0.0
    node = max(starts, key=lambda i: (chain[i], -i))
    hours = chain[node]
    path = []
    while node >= 0:
        path.append(graph.ids[node])
        node = following[node]
    return path, hours


def past_summaries(runs_dir: Path) -> Iterator[dict[str, Any]]:
    """The summaries of the project's finished runs."""
    if not runs_dir.is_dir():
        return
    for run_dir in sorted(runs_dir.iterdir()):
        if not is_run_id(run_dir.name):
            continue
        try:
            data = orjson.loads((run_dir / "summary.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        if isinstance(data, dict):
            yield data


def past_costs(summaries: Iterable[dict[str, Any]]) -> dict[str, tuple[float, int]]:
    """Per executor: the average cost of a task it completed, and over how many tasks."""
    costs: dict[str, list[float]] = {}
    for summary in summaries:
        for row in summary.get("tasks") or ():
            if row.get("status") == "completed" and row.get("executor"):
                costs.setdefault(str(row["executor"]), []).append(float(row.get("cost_usd") or 0))
    return {name: (sum(values) / len(values), len(values)) for name, values in costs.items()}


def estimate_cost(
    executors: Iterable[str], history: dict[str, tuple[float, int]]
) -> dict[str, Any]:
    """What tasks on these executors may cost, from ``past_costs``."""
    total = 0.0
    unknown: dict[str, int] = {}
    for name in executors:
        if name in FREE_EXECUTORS:
            continue
        if name in history:
            total += history[name][0]
        else:
            unknown[name] = unknown.get(name, 0) + 1
    return {
        "usd": round(total, 4),
        "unknown": unknown,
        "history": {
            name: {"average_usd": round(avg, 6), "tasks": n}
            for name, (avg, n) in sorted(history.items())
        },
    }


def _recoverable(runner: Runner, orchestrator: Orchestrator) -> list[str]:
    """Tasks in the scope held by dead runs: the run would take them back."""
    ids = []
    for task_id, node in orchestrator.tasks.nodes.items():
        if node.status is Status.IN_PROGRESS and task_id in runner.scope:
            run_id = orchestrator.tasks[task_id].run_id
            if run_id is not None and lease_problem(
                Lease.read(runner.runs_dir / run_id / "lease.json"),
                stale_after=runner.options.stale_after,
            ):
                ids.append(task_id)
    return ids


def dry_run_plan(runner: Runner, orchestrator: Orchestrator, todo: list[str]) -> dict[str, Any]:
    """The plan of the run ``runner`` would make; reads, never writes."""
    recoverable = _recoverable(runner, orchestrator)
    rows: list[dict[str, Any]] = []
    for task_id in [*todo, *recoverable]:
        task = orchestrator.tasks[task_id]
        choice = choose(task, runner.agents, runner.settings.executor, runner.assign)
        rows.append(
            {
                "id": task_id,
                "title": task.title,
                "executor": choice.executor,
                "agent": choice.agent.name if choice.agent is not None else None,
                "assigned": choice.assigned is not None,
                "why": choice.reason,
                "worktree": runner.options.worktrees
                and edits_code(choice.executor, task.output_files),
                "recovered": task_id in recoverable,
            }
        )
    path, hours = scope_critical_path(orchestrator, runner.scope)
    history = past_costs(past_summaries(runner.runs_dir))
    return {
        "dry_run": True,
        "scope": runner.scope.description,
        "parallel": runner.settings.parallel,
        "budget": runner.tracker.budget.to_dict(),
        "tasks": rows,
        "waves": scope_waves(orchestrator, {row["id"] for row in rows}),
        "critical_path": {"ids": path, "hours": hours},
        "estimated_cost": estimate_cost((row["executor"] for row in rows), history),
    }

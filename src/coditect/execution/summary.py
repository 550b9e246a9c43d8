"""How a run ended: the tally of each task it touched, what is left undone and why, the
outcome, and the error (with its exit code) that the outcome means for the CLI.

Outcomes, in the order they win: ``interrupted`` (Ctrl-C; exit 130), ``budget_exceeded``
(exit 1), ``failed`` (a task failed after its retries; exit 1), ``incomplete`` (tasks of
the run's scope are left that it could not start; exit 1), ``completed`` (exit 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from coditect.errors import CoditectError, WorkFailedError
from coditect.tasks.model import Status

if TYPE_CHECKING:
    from coditect.execution.runner import Runner
    from coditect.execution.scheduling import Scope
    from coditect.tasks.orchestrator import Orchestrator

__all__ = [
    "RunSummary",
    "TaskTally",
    "outcome_error",
    "run_options",
    "summary_data",
    "unfinished",
]


@dataclass
class TaskTally:
    """One task as this run saw it."""

    id: str
    title: str
    executor: str
    agent: str | None
    attempts: int = 0
    requests: int = 0
    """Requests the executor made over all attempts (api: 1 + its own retries each)."""
    status: str = "running"
    duration_s: float = 0.0
    tokens: int = 0
    cost_usd: float = 0.0
    error: str | None = None
    branch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "executor": self.executor,
            "agent": self.agent,
            "attempts": self.attempts,
            "requests": self.requests,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
            "error": self.error,
            "branch": self.branch,
        }


def _why(orchestrator: Orchestrator, task_id: str, scope: Scope, live: Mapping[str, object]) -> str:
    """Why a task of the scope is not done at the end of the run."""
    task = orchestrator.tasks[task_id]
    if task.status is Status.FAILED:
        return (
            "failed: " + (task.error or "").strip().splitlines()[0][:200]
            if task.error
            else "failed"
        )
    if task.status is Status.BLOCKED:
        return "marked blocked"
    if task.status is Status.IN_PROGRESS:
        if task.run_id is None:
            return "in progress, started by hand (or waiting for a person)"
        return f"held by run {task.run_id}" + (" (alive)" if task.run_id in live else "")
    nodes = orchestrator.tasks.nodes
    waiting = [d for d in task.dependencies if nodes[d].status is not Status.COMPLETED]
    if not waiting:
        return "not started"
    first = waiting[0]
    where = "" if first in scope else ", outside this run"
    more = f" and {len(waiting) - 1} more" if len(waiting) > 1 else ""
    return f"waits for {first} ({nodes[first].status.value}{where}){more}"


def unfinished(
    orchestrator: Orchestrator, scope: Scope, live: Mapping[str, object]
) -> list[dict[str, str]]:
    """The tasks of the scope that are neither completed nor cancelled, and why."""
    rows = []
    for task_id, node in orchestrator.tasks.nodes.items():
        if task_id in scope and node.status not in (Status.COMPLETED, Status.CANCELLED):
            rows.append(
                {
                    "id": task_id,
                    "status": node.status.value,
                    "why": _why(orchestrator, task_id, scope, live),
                }
            )
    return rows


def outcome_of(*, interrupted: bool, budget: bool, failed: int, left: int) -> str:
    if interrupted:
        return "interrupted"
    if budget:
        return "budget_exceeded"
    if failed:
        return "failed"
    if left:
        return "incomplete"
    return "completed"


@dataclass
class RunSummary:
    """The ``summary.json`` of a run."""

    data: dict[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.data["run_id"])

    @property
    def outcome(self) -> str:
        return str(self.data["outcome"])

    def to_dict(self) -> dict[str, Any]:
        return self.data


def outcome_error(summary: RunSummary, budget_error: CoditectError | None) -> CoditectError | None:
    """The error the CLI exits with for ``summary``; None when the run completed (or was
    interrupted, which the CLI maps to exit 130 itself)."""
    data = summary.data
    outcome = summary.outcome
    if outcome == "budget_exceeded" and budget_error is not None:
        return budget_error
    if outcome == "failed":
        failed = [row["id"] for row in data["tasks"] if row["status"] == "failed"]
        return WorkFailedError(
            f"{len(failed)} task{'s' if len(failed) != 1 else ''} failed: "
            + ", ".join(failed[:10])
            + (" …" if len(failed) > 10 else ""),
            f"See `coditect runs show {summary.run_id}` and the logs in "
            f".coditect/runs/{summary.run_id}/tasks/; fix the cause, then "
            "`coditect task retry ID` and run again.",
        )
    if outcome == "incomplete":
        left = data["not_done"]
        first = left[0]
        return WorkFailedError(
            f"{len(left)} task{'s' if len(left) != 1 else ''} of the run could not start; "
            f"{first['id']}: {first['why']}",
            f"`coditect runs show {summary.run_id}` lists them; `coditect report` shows "
            "what is blocked.",
        )
    return None


def _reason(outcome: str, runner: Runner, not_done: list[dict[str, str]], failed: int) -> str:
    if outcome == "interrupted":
        return "stopped by Ctrl-C"
    if outcome == "budget_exceeded" and runner.breach is not None:
        return runner.breach.message
    if outcome == "failed":
        return f"{failed} task{'s' if failed != 1 else ''} failed"
    if outcome == "incomplete":
        return f"{len(not_done)} task{'s' if len(not_done) != 1 else ''} could not start"
    if outcome == "completed":
        return "every task of the run is completed" if runner.todo else "nothing to do"
    return "the run stopped on an error"


def run_options(runner: Runner) -> dict[str, Any]:
    """The options of a run, as its first event and its summary record them."""
    return {
        "scope": runner.scope.description,
        "only": list(runner.options.only),
        "until": runner.options.until,
        "phase": runner.options.phase.value if runner.options.phase else None,
        "parallel": runner.settings.parallel,
        "executor": runner.settings.executor,
        "max_retries": runner.settings.max_retries,
        "timeout": runner.settings.timeout,
        "worktrees": runner.options.worktrees,
        "budget": runner.tracker.budget.to_dict(),
        "tasks": runner.todo,
    }


def summary_data(
    runner: Runner, outcome: str, not_done: list[dict[str, str]], error: BaseException | None
) -> dict[str, Any]:
    """The ``summary.json`` of the run ``runner`` carried out."""
    ended = datetime.now(UTC)
    tallies = [t.to_dict() for t in runner.tallies.values()]
    failed = sum(t["status"] == "failed" for t in tallies)
    data: dict[str, Any] = {
        "run_id": runner.run_id,
        "outcome": outcome,
        "reason": _reason(outcome, runner, not_done, failed),
        "started_at": runner.started_at.isoformat(),
        "ended_at": ended.isoformat(),
        "duration_s": round((ended - runner.started_at).total_seconds(), 3),
        "options": run_options(runner),
        "totals": {
            "tasks": runner.todo,
            "started": len(tallies),
            "completed": sum(t["status"] == "completed" for t in tallies),
            "failed": failed,
            "attempts": sum(t["attempts"] for t in tallies),
            "retries": sum(max(0, t["attempts"] - 1) for t in tallies),
            "requests": sum(t["requests"] for t in tallies),
            "request_retries": sum(max(0, t["requests"] - t["attempts"]) for t in tallies),
            "stopped": sum(t["status"] == "stopped" for t in tallies),
            "tokens": runner.tracker.tokens,
            "cost_usd": round(runner.tracker.cost_usd, 6),
        },
        "budget": runner.breach.to_dict() if runner.breach is not None else None,
        "tasks": tallies,
        "recovered": runner.recovered,
        "left_alone": runner.by_hand,
        "not_done": not_done,
        "worktrees": runner.worktrees.report() if runner.worktrees is not None else [],
    }
    if error is not None:
        data["error"] = f"{type(error).__name__}: {error}"
    return data

"""Deciding what a run does, before and while it runs: its scope, each task's executor and
agent, the plan ``--dry-run`` prints, and taking back the tasks of runs that died.

Nothing here executes anything or writes files; the runner calls these functions inside
its state transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from coditect.errors import AgentNotFoundError, ConflictError
from coditect.execution.base import ExecutionStatus
from coditect.execution.prompt import clip
from coditect.execution.records import Lease, lease_problem
from coditect.tasks.model import AgentTask, Phase, Status

if TYPE_CHECKING:
    from coditect.agents.registry import Agent
    from coditect.execution.attempt import Attempt
    from coditect.execution.base import ExecutionResult
    from coditect.paths import ProjectPaths
    from coditect.tasks.orchestrator import Orchestrator

__all__ = [
    "AgentLookup",
    "Assigner",
    "Choice",
    "Recovery",
    "Scope",
    "choose",
    "default_agents",
    "recover",
    "select_scope",
    "settle",
    "waits_for_live_runs",
]

OUTPUT_CHARS = 16_000
"""How much of an execution's output the task keeps (its beginning and end)."""
ERROR_CHARS = 4_000
"""How much of an error the task keeps."""

NO_AGENT_EXECUTORS = frozenset({"script"})
"""Executors that do not read an agent: a task naming an unknown agent still runs."""


class AgentLookup(Protocol):
    def get(self, name: str) -> Agent: ...
    def __len__(self) -> int: ...


Assigner = Callable[[AgentTask], "tuple[str, str] | None"]
"""Picks an agent for a task that has none: (agent name, why), or None."""


# -- scope -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The tasks a run may start; ``ids`` None means every task, including tasks added
    while the run goes on."""

    ids: frozenset[str] | None = None
    description: str = "all tasks"

    def __contains__(self, task_id: object) -> bool:
        return self.ids is None or task_id in self.ids

    def members(self, orchestrator: Orchestrator) -> list[str]:
        return [i for i in orchestrator.tasks if i in self]


def _closure(orchestrator: Orchestrator, task_id: str) -> set[str]:
    """``task_id`` and every task it depends on, directly or not."""
    nodes = orchestrator.tasks.nodes
    seen = {task_id}
    stack = [task_id]
    while stack:
        for dep in nodes[stack.pop()].dependencies:
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def select_scope(
    orchestrator: Orchestrator,
    *,
    only: Iterable[str] = (),
    until: str | None = None,
    phase: Phase | None = None,
) -> Scope:
    """The scope the options name; each option narrows it further.

    ``only``: just these tasks; a dependency of one of them must be completed already or
    be named too. ``until``: the task and everything it depends on. ``phase``: the tasks
    of that phase.
    """
    only_ids = list(dict.fromkeys(only))
    if not only_ids and until is None and phase is None:
        return Scope()
    ids: set[str] = set(orchestrator.tasks)
    parts = []
    if only_ids:
        for task_id in only_ids:
            orchestrator.get(task_id)
        ids &= set(only_ids)
        parts.append("only " + ", ".join(only_ids))
    if until is not None:
        orchestrator.get(until)
        ids &= _closure(orchestrator, until)
        parts.append(f"until {until}")
    if phase is not None:
        ids &= {
            t
            for t, node in orchestrator.tasks.nodes.items()
            if _phase(orchestrator, t, node) is phase
        }
        parts.append(f"phase {phase.value}")
    if only_ids:
        _check_only(orchestrator, only_ids, ids)
    return Scope(frozenset(ids), "; ".join(parts))


def _phase(orchestrator: Orchestrator, task_id: str, node: object) -> Phase:
    phase = getattr(node, "phase", None)
    return phase if isinstance(phase, Phase) else orchestrator.tasks[task_id].phase


def _check_only(orchestrator: Orchestrator, named: list[str], ids: set[str]) -> None:
    nodes = orchestrator.tasks.nodes
    for task_id in named:
        if task_id not in ids or nodes[task_id].status is Status.COMPLETED:
            continue
        for dep in nodes[task_id].dependencies:
            if dep not in ids and nodes[dep].status is not Status.COMPLETED:
                raise ConflictError(
                    f"task {task_id} depends on {dep}, which is {nodes[dep].status.value} "
                    "and not part of this run",
                    f"Add {dep} to --only, or run with --until {task_id} to include "
                    "everything it needs.",
                )


# -- executor and agent --------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """How one task will run."""

    executor: str
    agent: Agent | None
    assigned: str | None = None
    """The agent the dispatcher picked for a task that had none (not yet recorded)."""
    reason: str = ""


def executor_for(task: AgentTask, agent: Agent | None, default: str) -> str:
    """task.executor > the agent's executor > script (commands, no agent) > the default."""
    if task.executor:
        return task.executor
    if agent is not None and agent.executor:
        return agent.executor
    if task.commands and task.agent is None:
        return "script"
    return default


def choose(
    task: AgentTask, agents: AgentLookup | None, default: str, assign: Assigner | None
) -> Choice:
    """The executor and agent of ``task``; a task that names no agent, no executor and no
    commands gets one from ``assign``. AgentNotFoundError when the agent it needs is
    missing."""
    name = task.agent
    assigned = reason = None
    if (
        name is None
        and not task.executor
        and not task.commands
        and assign is not None
        and agents is not None
        and len(agents)
    ):
        picked = assign(task)
        if picked is not None:
            name, reason = picked
            assigned = name
    agent = None
    if name is not None:
        if agents is None:
            if task.executor not in NO_AGENT_EXECUTORS:
                raise AgentNotFoundError(f"task {task.id}: no agent called {name!r}")
        else:
            try:
                agent = agents.get(name)
            except AgentNotFoundError:
                if task.executor not in NO_AGENT_EXECUTORS:
                    raise
    return Choice(executor_for(task, agent, default), agent, assigned, reason or "")


# -- recovery ------------------------------------------------------------------------------


@dataclass
class Recovery:
    """What a look at the tasks in progress found."""

    recovered: list[dict[str, str]] = field(default_factory=list)
    """Tasks of dead runs put back to pending: task, run and why the run is dead."""
    by_hand: list[str] = field(default_factory=list)
    """In progress without a run: started by hand, left alone."""
    live: dict[str, list[str]] = field(default_factory=dict)
    """Tasks held by other runs that are alive, by run."""


def recover(
    orchestrator: Orchestrator, runs_dir: Path, own_run: str, stale_after: float
) -> Recovery:
    """Put the tasks that dead runs left in progress back to pending, with a history note;
    leave alone tasks started by hand and tasks of live runs (including ``own_run``)."""
    found = Recovery()
    held: dict[str, list[str]] = {}
    for task_id, node in orchestrator.tasks.nodes.items():
        if node.status is not Status.IN_PROGRESS:
            continue
        run_id = orchestrator.tasks[task_id].run_id
        if run_id is None:
            found.by_hand.append(task_id)
        elif run_id != own_run:
            held.setdefault(run_id, []).append(task_id)
    for run_id, task_ids in held.items():
        problem = lease_problem(
            Lease.read(runs_dir / run_id / "lease.json"), stale_after=stale_after
        )
        if not problem:
            found.live[run_id] = task_ids
            continue
        for task_id in task_ids:
            orchestrator.set_status(
                task_id, Status.PENDING, note=f"recovered: run {run_id} died ({problem})"
            )
            orchestrator.update(task_id, run_id=None)
            found.recovered.append({"task": task_id, "run": run_id, "reason": problem})
    return found


def default_agents(
    project: ProjectPaths, assign: Assigner | None
) -> tuple[AgentLookup, Assigner | None]:
    """The project's agent registry, and the dispatcher for tasks that name no agent."""
    from coditect.agents.dispatch import Dispatcher
    from coditect.agents.registry import Registry

    registry = Registry.load(project)
    if assign is None and len(registry):
        dispatcher = Dispatcher(registry)

        def assign_by_dispatch(task: AgentTask) -> tuple[str, str] | None:
            picked = dispatcher.assign(task)
            return None if picked is None else (picked.name, picked.explain())

        assign = assign_by_dispatch
    return registry, assign


def waits_for_live_runs(
    orchestrator: Orchestrator,
    scope: Scope,
    live: Mapping[str, list[str]],
    skip: Collection[str] = (),
) -> bool:
    """Whether live runs hold tasks of the scope, or tasks that its pending ones (other
    than ``skip``) need: then a run with nothing to start waits rather than ends."""
    held = {task_id for ids in live.values() for task_id in ids}
    if not held:
        return False
    if any(task_id in scope for task_id in held):
        return True
    nodes = orchestrator.tasks.nodes
    stack = [
        task_id
        for task_id, node in nodes.items()
        if task_id in scope and node.status is Status.PENDING and task_id not in skip
    ]
    seen = set(stack)
    while stack:
        for dep in nodes[stack.pop()].dependencies:
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return not seen.isdisjoint(held)


# -- recording an attempt ------------------------------------------------------------------


def settle(
    orchestrator: Orchestrator,
    attempt: Attempt,
    result: ExecutionResult,
    *,
    run_id: str,
    stop_reason: str,
    default_retries: int,
    backoff: float,
) -> tuple[str, float]:
    """Write an attempt's result into its task: what became of the task, and for a
    retry, the seconds to wait before it.

    completed · retrying (failed, then back to pending) · failed (no retries left) ·
    stopped (cancelled by the run: back to pending) · waiting (a person has it: stays in
    progress, without a run) · deleted / changed elsewhere (someone else changed the
    task meanwhile: only the tokens and cost are added).
    """
    task_id = attempt.job.task.id
    if task_id not in orchestrator.tasks:
        return "deleted", 0.0
    task = orchestrator.tasks[task_id]
    changes: dict[str, Any] = {
        "tokens": task.tokens + result.usage.total,
        "cost_usd": task.cost_usd + result.cost_usd,
    }
    if task.status is not Status.IN_PROGRESS or task.run_id != run_id:
        orchestrator.update(task_id, **changes)
        return f"changed elsewhere ({task.status.value})", 0.0
    changes["run_id"] = None
    if result.session_id:
        changes["session_id"] = result.session_id
    if result.ok:
        where = str(attempt.job.log_dir) if attempt.job.log_dir else ""
        changes["output"] = clip(result.output, OUTPUT_CHARS, where)
    orchestrator.update(task_id, **changes)
    if result.ok:
        orchestrator.complete(task_id, note=f"run {run_id}")
        return "completed", 0.0
    if result.status is ExecutionStatus.WAITING:
        return "waiting", 0.0
    if result.status is ExecutionStatus.CANCELLED and attempt.job.cancel.is_set():
        orchestrator.set_status(task_id, Status.PENDING, note=stop_reason)
        return "stopped", 0.0
    retries = task.max_retries if task.max_retries is not None else default_retries
    orchestrator.fail(task_id, clip(result.error or "failed", ERROR_CHARS))
    if attempt.number > retries:
        return "failed", 0.0
    delay = backoff * 2 ** (attempt.number - 1)
    orchestrator.retry(task_id, note=f"retry {attempt.number} of {retries}, after {delay:g}s")
    return "retrying", delay

"""The orchestrator: a project's tasks and every operation on them, without I/O.

It enforces the rules that span tasks (unique ids, known dependencies, no cycles,
dependencies completed before a start) and keeps one graph analysis until the next
change, so ``ready``/``next`` on a loaded project are queries, not recomputations.
Every mutating method validates first and changes nothing when it raises.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from coditect.errors import ConflictError, TaskNotFoundError, TransitionError, ValidationError
from coditect.tasks.graph import CriticalPath, TaskGraph
from coditect.tasks.model import AgentTask, Phase, Priority, Status, Transition, new_task_id
from coditect.tasks.table import TaskTable

__all__ = ["DeleteResult", "Orchestrator", "Report", "TaskFilter"]


@dataclass(frozen=True)
class TaskFilter:
    """Which tasks to keep; an empty field keeps all."""

    status: Status | None = None
    phase: Phase | None = None
    priority: Priority | None = None
    agent: str | None = None
    tag: str | None = None

    def __call__(self, task: AgentTask) -> bool:
        return (
            (self.status is None or task.status is self.status)
            and (self.phase is None or task.phase is self.phase)
            and (self.priority is None or task.priority is self.priority)
            and (self.agent is None or task.agent == self.agent)
            and (self.tag is None or self.tag in task.tags)
        )


@dataclass(frozen=True)
class DeleteResult:
    deleted: str
    detached: list[str]
    """Tasks that depended on the deleted one and lost that dependency."""


@dataclass
class Report:
    """Where a project stands; ``to_dict`` is the ``--json`` shape of ``coditect report``."""

    total: int
    by_status: dict[str, int]
    by_priority: dict[str, int]
    by_phase: dict[str, int]
    by_agent: dict[str, int]
    completion_percent: float
    estimated_hours: float
    remaining_hours: float
    unestimated: int
    critical_path: CriticalPath
    blocked: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    next: AgentTask | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_status": self.by_status,
            "by_priority": self.by_priority,
            "by_phase": self.by_phase,
            "by_agent": self.by_agent,
            "completion_percent": self.completion_percent,
            "estimated_hours": self.estimated_hours,
            "remaining_hours": self.remaining_hours,
            "unestimated_tasks": self.unestimated,
            "critical_path": {"ids": self.critical_path.ids, "hours": self.critical_path.hours},
            "blocked": self.blocked,
            "failed": self.failed,
            "next": self.next.to_dict() if self.next else None,
        }


class Orchestrator:
    """The tasks of one project, in creation order, and the rules that govern them."""

    def __init__(self, tasks: Iterable[AgentTask] | TaskTable = ()) -> None:
        if isinstance(tasks, TaskTable):
            self.tasks = tasks
        else:
            self.tasks = TaskTable()
            for task in tasks:
                if task.id in self.tasks:
                    raise ConflictError(f"two tasks have the id {task.id}")
                self.tasks[task.id] = task
        self._graph: TaskGraph | None = None

    # -- reading -------------------------------------------------------------------------

    @property
    def graph(self) -> TaskGraph:
        """The analysis of the current tasks, built on first use after a change."""
        if self._graph is None:
            self._graph = TaskGraph(self.tasks.nodes)
        return self._graph

    def _changed(self) -> None:
        self._graph = None

    def get(self, task_id: str) -> AgentTask:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise TaskNotFoundError(f"no task with id {task_id}") from None

    def select(self, keep: TaskFilter | None = None) -> list[AgentTask]:
        return [t for t in self.tasks.values() if keep is None or keep(t)]

    def ready(self, keep: TaskFilter | None = None) -> list[AgentTask]:
        """The ready set, best first (see ``TaskGraph.ready`` for the order)."""
        ready = [self.tasks[i] for i in self.graph.ready()]
        return ready if keep is None else [t for t in ready if keep(t)]

    def next(self, keep: TaskFilter | None = None) -> AgentTask | None:
        """The best ready task; decodes only the tasks it has to look at."""
        for task_id in self.graph.ready():
            task = self.tasks[task_id]
            if keep is None or keep(task):
                return task
        return None

    def dependents(self, task_id: str) -> list[str]:
        graph = self.graph
        return [graph.ids[j] for j in graph.dependents[graph.index[task_id]]]

    # -- changing ------------------------------------------------------------------------

    def new_id(self, title: str) -> str:
        return new_task_id(title, self.tasks)

    def add(self, task: AgentTask) -> AgentTask:
        """Add a new task; its id must be free and its dependencies must exist."""
        if task.id in self.tasks:
            raise ConflictError(
                f"a task with id {task.id} already exists",
                "Choose another id, or use `coditect task update` to change that task.",
            )
        TaskGraph({**self.tasks.nodes, task.id: task}).check()
        if not task.history:
            task.history.append(Transition(task.created_at, None, task.status, "created"))
        self.tasks[task.id] = task
        self._changed()
        return task

    def put(self, tasks: Iterable[AgentTask]) -> None:
        """Add or replace several tasks at once, validating the whole graph first."""
        staged = {task.id: task for task in tasks}
        if not staged:
            return
        TaskGraph({**self.tasks.nodes, **staged}).check()
        self.tasks.update(staged)
        self._changed()

    def update(self, task_id: str, **changes: Any) -> AgentTask:
        """Change fields of a task (not its id, status or history), validating the result."""
        current = self.get(task_id)
        unknown = changes.keys() - {f.name for f in fields(AgentTask)}
        if unknown:
            raise ValidationError(f"unknown task field {', '.join(sorted(unknown))}")
        forbidden = {"id", "status", "history", "attempts", "created_at"} & changes.keys()
        if forbidden:
            raise ValidationError(
                f"{', '.join(sorted(forbidden))} cannot be changed by an update",
                "Use start, complete, fail, cancel or retry to change a task's status.",
            )
        updated = replace(current, **changes)  # replace() runs validate()
        if updated.dependencies != current.dependencies:
            TaskGraph({**self.tasks.nodes, task_id: updated}).check()
        self.tasks[task_id] = updated
        self._changed()
        return updated

    def delete(self, task_id: str, *, force: bool = False) -> DeleteResult:
        """Delete a task; with dependents it needs ``force``, which detaches them."""
        self.get(task_id)
        dependents = self.dependents(task_id)
        if dependents and not force:
            raise ConflictError(
                f"task {task_id} has dependents: {', '.join(dependents)}",
                "Pass --force to delete it anyway; those tasks then lose this dependency.",
            )
        for dep_id in dependents:
            task = self.tasks[dep_id]
            task.dependencies = [d for d in task.dependencies if d != task_id]
        del self.tasks[task_id]
        self._changed()
        return DeleteResult(task_id, dependents)

    def start(self, task_id: str, *, note: str = "") -> AgentTask:
        task = self.get(task_id)
        unmet = [d for d in task.dependencies if self.tasks[d].status is not Status.COMPLETED]
        if unmet and task.status is Status.PENDING:
            raise TransitionError(
                f"task {task_id} cannot start: dependencies not completed: {', '.join(unmet)}",
                "Complete those tasks first; `coditect task ready` lists what can start now.",
            )
        return self._move(task, Status.IN_PROGRESS, note=note)

    def complete(self, task_id: str, *, note: str = "", force: bool = False) -> AgentTask:
        return self._move(self.get(task_id), Status.COMPLETED, note=note, force=force)

    def fail(self, task_id: str, error: str) -> AgentTask:
        if not error.strip():
            raise ValidationError("a failure needs an error message")
        return self._move(self.get(task_id), Status.FAILED, note=error)

    def cancel(self, task_id: str, *, note: str = "") -> AgentTask:
        return self._move(self.get(task_id), Status.CANCELLED, note=note)

    def retry(self, task_id: str, *, note: str = "") -> AgentTask:
        task = self.get(task_id)
        if task.status not in (Status.FAILED, Status.CANCELLED):
            raise TransitionError(
                f"task {task_id} is {task.status.value}; only failed or cancelled tasks retry"
            )
        return self._move(task, Status.PENDING, note=note or "retry")

    def set_status(
        self, task_id: str, status: Status, *, note: str = "", force: bool = False
    ) -> AgentTask:
        """Any transition by name, with the same rules as the named commands."""
        if status is Status.IN_PROGRESS:
            return self.start(task_id, note=note)
        if status is Status.FAILED:
            return self.fail(task_id, note)
        return self._move(self.get(task_id), status, note=note, force=force)

    def _move(
        self, task: AgentTask, to: Status, *, note: str = "", force: bool = False
    ) -> AgentTask:
        task.transition(to, note=note, force=force)
        self._changed()
        return task

    # -- summarising ---------------------------------------------------------------------

    def report(self) -> Report:
        tasks = list(self.tasks.values())
        graph = self.graph
        hours = [t.estimated_hours or 0.0 for t in tasks]
        remaining = graph.remaining
        done = sum(t.status is Status.COMPLETED for t in tasks)
        active = sum(t.status is not Status.CANCELLED for t in tasks)
        return Report(
            total=len(tasks),
            by_status=_count(t.status.value for t in tasks),
            by_priority=_count(t.priority.value for t in tasks),
            by_phase=_count(t.phase.value for t in tasks),
            by_agent=_count(t.agent or "(unassigned)" for t in tasks),
            completion_percent=round(100.0 * done / active, 1) if active else 0.0,
            estimated_hours=sum(hours),
            remaining_hours=sum(h for h, r in zip(hours, remaining, strict=True) if r),
            unestimated=sum(t.estimated_hours is None for t in tasks),
            critical_path=graph.critical_path,
            blocked=self._blocked(),
            failed=[
                {"id": t.id, "title": t.title, "error": t.error, "attempts": t.attempts}
                for t in tasks
                if t.status is Status.FAILED
            ],
            next=self.next(),
        )

    def _blocked(self) -> list[dict[str, Any]]:
        """Tasks marked blocked, and pending tasks stuck behind a blocked, failed or
        cancelled dependency, each with the dependencies in its way."""
        stuck = (Status.BLOCKED, Status.FAILED, Status.CANCELLED)
        rows = []
        for task in self.tasks.values():
            if task.status is Status.BLOCKED:
                waiting = [
                    d for d in task.dependencies if self.tasks[d].status is not Status.COMPLETED
                ]
                rows.append(_blocked_row(task, waiting, _last_note(task), marked=True))
            elif task.status is Status.PENDING:
                blockers = [d for d in task.dependencies if self.tasks[d].status in stuck]
                if blockers:
                    rows.append(_blocked_row(task, blockers, "", marked=False))
        return rows


def _blocked_row(task: AgentTask, by: list[str], reason: str, *, marked: bool) -> dict[str, Any]:
    return {
        "id": task.id,
        "title": task.title,
        "marked": marked,
        "blocked_by": by,
        "reason": reason,
    }


def _count(values: Iterable[str]) -> dict[str, int]:
    return dict(Counter(values).most_common())


def _last_note(task: AgentTask) -> str:
    for entry in reversed(task.history):
        if entry.to_status is Status.BLOCKED:
            return entry.note
    return ""

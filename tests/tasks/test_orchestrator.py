"""The orchestrator: the rules that span tasks, every mutation, queries and the report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from coditect.errors import (
    CoditectError,
    ConflictError,
    CycleError,
    DependencyError,
    TaskNotFoundError,
    TransitionError,
    ValidationError,
)
from coditect.tasks import model
from coditect.tasks.graph import CriticalPath
from coditect.tasks.model import AgentTask, Phase, Priority, Status, Transition, new_task_id
from coditect.tasks.orchestrator import (
    DeleteResult,
    Orchestrator,
    TaskFilter,
)


def t(task_id: str, *deps: str, **fields: Any) -> AgentTask:
    fields.setdefault("title", f"Task {task_id}")
    return AgentTask(id=task_id, dependencies=list(deps), **fields)


def snapshot(orch: Orchestrator) -> list[dict[str, Any]]:
    return [task.to_dict() for task in orch.tasks.values()]


@contextmanager
def refused(
    orch: Orchestrator, error: type[CoditectError], match: str | None = None
) -> Iterator[pytest.ExceptionInfo[CoditectError]]:
    """The block raises ``error`` and leaves every task exactly as it was."""
    before = snapshot(orch)
    ready_before = [task.id for task in orch.ready()]
    with pytest.raises(error, match=match) as info:
        yield info
    assert snapshot(orch) == before
    assert [task.id for task in orch.ready()] == ready_before


@pytest.fixture
def orch() -> Orchestrator:
    """a ← b ← d, a ← c ← d: a diamond, plus a free task e."""
    o = Orchestrator()
    o.add(t("a", estimated_hours=2))
    o.add(t("b", "a", estimated_hours=3, agent="backend", tags=["api"]))
    o.add(t("c", "a", priority=Priority.HIGH, phase=Phase.TESTING, agent="qa", tags=["api", "x"]))
    o.add(t("d", "b", "c"))
    o.add(t("e", priority=Priority.LOW, phase=Phase.DESIGN))
    return o


def ids(tasks: list[AgentTask]) -> list[str]:
    return [task.id for task in tasks]


# -- construction and reading ----------------------------------------------------------------


def test_constructor_keeps_creation_order() -> None:
    o = Orchestrator([t("z"), t("a", "z")])
    assert list(o.tasks) == ["z", "a"]


def test_constructor_refuses_duplicate_ids() -> None:
    with pytest.raises(ConflictError, match="two tasks have the id a"):
        Orchestrator([t("a"), t("b"), t("a")])


def test_get(orch: Orchestrator) -> None:
    assert orch.get("c") is orch.tasks["c"]
    with pytest.raises(TaskNotFoundError, match="no task with id nope") as info:
        orch.get("nope")
    assert "task list" in info.value.hint


def test_dependents(orch: Orchestrator) -> None:
    assert orch.dependents("a") == ["b", "c"]
    assert orch.dependents("b") == ["d"]
    assert orch.dependents("d") == []


def test_graph_is_cached_until_a_change(orch: Orchestrator) -> None:
    graph = orch.graph
    assert orch.graph is graph
    orch.start("a")
    assert orch.graph is not graph


# -- add ------------------------------------------------------------------------------------


def test_add_appends_a_created_entry(orch: Orchestrator) -> None:
    task = t("f", "e")
    assert orch.add(task) is task
    assert orch.tasks["f"] is task
    assert list(orch.tasks)[-1] == "f"
    assert task.history == [Transition(task.created_at, None, Status.PENDING, "created")]


def test_add_records_the_initial_status(orch: Orchestrator) -> None:
    task = orch.add(t("f", status=Status.BLOCKED))
    assert task.history == [Transition(task.created_at, None, Status.BLOCKED, "created")]


def test_add_keeps_an_existing_history(orch: Orchestrator) -> None:
    entry = Transition(model.utcnow(), None, Status.PENDING, "imported")
    task = orch.add(t("f", history=[entry]))
    assert task.history == [entry]


def test_add_refuses_a_duplicate_id(orch: Orchestrator) -> None:
    newcomer = t("c", title="Another c")
    with refused(orch, ConflictError, "a task with id c already exists") as info:
        orch.add(newcomer)
    assert "task update" in info.value.hint
    assert orch.tasks["c"].title == "Task c"
    assert newcomer.history == []


def test_add_refuses_an_unknown_dependency(orch: Orchestrator) -> None:
    newcomer = t("f", "a", "ghost")
    with refused(orch, DependencyError, "task f depends on unknown task ghost"):
        orch.add(newcomer)
    assert "f" not in orch.tasks
    assert newcomer.history == []


def test_add_invalidates_the_analysis(orch: Orchestrator) -> None:
    assert ids(orch.ready()) == ["a", "e"]
    orch.add(t("f", priority=Priority.CRITICAL))
    assert ids(orch.ready()) == ["f", "a", "e"]


def test_new_id_avoids_taken_ids(orch: Orchestrator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model.os, "urandom", lambda n: b"\x07" * n)
    taken = new_task_id("Login")
    orch.add(t(taken))
    fresh = orch.new_id("Login")
    assert fresh != taken
    assert fresh.startswith(taken)
    assert fresh not in orch.tasks


# -- update ---------------------------------------------------------------------------------


def test_update_changes_fields(orch: Orchestrator) -> None:
    old = orch.tasks["b"]
    history, created = list(old.history), old.created_at
    updated = orch.update("b", title="Renamed", estimated_hours=4.5, agent="ops", tags=["new"])
    assert orch.get("b") is updated
    assert (updated.title, updated.estimated_hours, updated.agent, updated.tags) == (
        "Renamed",
        4.5,
        "ops",
        ["new"],
    )
    assert updated.history == history
    assert updated.created_at == created
    assert updated.status is Status.PENDING
    assert list(orch.tasks) == ["a", "b", "c", "d", "e"]


def test_update_invalidates_the_analysis(orch: Orchestrator) -> None:
    assert ids(orch.ready()) == ["a", "e"]
    orch.update("e", priority=Priority.CRITICAL)
    assert ids(orch.ready()) == ["e", "a"]


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"id": "z"}, "id"),
        ({"status": Status.COMPLETED}, "status"),
        ({"history": []}, "history"),
        ({"attempts": 3}, "attempts"),
        ({"created_at": model.utcnow()}, "created_at"),
        ({"status": Status.FAILED, "id": "z", "title": "ok"}, "id, status"),
    ],
)
def test_update_cannot_change_identity_or_lifecycle(
    orch: Orchestrator, changes: dict[str, Any], names: str
) -> None:
    with refused(orch, ValidationError, f"^{names} cannot be changed by an update$") as info:
        orch.update("b", **changes)
    assert "start, complete" in info.value.hint


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"title": "  "}, ValidationError, "title"),
        ({"estimated_hours": 0}, ValidationError, "estimated_hours"),
        ({"dependencies": ["a", "ghost"]}, DependencyError, "unknown task ghost"),
        ({"dependencies": ["b"]}, DependencyError, "cannot depend on itself"),
    ],
)
def test_update_refuses_invalid_values(
    orch: Orchestrator, changes: dict[str, Any], error: type[CoditectError], match: str
) -> None:
    with refused(orch, error, match):
        orch.update("b", **changes)


def test_update_refuses_a_cycle_and_changes_nothing(orch: Orchestrator) -> None:
    with refused(orch, CycleError) as info:
        orch.update("a", dependencies=["d"])
    assert set(info.value.cycle) == {"a", "b", "d"} or set(info.value.cycle) == {"a", "c", "d"}
    assert orch.tasks["a"].dependencies == []
    orch.graph.check()


def test_update_to_a_two_cycle(orch: Orchestrator) -> None:
    with refused(orch, CycleError, "a → b → a|b → a → b"):
        orch.update("a", dependencies=["b"])


def test_update_dependencies(orch: Orchestrator) -> None:
    orch.update("e", dependencies=["d"])
    assert orch.dependents("d") == ["e"]
    assert ids(orch.ready()) == ["a"]
    orch.update("d", dependencies=[])
    assert ids(orch.ready()) == ["a", "d"]


def test_update_unknown_task(orch: Orchestrator) -> None:
    with refused(orch, TaskNotFoundError, "nope"):
        orch.update("nope", title="x")


# -- delete ---------------------------------------------------------------------------------


def test_delete_a_task_without_dependents(orch: Orchestrator) -> None:
    assert orch.delete("d") == DeleteResult("d", [])
    assert list(orch.tasks) == ["a", "b", "c", "e"]
    assert orch.dependents("b") == []


def test_delete_with_dependents_needs_force(orch: Orchestrator) -> None:
    with refused(orch, ConflictError, "task a has dependents: b, c") as info:
        orch.delete("a")
    assert "--force" in info.value.hint


def test_forced_delete_detaches_dependents(orch: Orchestrator) -> None:
    orch.complete("c", force=True)
    result = orch.delete("a", force=True)
    assert result == DeleteResult("a", ["b", "c"])
    assert "a" not in orch.tasks
    assert orch.tasks["b"].dependencies == []
    assert orch.tasks["c"].dependencies == []
    assert orch.tasks["d"].dependencies == ["b", "c"]
    orch.graph.check()
    assert ids(orch.ready()) == ["b", "e"]


def test_forced_delete_keeps_other_dependencies(orch: Orchestrator) -> None:
    result = orch.delete("b", force=True)
    assert result.detached == ["d"]
    assert orch.tasks["d"].dependencies == ["c"]


def test_forced_delete_of_a_repeated_dependency_reports_the_dependent_once() -> None:
    o = Orchestrator()
    o.add(t("a"))
    o.add(t("b", "a", "a"))
    assert o.delete("a", force=True) == DeleteResult("a", ["b"])
    assert o.tasks["b"].dependencies == []


def test_delete_unknown_task(orch: Orchestrator) -> None:
    with refused(orch, TaskNotFoundError):
        orch.delete("nope", force=True)


# -- the lifecycle ---------------------------------------------------------------------------


def test_start_needs_completed_dependencies(orch: Orchestrator) -> None:
    with refused(orch, TransitionError, "task d cannot start: .*not completed: b, c") as info:
        orch.start("d")
    assert "task ready" in info.value.hint
    orch.start("a")
    orch.complete("a")
    orch.start("b")
    orch.complete("b")
    with refused(orch, TransitionError, "not completed: c$"):
        orch.start("d")
    orch.cancel("c")
    with refused(orch, TransitionError, "not completed: c$"):  # cancelled is not completed
        orch.start("d")


def test_start(orch: Orchestrator) -> None:
    task = orch.start("a", note="go")
    assert task is orch.tasks["a"]
    assert task.status is Status.IN_PROGRESS
    assert task.attempts == 1
    assert task.started_at is not None
    assert task.history[-1].note == "go"
    assert ids(orch.ready()) == ["e"]


def test_start_of_a_task_that_is_not_pending_uses_the_state_machine(orch: Orchestrator) -> None:
    orch.start("a")
    with refused(orch, TransitionError, "in_progress; it cannot become in_progress"):
        orch.start("a")
    orch.set_status("d", Status.BLOCKED)
    # Its dependencies are unmet too, but the status is what refuses it.
    with refused(orch, TransitionError, "task d is blocked; it cannot become in_progress"):
        orch.start("d")


def test_complete(orch: Orchestrator) -> None:
    orch.start("a")
    task = orch.complete("a", note="shipped")
    assert task.status is Status.COMPLETED
    assert task.completed_at is not None
    assert task.history[-1].note == "shipped"
    assert ids(orch.ready()) == ["c", "b", "e"]


def test_complete_without_start_needs_force(orch: Orchestrator) -> None:
    with refused(orch, TransitionError, "needs --force"):
        orch.complete("e")
    assert orch.complete("e", force=True).status is Status.COMPLETED


def test_fail(orch: Orchestrator) -> None:
    orch.start("a")
    task = orch.fail("a", "compiler crashed")
    assert task.status is Status.FAILED
    assert task.error == "compiler crashed"
    assert task.history[-1].note == "compiler crashed"


@pytest.mark.parametrize("error", ["", "   "])
def test_fail_needs_an_error_message(orch: Orchestrator, error: str) -> None:
    orch.start("a")
    with refused(orch, ValidationError, "needs an error message"):
        orch.fail("a", error)


def test_fail_only_from_in_progress(orch: Orchestrator) -> None:
    with refused(orch, TransitionError, "pending; it cannot become failed"):
        orch.fail("a", "boom")


def test_cancel(orch: Orchestrator) -> None:
    assert orch.cancel("e", note="not needed").status is Status.CANCELLED
    assert orch.tasks["e"].history[-1].note == "not needed"
    orch.complete("a", force=True)
    with refused(orch, TransitionError, "completed; it cannot become cancelled"):
        orch.cancel("a")


def test_retry_from_failed_and_cancelled(orch: Orchestrator) -> None:
    orch.start("a")
    orch.fail("a", "boom")
    task = orch.retry("a")
    assert task.status is Status.PENDING
    assert task.history[-1] == Transition(
        task.history[-1].at, Status.FAILED, Status.PENDING, "retry"
    )
    orch.cancel("e")
    assert orch.retry("e", note="needed after all").history[-1].note == "needed after all"
    assert orch.tasks["e"].status is Status.PENDING
    assert ids(orch.ready()) == ["a", "e"]
    assert orch.start("a").attempts == 2


@pytest.mark.parametrize(
    "prepare",
    [
        lambda o: None,  # pending
        lambda o: o.start("a"),
        lambda o: o.complete("a", force=True),
        lambda o: o.set_status("a", Status.BLOCKED),
    ],
    ids=["pending", "in_progress", "completed", "blocked"],
)
def test_retry_only_from_failed_or_cancelled(
    orch: Orchestrator, prepare: Callable[[Orchestrator], object]
) -> None:
    prepare(orch)
    status = orch.tasks["a"].status.value
    with refused(orch, TransitionError, f"task a is {status}; only failed or cancelled"):
        orch.retry("a")


def test_set_status_in_progress_checks_dependencies(orch: Orchestrator) -> None:
    with refused(orch, TransitionError, "cannot start"):
        orch.set_status("b", Status.IN_PROGRESS)
    task = orch.set_status("a", Status.IN_PROGRESS, note="via set_status")
    assert task.status is Status.IN_PROGRESS
    assert task.attempts == 1
    assert task.history[-1].note == "via set_status"


def test_set_status_failed_takes_the_note_as_error(orch: Orchestrator) -> None:
    orch.start("a")
    with refused(orch, ValidationError, "needs an error message"):
        orch.set_status("a", Status.FAILED)
    assert orch.set_status("a", Status.FAILED, note="oom").error == "oom"


def test_set_status_other_statuses(orch: Orchestrator) -> None:
    task = orch.set_status("e", Status.BLOCKED, note="waiting")
    assert task.status is Status.BLOCKED
    with refused(orch, TransitionError, "needs --force"):
        orch.set_status("e", Status.COMPLETED)
    orch.set_status("e", Status.COMPLETED, force=True)
    with refused(orch, TransitionError, "needs --force"):
        orch.set_status("e", Status.PENDING)
    assert orch.set_status("e", Status.PENDING, force=True).status is Status.PENDING
    assert orch.set_status("e", Status.CANCELLED).status is Status.CANCELLED


def test_lifecycle_on_unknown_task(orch: Orchestrator) -> None:
    for call in (
        lambda: orch.start("x"),
        lambda: orch.complete("x", force=True),
        lambda: orch.fail("x", "e"),
        lambda: orch.cancel("x"),
        lambda: orch.retry("x"),
        lambda: orch.set_status("x", Status.BLOCKED),
    ):
        with refused(orch, TaskNotFoundError, "no task with id x"):
            call()


# -- put ------------------------------------------------------------------------------------


def test_put_adds_and_replaces(orch: Orchestrator) -> None:
    replacement = t("e", "d", title="New e")
    orch.put([replacement, t("f", "e"), t("g", "f")])
    assert list(orch.tasks) == ["a", "b", "c", "d", "e", "f", "g"]
    assert orch.tasks["e"] is replacement
    assert orch.dependents("e") == ["f"]
    assert ids(orch.ready()) == ["a"]


def test_put_validates_the_whole_graph(orch: Orchestrator) -> None:
    # Each task alone would be fine; together with a's new dependency they form a cycle.
    with refused(orch, CycleError):
        orch.put([t("f", "d"), t("a", "f")])
    with refused(orch, DependencyError, "unknown task ghost"):
        orch.put([t("f"), t("g", "ghost")])


def test_put_may_depend_on_tasks_put_later_in_the_batch() -> None:
    o = Orchestrator()
    o.put([t("b", "a"), t("a")])
    assert ids(o.ready()) == ["a"]


# -- select, ready, next ---------------------------------------------------------------------


def test_select(orch: Orchestrator) -> None:
    orch.start("a")
    assert ids(orch.select()) == ["a", "b", "c", "d", "e"]
    assert ids(orch.select(TaskFilter())) == ["a", "b", "c", "d", "e"]
    assert ids(orch.select(TaskFilter(status=Status.IN_PROGRESS))) == ["a"]
    assert ids(orch.select(TaskFilter(status=Status.PENDING))) == ["b", "c", "d", "e"]
    assert ids(orch.select(TaskFilter(phase=Phase.TESTING))) == ["c"]
    assert ids(orch.select(TaskFilter(phase=Phase.DEVELOPMENT))) == ["a", "b", "d"]
    assert ids(orch.select(TaskFilter(priority=Priority.HIGH))) == ["c"]
    assert ids(orch.select(TaskFilter(agent="backend"))) == ["b"]
    assert ids(orch.select(TaskFilter(tag="api"))) == ["b", "c"]
    assert ids(orch.select(TaskFilter(tag="ap"))) == []
    assert ids(orch.select(TaskFilter(tag="api", agent="qa"))) == ["c"]
    assert ids(orch.select(TaskFilter(tag="api", priority=Priority.LOW))) == []


def test_ready_and_next(orch: Orchestrator) -> None:
    assert ids(orch.ready()) == ["a", "e"]
    assert orch.next() is orch.tasks["a"]
    orch.complete("a", force=True)
    # c is high priority; b heads 3h + 1h of work, which matters only among equals.
    assert ids(orch.ready()) == ["c", "b", "e"]
    assert orch.next() is orch.tasks["c"]


def test_ready_and_next_with_a_filter(orch: Orchestrator) -> None:
    orch.complete("a", force=True)
    keep = TaskFilter(tag="api", priority=Priority.MEDIUM)
    assert ids(orch.ready(keep)) == ["b"]
    assert orch.next(keep) is orch.tasks["b"]
    assert ids(orch.ready(TaskFilter(phase=Phase.DESIGN))) == ["e"]
    assert orch.next(TaskFilter(agent="nobody")) is None
    # A filter never adds tasks that are not ready.
    assert orch.ready(TaskFilter(status=Status.COMPLETED)) == []


def test_next_when_nothing_is_ready() -> None:
    assert Orchestrator().next() is None
    o = Orchestrator([t("a", status=Status.IN_PROGRESS), t("b", "a")])
    assert o.ready() == []
    assert o.next() is None


# -- report ---------------------------------------------------------------------------------


@pytest.fixture
def project() -> Orchestrator:
    o = Orchestrator()
    o.add(t("a", estimated_hours=2, agent="backend", phase=Phase.PLANNING))
    o.add(t("b", "a", estimated_hours=3, agent="backend"))
    o.add(t("c", estimated_hours=1, agent="qa", priority=Priority.HIGH))
    o.add(t("d", "c", estimated_hours=0.5))
    o.add(t("e", "b", estimated_hours=2, agent="qa"))
    o.add(t("f", estimated_hours=4, priority=Priority.LOW))
    o.add(t("g", priority=Priority.LOW))
    o.add(t("h", "f"))
    o.add(t("i", "e", "g"))
    o.add(t("j", "b", estimated_hours=1.5, priority=Priority.CRITICAL))
    o.start("a")
    o.complete("a")
    o.start("b")
    o.start("c")
    o.fail("c", "boom")
    o.set_status("e", Status.BLOCKED, note="first")
    o.set_status("e", Status.PENDING)
    o.set_status("e", Status.BLOCKED, note="waiting for the vendor")
    o.cancel("f", note="descoped")
    return o


def test_report(project: Orchestrator) -> None:
    before = snapshot(project)
    report = project.report()
    assert snapshot(project) == before
    assert report.total == 10
    assert report.by_status == {
        "pending": 5,
        "completed": 1,
        "in_progress": 1,
        "failed": 1,
        "blocked": 1,
        "cancelled": 1,
    }
    assert report.by_priority == {"medium": 6, "low": 2, "high": 1, "critical": 1}
    assert report.by_phase == {"development": 9, "planning": 1}
    assert report.by_agent == {"(unassigned)": 6, "backend": 2, "qa": 2}
    for counts in (report.by_status, report.by_priority, report.by_phase, report.by_agent):
        assert list(counts.values()) == sorted(counts.values(), reverse=True)
    assert report.completion_percent == 11.1  # 1 completed of 9 not cancelled
    assert report.estimated_hours == 2 + 3 + 1 + 0.5 + 2 + 4 + 1.5
    assert report.remaining_hours == 3 + 1 + 0.5 + 2 + 1.5
    assert report.unestimated == 3
    # b (3h) → e (2h) → i (1h, unestimated): the longest remaining chain.
    assert report.critical_path == CriticalPath(["b", "e", "i"], 6.0)
    assert report.blocked == [
        {
            "id": "d",
            "title": "Task d",
            "marked": False,
            "blocked_by": ["c"],
            "reason": "",
        },
        {
            "id": "e",
            "title": "Task e",
            "marked": True,
            "blocked_by": ["b"],
            "reason": "waiting for the vendor",
        },
        {
            "id": "h",
            "title": "Task h",
            "marked": False,
            "blocked_by": ["f"],
            "reason": "",
        },
        {
            "id": "i",
            "title": "Task i",
            "marked": False,
            "blocked_by": ["e"],
            "reason": "",
        },
    ]
    assert report.failed == [{"id": "c", "title": "Task c", "error": "boom", "attempts": 1}]
    assert report.next is project.tasks["g"]


def test_report_to_dict(project: Orchestrator) -> None:
    report = project.report()
    data = report.to_dict()
    assert list(data) == [
        "total",
        "by_status",
        "by_priority",
        "by_phase",
        "by_agent",
        "completion_percent",
        "estimated_hours",
        "remaining_hours",
        "unestimated_tasks",
        "critical_path",
        "blocked",
        "failed",
        "next",
    ]
    assert data["unestimated_tasks"] == 3
    assert data["critical_path"] == {"ids": ["b", "e", "i"], "hours": 6.0}
    assert data["next"] == project.tasks["g"].to_dict()
    assert data["blocked"] == report.blocked
    assert data["failed"] == report.failed


def test_blocked_task_reason_without_a_blocked_history_entry() -> None:
    o = Orchestrator()
    o.put([t("a"), t("b", "a", status=Status.BLOCKED), t("c", status=Status.BLOCKED)])
    o.complete("a", force=True)
    assert o.report().blocked == [
        {"id": "b", "title": "Task b", "marked": True, "blocked_by": [], "reason": ""},
        {"id": "c", "title": "Task c", "marked": True, "blocked_by": [], "reason": ""},
    ]


def test_blocked_reason_is_the_note_of_the_latest_move_to_blocked() -> None:
    now = model.utcnow()
    imported = t(
        "a",
        status=Status.BLOCKED,
        history=[
            Transition(now, None, Status.PENDING, "created"),
            Transition(now, Status.PENDING, Status.BLOCKED, "old reason"),
            Transition(now, Status.BLOCKED, Status.PENDING, ""),
            Transition(now, Status.PENDING, Status.BLOCKED, "vendor late"),
            Transition(now, Status.BLOCKED, Status.BLOCKED, ""),
        ],
    )
    o = Orchestrator([imported])
    [row] = o.report().blocked
    assert row["reason"] == ""
    imported.history.pop()
    assert o.report().blocked[0]["reason"] == "vendor late"
    imported.history.append(Transition(now, Status.BLOCKED, Status.PENDING, "unrelated"))
    assert o.report().blocked[0]["reason"] == "vendor late"


def test_report_of_an_empty_project() -> None:
    report = Orchestrator().report()
    assert report.total == 0
    assert report.by_status == {}
    assert report.completion_percent == 0.0
    assert (report.estimated_hours, report.remaining_hours, report.unestimated) == (0, 0, 0)
    assert report.critical_path == CriticalPath([], 0.0)
    assert (report.blocked, report.failed, report.next) == ([], [], None)
    assert report.to_dict()["next"] is None


def test_completion_percent_leaves_out_cancelled_tasks() -> None:
    o = Orchestrator([t("a"), t("b"), t("c"), t("d")])
    o.complete("a", force=True)
    o.cancel("b")
    assert o.report().completion_percent == 33.3
    o.cancel("c")
    assert o.report().completion_percent == 50.0
    o.cancel("d")
    assert o.report().completion_percent == 100.0


def test_completion_percent_when_everything_is_cancelled() -> None:
    o = Orchestrator([t("a")])
    o.cancel("a")
    report = o.report()
    assert report.completion_percent == 0.0
    assert report.remaining_hours == 0
    assert report.blocked == []


def test_report_reflects_changes(project: Orchestrator) -> None:
    assert project.report().next is project.tasks["g"]
    project.start("g")
    report = project.report()
    assert report.next is None
    assert report.by_status["in_progress"] == 2
    project.retry("c")
    report = project.report()
    assert report.next is project.tasks["c"]
    assert report.failed == []
    assert [row["id"] for row in report.blocked] == ["e", "h", "i"]


def test_update_refuses_unknown_fields_and_changes_nothing() -> None:
    project = Orchestrator([AgentTask(id="a", title="A")])
    with pytest.raises(ValidationError, match="unknown task field bogus"):
        project.update("a", bogus=1)
    assert project.get("a").to_dict()["title"] == "A"

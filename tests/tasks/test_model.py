"""The task model: validation, the dict round trip, ids and the lifecycle state machine."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from coditect.errors import DependencyError, TransitionError, ValidationError
from coditect.tasks import model
from coditect.tasks.model import (
    FORCED_TRANSITIONS,
    TRANSITIONS,
    AgentTask,
    Phase,
    Priority,
    Status,
    Transition,
    check_task_id,
    new_task_id,
    utcnow,
)

P, R, B, C, F, X = (
    Status.PENDING,
    Status.IN_PROGRESS,
    Status.BLOCKED,
    Status.COMPLETED,
    Status.FAILED,
    Status.CANCELLED,
)

# The documented lifecycle, written out independently of the module's tables.
EXPECTED_ALLOWED: dict[Status, set[Status]] = {
    P: {R, B, X},
    R: {C, F, B, X, P},
    B: {P, X},
    F: {P, X},
    X: {P},
    C: set(),
}
EXPECTED_FORCED: dict[Status, set[Status]] = {P: {C}, B: {C}, C: {P}}

ALL_PAIRS = [(a, b) for a in Status for b in Status]

T0 = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def full_task() -> AgentTask:
    """A task with every field set to a non-default value."""
    plus2 = timezone(timedelta(hours=2))
    return AgentTask(
        id="api.login_v2",
        title="Implement the login flow",
        description="OAuth and password login.\nSecond line.",
        agent="backend",
        priority=Priority.CRITICAL,
        phase=Phase.TESTING,
        status=Status.FAILED,
        dependencies=["design-1", "db.schema"],
        estimated_hours=2.5,
        deliverables=["src/login.py"],
        success_criteria=["tests pass", "p95 < 100ms"],
        acceptance="pytest -q",
        commands=["make test", "make lint"],
        tags=["auth", "api"],
        output_files=["build/report.xml"],
        notes="see the RFC",
        section="Backend",
        error="tests failed: 3",
        metadata={"jira": "AUTH-12", "points": 3, "nested": {"a": [1, 2]}},
        attempts=2,
        executor="script",
        max_retries=3,
        output_schema={"type": "object", "required": ["ok"]},
        output="2 failed, 40 passed",
        run_id="r-20260302T090000-abc",
        session_id="9f1c2d3e-0000-4000-8000-000000000000",
        tokens=1234,
        cost_usd=0.0185,
        created_at=T0,
        started_at=datetime(2026, 3, 2, 9, 0, 0, 1, tzinfo=plus2),
        completed_at=None,
        history=[
            Transition(T0, None, Status.PENDING, "created"),
            Transition(T0 + timedelta(hours=1), Status.PENDING, Status.IN_PROGRESS, ""),
            Transition(
                T0 + timedelta(hours=2), Status.IN_PROGRESS, Status.FAILED, "tests failed: 3"
            ),
        ],
    )


def task_in(status: Status, **fields: Any) -> AgentTask:
    return AgentTask(id="t1", title="A task", status=status, **fields)


# -- validation ---------------------------------------------------------------------------


def test_minimal_task_has_documented_defaults() -> None:
    before = utcnow()
    task = AgentTask(id="a", title="Do it")
    after = utcnow()
    assert task.status is Status.PENDING
    assert task.priority is Priority.MEDIUM
    assert task.phase is Phase.DEVELOPMENT
    assert task.dependencies == []
    assert task.estimated_hours is None
    assert task.attempts == 0
    assert task.history == []
    assert task.started_at is None
    assert task.completed_at is None
    assert before <= task.created_at <= after
    assert task.created_at.utcoffset() == timedelta(0)


def test_list_defaults_are_not_shared() -> None:
    first, second = AgentTask(id="a", title="A"), AgentTask(id="b", title="B")
    first.tags.append("x")
    first.dependencies.append("b")
    assert second.tags == []
    assert second.dependencies == []


@pytest.mark.parametrize("title", ["", "   ", "\n\t", None, 5])
def test_empty_or_non_string_title_is_refused(title: Any) -> None:
    with pytest.raises(ValidationError, match="title must not be empty"):
        AgentTask(id="a", title=title)


@pytest.mark.parametrize(
    "hours", [0, 0.0, -1, -0.5, True, False, "3", float("nan"), float("inf"), [1], {"h": 1}]
)
def test_bad_estimated_hours_are_refused(hours: Any) -> None:
    with pytest.raises(
        ValidationError, match="estimated_hours must be a finite number greater than 0"
    ):
        AgentTask(id="a", title="A", estimated_hours=hours)


@pytest.mark.parametrize("hours", [None, 1e-9, 0.25, 1, 3, 40.5])
def test_good_estimated_hours_are_accepted(hours: float | None) -> None:
    assert AgentTask(id="a", title="A", estimated_hours=hours).estimated_hours == hours


@pytest.mark.parametrize("name", ["created_at", "started_at", "completed_at"])
def test_naive_datetimes_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match=f"{name} must be timezone-aware"):
        AgentTask(id="a", title="A", **{name: datetime(2026, 1, 1, 12, 0)})


@pytest.mark.parametrize("name", ["created_at", "started_at", "completed_at"])
def test_aware_datetimes_in_any_zone_are_accepted(name: str) -> None:
    value = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert getattr(AgentTask(id="a", title="A", **{name: value}), name) == value


@pytest.mark.parametrize(
    "task_id",
    ["", "-a", ".a", "_a", "a b", "a/b", "a:b", "a\n", "\na", "é", "x" * 65, 5, None, b"ab"],
)
def test_bad_ids_are_refused(task_id: Any) -> None:
    with pytest.raises(ValidationError, match="invalid task id") as info:
        AgentTask(id=task_id, title="A")
    assert "1-64 letters" in info.value.hint
    with pytest.raises(ValidationError):
        check_task_id(task_id)


@pytest.mark.parametrize("task_id", ["a", "Z", "9", "A.b_c-1", "t-4kq9x2m", "x" * 64, "1.0"])
def test_good_ids_are_accepted(task_id: str) -> None:
    assert check_task_id(task_id) == task_id
    assert AgentTask(id=task_id, title="A").id == task_id


def test_self_dependency_is_refused() -> None:
    with pytest.raises(DependencyError, match="task a cannot depend on itself"):
        AgentTask(id="a", title="A", dependencies=["b", "a"])


def test_validate_catches_later_mutation() -> None:
    task = AgentTask(id="a", title="A")
    task.validate()
    task.estimated_hours = -2
    with pytest.raises(ValidationError, match="estimated_hours"):
        task.validate()


@pytest.mark.parametrize(("status", "done"), [(s, s in (C, X)) for s in Status])
def test_is_done_means_completed_or_cancelled(status: Status, done: bool) -> None:
    assert task_in(status).is_done is done


# -- the dict round trip --------------------------------------------------------------------


def test_to_dict_has_the_documented_shape() -> None:
    data = full_task().to_dict()
    assert list(data) == [
        "id",
        "title",
        "description",
        "agent",
        "priority",
        "phase",
        "status",
        "dependencies",
        "estimated_hours",
        "deliverables",
        "success_criteria",
        "acceptance",
        "commands",
        "tags",
        "output_files",
        "notes",
        "section",
        "error",
        "metadata",
        "attempts",
        "executor",
        "max_retries",
        "output_schema",
        "output",
        "run_id",
        "session_id",
        "tokens",
        "cost_usd",
        "created_at",
        "started_at",
        "completed_at",
        "history",
    ]
    assert data["priority"] == "critical"
    assert data["phase"] == "testing"
    assert data["status"] == "failed"
    assert data["created_at"] == "2026-03-01T12:30:15.123456+00:00"
    assert data["started_at"] == "2026-03-02T09:00:00.000001+02:00"
    assert data["completed_at"] is None
    assert data["history"][0] == {
        "at": "2026-03-01T12:30:15.123456+00:00",
        "from": None,
        "to": "pending",
        "note": "created",
    }
    assert data["history"][2]["from"] == "in_progress"
    assert data["history"][2]["to"] == "failed"


def test_round_trip_is_exact() -> None:
    task = full_task()
    data = task.to_dict()
    again = AgentTask.from_dict(data)
    assert again == task
    assert again.to_dict() == data
    # The started_at offset survives, not just the instant.
    assert again.started_at is not None
    assert again.started_at.utcoffset() == timedelta(hours=2)


def test_round_trip_survives_json() -> None:
    task = full_task()
    task.completed_at = T0 + timedelta(days=3)
    data = json.loads(json.dumps(task.to_dict()))
    assert AgentTask.from_dict(data) == task
    assert AgentTask.from_dict(data).to_dict() == task.to_dict()


def test_round_trip_of_minimal_task() -> None:
    task = AgentTask(id="a", title="A")
    assert AgentTask.from_dict(task.to_dict()) == task


def test_to_dict_lists_are_copies() -> None:
    task = full_task()
    data = task.to_dict()
    data["dependencies"].append("other")
    data["tags"].clear()
    assert task.dependencies == ["design-1", "db.schema"]
    assert task.tags == ["auth", "api"]


def test_from_dict_fills_defaults() -> None:
    before = utcnow()
    task = AgentTask.from_dict({"id": "a", "title": "A"})
    assert task == AgentTask(id="a", title="A", created_at=task.created_at)
    assert before <= task.created_at <= utcnow()


def test_from_dict_treats_nulls_as_defaults() -> None:
    data = dict.fromkeys(AgentTask(id="a", title="A").to_dict())
    data.update(id="a", title="A")
    task = AgentTask.from_dict(data)
    assert task.priority is Priority.MEDIUM
    assert task.status is Status.PENDING
    assert task.tags == []
    assert task.metadata == {}
    assert task.history == []
    assert task.description == ""


def test_transition_round_trip() -> None:
    first = Transition(T0, None, Status.PENDING, "created")
    second = Transition(T0, Status.PENDING, Status.BLOCKED)
    assert Transition.from_dict(first.to_dict()) == first
    assert Transition.from_dict(second.to_dict()) == second
    assert second.to_dict()["note"] == ""
    assert Transition.from_dict({"at": T0.isoformat(), "to": "blocked"}) == Transition(
        T0, None, Status.BLOCKED, ""
    )


def _with(**changes: Any) -> dict[str, Any]:
    data = full_task().to_dict()
    data.update(changes)
    return data


def _without(name: str) -> dict[str, Any]:
    data = full_task().to_dict()
    del data[name]
    return data


BAD_DICTS: list[tuple[str, Any, str]] = [
    ("missing id", _without("id"), "missing the field 'id'"),
    ("missing title", _without("title"), "missing the field 'title'"),
    ("list", ["id", "a"], "task \\?"),
    ("none", None, "task \\?"),
    ("string", "a task", "task \\?"),
    ("priority", _with(priority="urgent"), "urgent"),
    ("phase", _with(phase="coding"), "coding"),
    ("status", _with(status="done"), "done"),
    ("hours zero", _with(estimated_hours=0), "estimated_hours"),
    ("hours string", _with(estimated_hours="3"), "estimated_hours"),
    ("hours bool", _with(estimated_hours=True), "estimated_hours"),
    ("attempts", _with(attempts="many"), "many"),
    ("created_at text", _with(created_at="yesterday"), "yesterday"),
    ("created_at naive", _with(created_at="2026-01-01T00:00:00"), "created_at .* no timezone"),
    ("started_at naive", _with(started_at="2026-01-01T00:00:00"), "started_at .* no timezone"),
    ("completed_at number", _with(completed_at=5), "task api.login_v2"),
    ("dependencies string", _with(dependencies="a,b"), "dependencies must be a list"),
    ("dependencies ints", _with(dependencies=[1]), "dependencies must be a list"),
    ("tags with null", _with(tags=["a", None]), "tags must be a list"),
    ("metadata list", _with(metadata=[1, 2]), "task api.login_v2"),
    ("history naive", _with(history=[{"at": "2026-01-01T00:00:00", "to": "pending"}]), "at"),
    ("history no at", _with(history=[{"to": "pending"}]), "missing the field 'at'"),
    ("history null at", _with(history=[{"at": None, "to": "pending"}]), "history.at is missing"),
    ("history no to", _with(history=[{"at": T0.isoformat()}]), "missing the field 'to'"),
    ("history bad to", _with(history=[{"at": T0.isoformat(), "to": "x"}]), "'x'"),
    (
        "history bad from",
        _with(history=[{"at": T0.isoformat(), "from": "y", "to": "pending"}]),
        "'y'",
    ),
    ("history not dicts", _with(history=["pending"]), "task api.login_v2"),
    ("id number", _with(id=123), "invalid task id 123"),
    ("id with space", _with(id="a b"), "invalid task id"),
    ("empty title", _with(title=" "), "title must not be empty"),
    ("self dependency", _with(dependencies=["api.login_v2"]), "cannot depend on itself"),
]


@pytest.mark.parametrize(
    ("data", "match"), [(d, m) for _, d, m in BAD_DICTS], ids=[n for n, _, _ in BAD_DICTS]
)
def test_from_dict_errors_are_validation_errors(data: Any, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        AgentTask.from_dict(data)


# -- ids ------------------------------------------------------------------------------------

ID_FORMAT = re.compile(r"t-[abcdefghjkmnpqrstvwxyz0-9]{7}")


def test_new_task_id_format() -> None:
    for title in ["", "Login", "ünïcödé title", "x" * 1000]:
        task_id = new_task_id(title)
        assert ID_FORMAT.fullmatch(task_id), task_id
        assert check_task_id(task_id) == task_id


def test_new_task_id_differs_for_the_same_title() -> None:
    ids = {new_task_id("Same title") for _ in range(50)}
    assert len(ids) == 50


def test_new_task_id_honours_length() -> None:
    assert re.fullmatch(r"t-[a-z0-9]{12}", new_task_id("x", length=12))


@pytest.fixture
def fixed_random(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the random part of new ids fixed, so that a collision can be forced."""
    monkeypatch.setattr(model.os, "urandom", lambda n: b"\x01" * n)


@pytest.mark.usefixtures("fixed_random")
def test_new_task_id_lengthens_on_collision() -> None:
    first = new_task_id("Login")
    assert new_task_id("Login") == first  # the random part is fixed now
    assert new_task_id("Login", taken=["t-other", "x"]) == first
    second = new_task_id("Login", taken=[first])
    assert len(second) == len(first) + 1
    assert second.startswith(first)
    third = new_task_id("Login", taken={first: 1, second: 2})  # any iterable of ids
    assert len(third) == len(first) + 2
    assert third.startswith(second)
    for task_id in (second, third):
        check_task_id(task_id)


@pytest.mark.usefixtures("fixed_random")
def test_new_task_id_depends_on_the_title() -> None:
    assert new_task_id("Login") != new_task_id("Logout")


# -- priorities -----------------------------------------------------------------------------


def test_priority_rank_sorts_most_urgent_first() -> None:
    assert [p.rank for p in Priority] == [0, 1, 2, 3]
    shuffled = [Priority.LOW, Priority.CRITICAL, Priority.MEDIUM, Priority.HIGH]
    assert sorted(shuffled, key=lambda p: p.rank) == [
        Priority.CRITICAL,
        Priority.HIGH,
        Priority.MEDIUM,
        Priority.LOW,
    ]


def test_utcnow_is_aware_utc() -> None:
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


# -- the lifecycle --------------------------------------------------------------------------


def test_transition_tables_are_the_documented_lifecycle() -> None:
    assert {s: set(t) for s, t in TRANSITIONS.items()} == EXPECTED_ALLOWED
    assert {s: set(t) for s, t in FORCED_TRANSITIONS.items()} == EXPECTED_FORCED
    # A forced transition is never also an ordinary one.
    for status, targets in FORCED_TRANSITIONS.items():
        assert not targets & TRANSITIONS[status]


@pytest.mark.parametrize(("src", "dst"), [p for p in ALL_PAIRS if p[1] in EXPECTED_ALLOWED[p[0]]])
def test_allowed_transition(src: Status, dst: Status) -> None:
    task = task_in(src)
    task.transition(dst, note="why")
    assert task.status is dst
    assert len(task.history) == 1
    entry = task.history[0]
    assert (entry.from_status, entry.to_status, entry.note) == (src, dst, "why")
    assert entry.at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("src", "dst"), [p for p in ALL_PAIRS if p[1] in EXPECTED_FORCED.get(p[0], ())]
)
def test_forced_transition_needs_force(src: Status, dst: Status) -> None:
    task = task_in(src)
    before = task.to_dict()
    with pytest.raises(TransitionError, match="needs --force") as info:
        task.transition(dst)
    assert task.to_dict() == before
    assert "--force" in info.value.hint
    task.transition(dst, force=True, note="really")
    assert task.status is dst
    assert [(h.from_status, h.to_status, h.note) for h in task.history] == [(src, dst, "really")]


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        p
        for p in ALL_PAIRS
        if p[1] not in EXPECTED_ALLOWED[p[0]] and p[1] not in EXPECTED_FORCED.get(p[0], ())
    ],
)
def test_refused_transition_changes_nothing_even_with_force(src: Status, dst: Status) -> None:
    task = task_in(src, error="old" if src is F else None)
    before = task.to_dict()
    for force in (False, True):
        with pytest.raises(
            TransitionError, match=f"is {src.value}; it cannot become {dst.value}"
        ) as info:
            task.transition(dst, force=force)
        assert task.to_dict() == before
    targets = ", ".join(sorted(s.value for s in EXPECTED_ALLOWED[src])) or "nothing"
    forced = sorted(s.value for s in EXPECTED_FORCED.get(src, ()))
    if forced:
        targets += " (with --force: " + ", ".join(forced) + ")"
    assert info.value.hint == f"From {src.value} a task can become: {targets}."


def test_completing_a_never_started_task_needs_force() -> None:
    task = AgentTask(id="a", title="A")
    with pytest.raises(TransitionError, match="making it completed needs --force") as info:
        task.transition(Status.COMPLETED)
    assert "--force" in info.value.hint and "never started" in info.value.hint
    assert task.status is Status.PENDING
    assert task.completed_at is None
    before = utcnow()
    task.transition(Status.COMPLETED, force=True)
    assert task.status is Status.COMPLETED
    assert task.completed_at is not None
    assert before <= task.completed_at <= utcnow()
    assert task.started_at is None
    assert task.attempts == 0


def test_start_stamps_time_counts_attempts_and_clears_error() -> None:
    task = AgentTask(id="a", title="A")
    before = utcnow()
    task.transition(Status.IN_PROGRESS)
    assert task.attempts == 1
    assert task.started_at is not None
    assert before <= task.started_at <= utcnow()
    first_start = task.started_at

    task.transition(Status.FAILED, note="boom")
    assert task.error == "boom"
    task.transition(Status.PENDING, note="retry")
    assert task.error == "boom"  # kept until the next attempt starts
    task.transition(Status.IN_PROGRESS)
    assert task.attempts == 2
    assert task.error is None
    assert task.started_at >= first_start

    task.transition(Status.COMPLETED, note="done")
    assert task.completed_at is not None
    assert task.completed_at >= task.started_at
    assert [(h.from_status, h.to_status, h.note) for h in task.history] == [
        (P, R, ""),
        (R, F, "boom"),
        (F, P, "retry"),
        (P, R, ""),
        (R, C, "done"),
    ]
    stamps = [h.at for h in task.history]
    assert stamps == sorted(stamps)


def test_failing_without_a_note_keeps_an_existing_error_or_says_failed() -> None:
    task = task_in(Status.IN_PROGRESS)
    task.transition(Status.FAILED)
    assert task.error == "failed"
    other = task_in(Status.IN_PROGRESS, error="disk full")
    other.transition(Status.FAILED)
    assert other.error == "disk full"
    third = task_in(Status.IN_PROGRESS, error="disk full")
    third.transition(Status.FAILED, note="timeout")
    assert third.error == "timeout"


def test_reopening_a_completed_task_clears_completed_at() -> None:
    task = task_in(Status.IN_PROGRESS)
    task.transition(Status.COMPLETED)
    assert task.completed_at is not None
    task.transition(Status.PENDING, force=True, note="reopened")
    assert task.status is Status.PENDING
    assert task.completed_at is None
    assert task.history[-1] == Transition(task.history[-1].at, C, P, "reopened")


def test_blocking_keeps_times_and_attempts() -> None:
    task = task_in(Status.PENDING)
    task.transition(Status.BLOCKED, note="waiting for the vendor")
    assert (task.started_at, task.completed_at, task.attempts) == (None, None, 0)
    assert task.history[-1].note == "waiting for the vendor"


def test_record_bypasses_the_state_machine_but_keeps_history() -> None:
    task = task_in(Status.COMPLETED)
    task.record(Status.IN_PROGRESS, "repair")
    assert task.status is Status.IN_PROGRESS
    assert task.attempts == 1
    assert task.history[-1].from_status is Status.COMPLETED
    assert task.history[-1].to_status is Status.IN_PROGRESS
    assert task.history[-1].note == "repair"


def test_construction_normalises_repeats_and_empty_strings() -> None:
    task = AgentTask(id="a", title="A", dependencies=["b", "c", "b"], agent="", acceptance="")
    assert task.dependencies == ["b", "c"]
    assert task.agent is None
    assert task.acceptance is None
    assert AgentTask.from_dict(task.to_dict()) == task


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("description", 5),
        ("notes", None),
        ("section", ["a"]),
        ("acceptance", 3),
        ("tags", "abc"),
        ("tags", ["two words"]),
        ("tags", ["a,b"]),
        ("agent", 7),
        ("agent", "back end"),
        ("commands", ["ok", 1]),
        ("metadata", []),
        ("attempts", -1),
        ("attempts", True),
        ("tokens", -5),
        ("tokens", 1.5),
        ("max_retries", -1),
        ("cost_usd", -0.01),
        ("cost_usd", float("nan")),
        ("cost_usd", "1"),
        ("output", None),
        ("run_id", 4),
        ("session_id", ["x"]),
        ("executor", "claude code"),
        ("output_schema", "object"),
    ],
)
def test_fields_of_the_wrong_type_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=f"task a: {field} must be"):
        AgentTask(id="a", title="A", **{field: value})


def test_the_compact_dict_leaves_out_defaults_and_reads_back_exactly() -> None:
    bare = AgentTask(id="a", title="A", created_at=T0)
    compact = bare.to_compact_dict()
    assert compact == {
        "id": "a",
        "title": "A",
        "priority": "medium",
        "phase": "development",
        "status": "pending",
        "created_at": T0.isoformat(),
        "history": [],
    }
    for task in (bare, full_task(), AgentTask(id="z", title="Z", max_retries=0, cost_usd=0)):
        data = task.to_compact_dict()
        assert AgentTask.from_trusted_dict(data).to_dict() == task.to_dict()
        assert AgentTask.from_dict(data).to_dict() == task.to_dict()
    # max_retries 0 is not the default (None): it is kept.
    assert AgentTask(id="z", title="Z", max_retries=0).to_compact_dict()["max_retries"] == 0


def test_tasks_read_from_compact_dicts_share_no_lists() -> None:
    one, two = (
        AgentTask.from_trusted_dict(AgentTask(id=i, title=i).to_compact_dict()) for i in "ab"
    )
    one.tags.append("x")
    one.metadata["k"] = 1
    assert (two.tags, two.metadata) == ([], {})


def test_negative_zero_cost_is_zero() -> None:
    task = AgentTask(id="a", title="A", cost_usd=-0.0)
    assert math.copysign(1.0, task.cost_usd) == 1.0
    assert AgentTask.from_trusted_dict(task.to_compact_dict()).to_dict() == task.to_dict()

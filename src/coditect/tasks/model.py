"""The task: one unit of work in a project's graph, and its lifecycle state machine.

A task round-trips exactly through ``to_dict``/``from_dict``; the dict is the stable,
documented JSON shape used by the state file and every ``--json`` output.
"""

from __future__ import annotations

import math
import os
import re
from base64 import b32encode
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from hashlib import sha256
from typing import Any, ClassVar

from coditect.errors import DependencyError, TransitionError, ValidationError

__all__ = [
    "AgentTask",
    "Phase",
    "Priority",
    "Status",
    "Transition",
    "check_task_id",
    "new_task_id",
    "utcnow",
]


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for critical, rising as priority falls: sorts most urgent first."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {p: i for i, p in enumerate(Priority)}
_PRIORITY_OF = {p.value: p for p in Priority}


class Phase(StrEnum):
    PLANNING = "planning"
    DESIGN = "design"
    DEVELOPMENT = "development"
    TESTING = "testing"
    DEPLOYMENT = "deployment"
    MAINTENANCE = "maintenance"


class Status(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


_PHASE_OF = {p.value: p for p in Phase}
_STATUS_OF = {s.value: s for s in Status}

# The lifecycle. Completing a task that was never started is pending → completed, which
# `transition` allows only with force=True.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.IN_PROGRESS, Status.BLOCKED, Status.CANCELLED}),
    Status.IN_PROGRESS: frozenset(
        {Status.COMPLETED, Status.FAILED, Status.BLOCKED, Status.CANCELLED, Status.PENDING}
    ),
    Status.BLOCKED: frozenset({Status.PENDING, Status.CANCELLED}),
    Status.FAILED: frozenset({Status.PENDING, Status.CANCELLED}),
    Status.CANCELLED: frozenset({Status.PENDING}),
    Status.COMPLETED: frozenset(),
}
FORCED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.COMPLETED}),
    Status.BLOCKED: frozenset({Status.COMPLETED}),
    Status.COMPLETED: frozenset({Status.PENDING}),
}

_NAME = re.compile(r"[^\s,{}=]+")
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ID_ALPHABET = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "abcdefghjkmnpqrstvwxyz0123456789")


def utcnow() -> datetime:
    return datetime.now(UTC)


def check_task_id(task_id: str) -> str:
    """``task_id`` if it is a valid id, else a ValidationError saying what ids look like."""
    if not isinstance(task_id, str) or not _ID_PATTERN.fullmatch(task_id):
        raise ValidationError(
            f"invalid task id {task_id!r}",
            "Ids are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return task_id


def new_task_id(title: str, taken: Iterable[str] = (), length: int = 7) -> str:
    """A short id such as ``t-4kq9x2m``: a hash of the title and 16 random bytes.

    The random part makes two people adding the same title on two branches get
    different ids (35 bits: a collision between two branches of 1,000 new tasks each
    has a chance of about 3 in 100,000); a clash with an id already in ``taken``
    lengthens the id instead of failing.
    """
    taken_set = set(taken)
    digest = sha256(title.encode() + os.urandom(16)).digest()
    alphabet = b32encode(digest).decode().rstrip("=").translate(_ID_ALPHABET)
    for size in range(length, len(alphabet)):
        candidate = "t-" + alphabet[:size]
        if candidate not in taken_set:
            return candidate
    raise AssertionError("sha256 cannot collide this often")


@dataclass(slots=True, frozen=True)
class Transition:
    """One entry of a task's append-only history."""

    at: datetime
    from_status: Status | None
    to_status: Status
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "from": self.from_status.value if self.from_status else None,
            "to": self.to_status.value,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        return cls(
            at=_required_time(data["at"], "history.at"),
            from_status=Status(data["from"]) if data.get("from") else None,
            to_status=Status(data["to"]),
            note=data.get("note", ""),
        )


@dataclass(slots=True)
class AgentTask:
    """A unit of work, assigned to an agent, with dependencies on other tasks."""

    id: str
    title: str
    description: str = ""
    agent: str | None = None
    priority: Priority = Priority.MEDIUM
    phase: Phase = Phase.DEVELOPMENT
    status: Status = Status.PENDING
    dependencies: list[str] = field(default_factory=list)
    estimated_hours: float | None = None
    deliverables: list[str] = field(default_factory=list)
    success_criteria: list[str] = field(default_factory=list)
    acceptance: str | None = None
    commands: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    output_files: list[str] = field(default_factory=list)
    notes: str = ""
    section: str = ""
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    executor: str | None = None
    """The executor that runs the task (script, claude-code, api, …); None: the agent's."""
    max_retries: int | None = None
    """How often the runner retries a failed attempt; None: the ``[run]`` default."""
    output_schema: dict[str, Any] | None = None
    """A JSON schema the task's output must satisfy (api executor)."""
    output: str = ""
    """What the last successful run of the task produced (dependents see it)."""
    run_id: str | None = None
    """The run that holds the task while it is in progress; None when started by hand."""
    session_id: str | None = None
    """The external session of the last run (a Claude Code session id)."""
    tokens: int = 0
    """Tokens spent on the task over all its runs."""
    cost_usd: float = 0.0
    """What the task's runs cost, in US dollars."""
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    history: list[Transition] = field(default_factory=list)

    LIST_FIELDS: ClassVar[tuple[str, ...]] = (
        "dependencies",
        "deliverables",
        "success_criteria",
        "commands",
        "tags",
        "output_files",
    )

    def __post_init__(self) -> None:
        # One spelling for "none": a repeated dependency counts once, "" is no agent.
        self.dependencies = list(dict.fromkeys(self.dependencies))
        self.agent = self.agent or None
        self.acceptance = self.acceptance or None
        self.executor = self.executor or None
        if isinstance(self.cost_usd, float):
            self.cost_usd += 0.0  # -0.0 is 0.0: one spelling, so it round-trips
        self.validate()

    def validate(self) -> None:
        """Raise ValidationError unless every field holds a valid value."""
        check_task_id(self.id)
        if not isinstance(self.title, str) or not self.title.strip():
            raise ValidationError(f"task {self.id}: the title must not be empty")
        hours = self.estimated_hours
        if hours is not None and (
            isinstance(hours, bool)
            or not isinstance(hours, int | float)
            or not 0 < hours < math.inf
        ):
            raise ValidationError(
                f"task {self.id}: estimated_hours must be a finite number greater than 0, "
                f"not {hours!r}"
            )
        for name in ("created_at", "started_at", "completed_at"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValidationError(f"task {self.id}: {name} must be timezone-aware")
        self._check_types()
        if self.id in self.dependencies:
            raise DependencyError(f"task {self.id} cannot depend on itself")

    def _check_types(self) -> None:
        def refuse(name: str, what: str) -> None:
            value = getattr(self, name)
            raise ValidationError(f"task {self.id}: {name} must be {what}, not {value!r}")

        for name in ("description", "notes", "section"):
            if not isinstance(getattr(self, name), str):
                refuse(name, "text")
        for name in ("acceptance", "error"):
            if not isinstance(getattr(self, name), str | None):
                refuse(name, "text")
        for name in self.LIST_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                refuse(name, "a list of text")
        # Agents and tags are names: a tasklist writes them as agent=x tags=a,b.
        for name, values in (
            ("agent", [self.agent] if self.agent is not None else []),
            ("tags", self.tags),
        ):
            if not all(isinstance(v, str) and _NAME.fullmatch(v) for v in values):
                refuse(name, "a name without spaces, commas or braces")
        if not isinstance(self.metadata, dict):
            refuse("metadata", "an object")
        if (
            isinstance(self.attempts, bool)
            or not isinstance(self.attempts, int)
            or (self.attempts < 0)
        ):
            refuse("attempts", "a whole number ≥ 0")
        for name in ("tokens", "max_retries"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                refuse(name, "a whole number ≥ 0")
        if (
            isinstance(self.cost_usd, bool)
            or not isinstance(self.cost_usd, int | float)
            or not 0 <= self.cost_usd < math.inf
        ):
            refuse("cost_usd", "a number ≥ 0")
        for name in ("output",):
            if not isinstance(getattr(self, name), str):
                refuse(name, "text")
        for name in ("run_id", "session_id"):
            if not isinstance(getattr(self, name), str | None):
                refuse(name, "text")
        if self.executor is not None and not (
            isinstance(self.executor, str) and _NAME.fullmatch(self.executor)
        ):
            refuse("executor", "a name without spaces, commas or braces")
        if self.output_schema is not None and not isinstance(self.output_schema, dict):
            refuse("output_schema", "an object")

    @property
    def is_done(self) -> bool:
        """Completed or cancelled: no work left in it."""
        return self.status in (Status.COMPLETED, Status.CANCELLED)

    def transition(self, to: Status, *, note: str = "", force: bool = False) -> None:
        """Move to status ``to``, stamping times and appending to the history.

        Whether dependencies allow it is the orchestrator's concern; this checks only the
        state machine.
        """
        allowed = TRANSITIONS[self.status] | (FORCED_TRANSITIONS.get(self.status, frozenset()))
        if to not in allowed:
            raise TransitionError(
                f"task {self.id} is {self.status.value}; it cannot become {to.value}",
                _transition_hint(self.status),
            )
        if to not in TRANSITIONS[self.status] and not force:
            raise TransitionError(
                f"task {self.id} is {self.status.value}; making it {to.value} needs --force",
                "Pass --force if you mean it"
                + (": the task was never started." if to is Status.COMPLETED else "."),
            )
        self.record(to, note)

    def record(self, to: Status, note: str = "", *, error: str | None = None) -> None:
        """Set the status without the state machine (imports, repairs), keeping history.

        A failure keeps ``error``, else the note, as the task's error."""
        now = utcnow()
        if to is Status.IN_PROGRESS:
            self.started_at = now
            self.attempts += 1
            self.error = None
        elif to is Status.COMPLETED:
            self.completed_at = now
        elif to is Status.FAILED:
            self.error = error or note or self.error or "failed"
        elif to is Status.PENDING:
            self.completed_at = None
        self.history.append(Transition(now, self.status, to, note))
        self.status = to

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "agent": self.agent,
            "priority": self.priority.value,
            "phase": self.phase.value,
            "status": self.status.value,
            "dependencies": list(self.dependencies),
            "estimated_hours": self.estimated_hours,
            "deliverables": list(self.deliverables),
            "success_criteria": list(self.success_criteria),
            "acceptance": self.acceptance,
            "commands": list(self.commands),
            "tags": list(self.tags),
            "output_files": list(self.output_files),
            "notes": self.notes,
            "section": self.section,
            "error": self.error,
            "metadata": self.metadata,
            "attempts": self.attempts,
            "executor": self.executor,
            "max_retries": self.max_retries,
            "output_schema": self.output_schema,
            "output": self.output,
            "run_id": self.run_id,
            "session_id": self.session_id,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "history": [t.to_dict() for t in self.history],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentTask:
        """Build a task from its dict form; any invalid value raises ValidationError."""
        try:
            kwargs: dict[str, Any] = {
                "id": data["id"],
                "title": data["title"],
                "description": data.get("description") or "",
                "agent": data.get("agent") or None,
                "priority": Priority(data.get("priority") or Priority.MEDIUM),
                "phase": Phase(data.get("phase") or Phase.DEVELOPMENT),
                "status": Status(data.get("status") or Status.PENDING),
                "estimated_hours": data.get("estimated_hours"),
                "acceptance": data.get("acceptance") or None,
                "notes": data.get("notes") or "",
                "section": data.get("section") or "",
                "error": data.get("error"),
                "metadata": dict(data.get("metadata") or {}),
                "attempts": int(data.get("attempts") or 0),
                "executor": data.get("executor") or None,
                "max_retries": data.get("max_retries"),
                "output_schema": data.get("output_schema"),
                "output": data.get("output") or "",
                "run_id": data.get("run_id"),
                "session_id": data.get("session_id"),
                "tokens": data.get("tokens") or 0,
                "cost_usd": data.get("cost_usd") or 0.0,
                "started_at": _parse_time(data.get("started_at"), "started_at"),
                "completed_at": _parse_time(data.get("completed_at"), "completed_at"),
                "history": [Transition.from_dict(t) for t in data.get("history") or ()],
            }
            for name in cls.LIST_FIELDS:
                kwargs[name] = _string_list(data.get(name), name)
            created = _parse_time(data.get("created_at"), "created_at")
            if created is not None:
                kwargs["created_at"] = created
        except KeyError as exc:
            raise ValidationError(f"a task is missing the field {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            where = data.get("id", "?") if isinstance(data, Mapping) else "?"
            raise ValidationError(f"task {where}: {exc}") from exc
        try:
            return cls(**kwargs)
        except DependencyError as exc:  # a self-dependency: invalid data like any other
            raise ValidationError(exc.message, exc.hint) from exc

    def to_compact_dict(self) -> dict[str, Any]:
        """``to_dict`` without the fields that hold their default value: the form the
        state file stores, a third smaller. Both ``from_dict`` and ``from_trusted_dict``
        read it."""
        defaults = _COMPACT_DEFAULTS
        return {
            k: v
            for k, v in self.to_dict().items()
            if k not in defaults or v != defaults[k] or type(v) is not type(defaults[k])
        }

    @classmethod
    def from_trusted_dict(cls, data: Mapping[str, Any]) -> AgentTask:
        """Rebuild a task from a dict that this package wrote (``to_dict`` or
        ``to_compact_dict``) and a checksum has verified since, skipping validation: five
        times faster than ``from_dict``, which matters for loading thousands of tasks.
        Lists and dicts are taken over, not copied. A missing required key or an unknown
        value raises KeyError."""
        task = object.__new__(cls)
        get = data.get
        task.id = data["id"]
        task.title = data["title"]
        task.description = get("description", "")
        task.agent = get("agent")
        task.priority = _PRIORITY_OF[data["priority"]]
        task.phase = _PHASE_OF[data["phase"]]
        task.status = _STATUS_OF[data["status"]]
        task.dependencies = get("dependencies") or []
        task.estimated_hours = get("estimated_hours")
        task.deliverables = get("deliverables") or []
        task.success_criteria = get("success_criteria") or []
        task.acceptance = get("acceptance")
        task.commands = get("commands") or []
        task.tags = get("tags") or []
        task.output_files = get("output_files") or []
        task.notes = get("notes", "")
        task.section = get("section", "")
        task.error = get("error")
        task.metadata = get("metadata") or {}
        task.attempts = get("attempts", 0)
        task.executor = get("executor")
        task.max_retries = get("max_retries")
        task.output_schema = get("output_schema")
        task.output = get("output", "")
        task.run_id = get("run_id")
        task.session_id = get("session_id")
        task.tokens = get("tokens", 0)
        task.cost_usd = get("cost_usd", 0.0)
        when = datetime.fromisoformat
        task.created_at = when(data["created_at"])
        started, completed = get("started_at"), get("completed_at")
        task.started_at = when(started) if started else None
        task.completed_at = when(completed) if completed else None
        status_of = _STATUS_OF
        task.history = [
            Transition(
                when(h["at"]),
                status_of[h["from"]] if h["from"] else None,
                status_of[h["to"]],
                h["note"],
            )
            for h in get("history") or ()
        ]
        return task


_COMPACT_DEFAULTS: dict[str, Any] = {
    "description": "",
    "agent": None,
    "dependencies": [],
    "estimated_hours": None,
    "deliverables": [],
    "success_criteria": [],
    "acceptance": None,
    "commands": [],
    "tags": [],
    "output_files": [],
    "notes": "",
    "section": "",
    "error": None,
    "metadata": {},
    "attempts": 0,
    "executor": None,
    "max_retries": None,
    "output_schema": None,
    "output": "",
    "run_id": None,
    "session_id": None,
    "tokens": 0,
    "cost_usd": 0.0,
    "started_at": None,
    "completed_at": None,
}
"""Fields a compact dict leaves out when they hold these values (of the same type)."""


def _transition_hint(status: Status) -> str:
    targets = sorted(s.value for s in TRANSITIONS[status])
    forced = sorted(s.value for s in FORCED_TRANSITIONS.get(status, ()))
    options = ", ".join(targets) or "nothing"
    if forced:
        options += " (with --force: " + ", ".join(forced) + ")"
    return f"From {status.value} a task can become: {options}."


def _parse_time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.utcoffset() is None:
        raise ValueError(f"{name} {value!r} has no timezone")
    return parsed


def _required_time(value: Any, name: str) -> datetime:
    parsed = _parse_time(value, name)
    if parsed is None:
        raise ValueError(f"{name} is missing")
    return parsed


def _string_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    return list(value)

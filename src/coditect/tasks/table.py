"""The tasks of a project in creation order, decoded from the state file on first use.

A state file holds one JSON line per task plus an index of what the dependency graph
needs (status, dependencies, priority, hours). Loading reads the index only; a task's
line is decoded when something first asks for the task. So ``coditect task next`` on
10,000 tasks decodes the one task it shows, and a save writes every task nobody touched
back byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from operator import attrgetter
from typing import Any, Protocol

import orjson

from coditect.errors import StateCorruptedError
from coditect.tasks.model import AgentTask, Priority, Status

__all__ = ["GraphNode", "TaskNode", "TaskTable"]


class GraphNode(Protocol):
    """What the dependency graph reads of a task: an AgentTask, or its index entry."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def dependencies(self) -> list[str]: ...
    @property
    def priority(self) -> Priority: ...
    @property
    def estimated_hours(self) -> float | None: ...


class TaskNode:
    """A stored task's index entry: enough for the graph, without decoding the task."""

    __slots__ = ("dependencies", "estimated_hours", "id", "priority", "status")

    def __init__(
        self,
        id: str,
        status: Status,
        dependencies: list[str],
        priority: Priority,
        estimated_hours: float | None,
    ) -> None:
        self.id = id
        self.status = status
        self.dependencies = dependencies
        self.priority = priority
        self.estimated_hours = estimated_hours


_STATUS_OF = {s.value: s for s in Status}
_PRIORITY_OF = {p.value: p for p in Priority}


class TaskTable(MutableMapping[str, AgentTask]):
    """Task id → task, in creation order; stored tasks are decoded on first access."""

    __slots__ = ("_lines", "nodes")

    def __init__(self, tasks: Iterable[AgentTask] = ()) -> None:
        self.nodes: dict[str, AgentTask | TaskNode] = {t.id: t for t in tasks}
        """Every task in order: the task once decoded (or new), else its index entry."""
        self._lines: dict[str, bytes] = {}
        """The line each stored task was loaded from."""

    @classmethod
    def stored(cls, index: Mapping[str, list[Any]], lines: list[bytes]) -> TaskTable:
        """A table over a state file's index and task lines, decoding nothing yet."""
        table = cls()
        status_of, priority_of = _STATUS_OF, _PRIORITY_OF
        ids = index["ids"]
        table.nodes = {
            i: TaskNode(i, status_of[s], d, priority_of[p], h)
            for i, s, d, p, h in zip(
                ids, index["status"], index["deps"], index["priority"], index["hours"], strict=True
            )
        }
        table._lines = dict(zip(ids, lines, strict=True))
        if len(table.nodes) < len(ids):
            raise ValueError("two tasks have the same id")
        return table

    # -- the mapping -----------------------------------------------------------------------

    def __getitem__(self, task_id: str) -> AgentTask:
        node = self.nodes[task_id]
        if type(node) is TaskNode:
            node = self.nodes[task_id] = _decode(self._lines[task_id])
        return node  # type: ignore[return-value]

    def __setitem__(self, task_id: str, task: AgentTask) -> None:
        self.nodes[task_id] = task

    def __delitem__(self, task_id: str) -> None:
        del self.nodes[task_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self.nodes

    def __repr__(self) -> str:
        return f"<TaskTable of {len(self.nodes)} tasks>"

    def line(self, task_id: str) -> bytes:
        """The line a stored task was loaded from (KeyError for a task added since)."""
        return self._lines[task_id]

    # -- encoding --------------------------------------------------------------------------

    def encode(self) -> tuple[dict[str, list[Any]], list[bytes], bool]:
        """The index, the task lines, and whether anything differs from what was loaded.

        A task never decoded is written back as the line it was read from. Statuses and
        priorities stay enum members, which orjson writes as their values."""
        loaded = self._lines
        nodes = list(self.nodes.values())
        changed = list(loaded) != list(self.nodes)  # added, deleted or moved
        lines: list[bytes] = []
        for task_id, node in self.nodes.items():
            if type(node) is TaskNode:
                lines.append(loaded[task_id])
            else:
                line = orjson.dumps(node.to_compact_dict())  # type: ignore[union-attr]
                changed = changed or line != loaded.get(task_id)
                lines.append(line)
        index: dict[str, list[Any]] = {
            "ids": list(self.nodes),
            "status": list(map(attrgetter("status"), nodes)),
            "deps": list(map(attrgetter("dependencies"), nodes)),
            "priority": list(map(attrgetter("priority"), nodes)),
            "hours": list(map(attrgetter("estimated_hours"), nodes)),
        }
        return index, lines, changed


def _decode(line: bytes) -> AgentTask:
    try:
        return AgentTask.from_trusted_dict(orjson.loads(line))
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise StateCorruptedError(
            f"a task in the state file is invalid: {exc!r}",
            "Run `coditect state verify`, then `coditect state rollback` to a valid backup.",
        ) from exc

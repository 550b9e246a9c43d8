"""Plans in and out: checkbox Markdown tasklists and Task Master ``tasks.json``.

A parser turns a file into ``PlanItem``s: the fields that format can express, for one
task each. ``merge_plan`` applies them to a project by id. The file is the truth for
what it can say (title, status, dependencies, ...); fields it cannot express (commands,
acceptance, history, ...) are left as they are. The syntax is documented in
``docs/plans.md``.
"""

from __future__ import annotations

import re
import textwrap
from base64 import b32encode
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import orjson

from coditect.errors import CoditectError, PlanFormatError, ValidationError
from coditect.tasks.model import AgentTask, Phase, Priority, Status, Transition, check_task_id
from coditect.tasks.orchestrator import Orchestrator

__all__ = [
    "MergeResult",
    "PlanItem",
    "export_markdown",
    "export_taskmaster",
    "merge_plan",
    "parse_markdown",
    "parse_plan",
    "parse_taskmaster",
    "read_plan",
]

PlanItem = dict[str, Any]
"""The fields of one task that a plan file states, always with ``id`` and ``title``."""

IMPORT_NOTE = "plan import"
IMPORTED_FAILURE = "marked failed in the plan"
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})

# -- Markdown -----------------------------------------------------------------------------

MARKS: dict[str, Status] = {
    " ": Status.PENDING,
    "x": Status.COMPLETED,
    "X": Status.COMPLETED,
    ">": Status.IN_PROGRESS,
    "!": Status.BLOCKED,
    "-": Status.CANCELLED,
    "f": Status.FAILED,
    "F": Status.FAILED,
}
MARK_OF: dict[Status, str] = {
    Status.PENDING: " ",
    Status.COMPLETED: "x",
    Status.IN_PROGRESS: ">",
    Status.BLOCKED: "!",
    Status.CANCELLED: "-",
    Status.FAILED: "f",
}
PHASE_WORDS: dict[str, Phase] = {
    "planning": Phase.PLANNING,
    "plan": Phase.PLANNING,
    "design": Phase.DESIGN,
    "architecture": Phase.DESIGN,
    "development": Phase.DEVELOPMENT,
    "implementation": Phase.DEVELOPMENT,
    "build": Phase.DEVELOPMENT,
    "testing": Phase.TESTING,
    "test": Phase.TESTING,
    "qa": Phase.TESTING,
    "verification": Phase.TESTING,
    "deployment": Phase.DEPLOYMENT,
    "deploy": Phase.DEPLOYMENT,
    "release": Phase.DEPLOYMENT,
    "maintenance": Phase.MAINTENANCE,
    "operations": Phase.MAINTENANCE,
}
META_KEYS = ("id", "agent", "priority", "phase", "hours", "after", "tags", "executor", "retries")

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")  # "## C#" keeps its #
_CHECKBOX = re.compile(r"^(\s*)[-*+]\s+\[(.?)\](.*)$")
_META = re.compile(r"\s*\{([^{}]*)\}\s*$")
_PHASE_HEADING = re.compile(r"^(?:phase\s+[\w.]+\s*[:.\-–—]\s*)?([a-z]+)\s*$", re.IGNORECASE)


def _phase_of_heading(text: str) -> Phase | None:
    """The phase a heading names: "Testing", "Phase 2: Development"; else None."""
    match = _PHASE_HEADING.match(text.strip())
    return PHASE_WORDS.get(match.group(1).lower()) if match else None


def _stable_id(section: str, title: str, taken: set[str]) -> str:
    """An id derived from where and what the item is, so re-imports find the same task."""
    for n in range(1000):
        seed = f"{section}\x00{title}\x00{n}" if n else f"{section}\x00{title}"
        candidate = "t-" + b32encode(sha256(seed.encode()).digest()).decode()[:7].lower()
        if candidate not in taken:
            return candidate
    raise AssertionError("sha256 cannot collide this often")


def _parse_meta(text: str, source: str, line: int) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if not sep or key not in META_KEYS:
            raise PlanFormatError(
                f"unknown metadata {token!r}",
                source=source,
                line=line,
                hint="Metadata is {key=value ...} with keys: " + ", ".join(META_KEYS) + ".",
            )
        if not value:
            raise PlanFormatError(f"{key}= has no value", source=source, line=line)
        try:
            fields.update(_meta_value(key, value))
        except (ValueError, ValidationError) as exc:
            message = exc.message if isinstance(exc, CoditectError) else str(exc)
            raise PlanFormatError(message, source=source, line=line) from exc
    return fields


def _meta_value(key: str, value: str) -> dict[str, Any]:
    if key == "id":
        return {"id": check_task_id(value)}
    if key == "agent":
        return {"agent": value}
    if key == "priority":
        return {"priority": _enum(Priority, value, "priority")}
    if key == "phase":
        return {"phase": _enum(Phase, value, "phase")}
    if key == "hours":
        hours = float(value.removesuffix("h"))
        if not hours > 0:
            raise ValueError(f"hours must be greater than 0, not {value}")
        return {"estimated_hours": hours}
    if key == "after":
        return {"dependencies": [check_task_id(v) for v in value.split(",") if v]}
    if key == "executor":
        return {"executor": value}
    if key == "retries":
        if not value.isdigit():
            raise ValueError(f"retries must be a whole number ≥ 0, not {value}")
        return {"max_retries": int(value)}
    return {"tags": [v for v in value.split(",") if v]}


def _enum(kind: Any, value: str, name: str) -> Any:
    try:
        return kind(value.lower())
    except ValueError:
        choices = ", ".join(e.value for e in kind)
        raise ValueError(f"invalid {name} {value!r} (choose from {choices})") from None


@dataclass
class _Open:
    """A tasklist item being read: its indent and the lines under it."""

    item: PlanItem
    indent: int
    line: int
    parent: _Open | None = None
    description: list[str] = field(default_factory=list)
    blanks: int = 0


def parse_markdown(text: str, source: str = "<tasklist>") -> list[PlanItem]:
    """Items of a checkbox tasklist; a malformed item raises with its line number."""
    items: list[_Open] = []
    stack: list[_Open] = []  # the chain of open parents, by indent
    phase: Phase | None = None
    section = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip():
            if items:
                items[-1].blanks += 1
            continue
        heading = _HEADING.match(line)
        checkbox = _CHECKBOX.match(line)
        if heading and not line.startswith(" "):
            level, title = len(heading.group(1)), heading.group(2)
            named = _phase_of_heading(title) if level <= 2 else None
            if named is not None:
                phase, section = named, ""
            elif level > 1:
                section = title
            stack.clear()
        elif checkbox:
            indent = len(checkbox.group(1).expandtabs(4))
            entry = _Open(
                _parse_item(checkbox.group(2), checkbox.group(3), source, number), indent, number
            )
            entry.item.setdefault("phase", phase or Phase.DEVELOPMENT)
            entry.item["section"] = section
            while stack and stack[-1].indent >= indent:
                stack.pop()
            entry.parent = stack[-1] if stack else None
            stack.append(entry)
            items.append(entry)
        elif items and raw[0] in " \t":  # an indented line: the description goes on
            last = items[-1]
            last.description.extend([""] * last.blanks)
            last.blanks = 0
            last.description.append(line)
        elif re.match(r"^\s*[-*+]\s+\[", line):
            raise PlanFormatError(
                f"malformed checkbox {line.strip()!r}",
                source=source,
                line=number,
                hint="Write items as `- [ ] Title`, with one of [ ] [x] [>] [!] [-] [f].",
            )
        else:
            stack.clear()
            if items:
                items[-1].blanks = 0
    return _finish_markdown(items, source)


def _parse_item(mark: str, rest: str, source: str, number: int) -> PlanItem:
    if mark not in MARKS:
        raise PlanFormatError(
            f"unknown checkbox mark [{mark}]",
            source=source,
            line=number,
            hint="Marks: [ ] pending, [x] completed, [>] in progress, [!] blocked, "
            "[-] cancelled, [f] failed.",
        )
    item: PlanItem = {"status": MARKS[mark]}
    meta = _META.search(rest)
    if meta:
        item.update(_parse_meta(meta.group(1), source, number))
        rest = rest[: meta.start()]
    elif re.search(r"\{[^}]*=[^}]*$", rest):
        raise PlanFormatError(
            "metadata is not closed with }",
            source=source,
            line=number,
            hint="Write metadata as {id=api priority=high} at the end of the line.",
        )
    title = rest.strip()
    if not title:
        raise PlanFormatError("a task needs a title", source=source, line=number)
    item["title"] = title
    return item


def _finish_markdown(entries: list[_Open], source: str) -> list[PlanItem]:
    taken = {e.item["id"] for e in entries if "id" in e.item}
    seen: dict[str, int] = {}
    for entry in entries:
        item = entry.item
        if "id" not in item:
            item["id"] = _stable_id(item["section"], item["title"], taken)
            taken.add(item["id"])
        if item["id"] in seen:
            raise PlanFormatError(
                f"id {item['id']} is also used on line {seen[item['id']]}",
                source=source,
                line=entry.line,
            )
        seen[item["id"]] = entry.line
        item["description"] = textwrap.dedent("\n".join(entry.description))
        item.setdefault("dependencies", [])
        item.setdefault("agent", None)
        item.setdefault("priority", Priority.MEDIUM)
        item.setdefault("estimated_hours", None)
        item.setdefault("tags", [])
        item.setdefault("executor", None)
        item.setdefault("max_retries", None)
    for entry in entries:  # a nested item is a sub-task: its parent depends on it
        parent = entry.parent
        if parent is not None and entry.item["id"] not in parent.item["dependencies"]:
            parent.item["dependencies"].append(entry.item["id"])
    return [e.item for e in entries]


def export_markdown(tasks: Iterable[AgentTask], title: str = "Plan") -> str:
    """A tasklist that ``parse_markdown`` reads back to the same ids, statuses and fields."""
    by_phase: dict[Phase, dict[str, list[AgentTask]]] = {}
    for task in tasks:
        by_phase.setdefault(task.phase, {}).setdefault(task.section, []).append(task)
    lines = [f"# {title}"]
    for phase in Phase:
        sections = by_phase.get(phase)
        if not sections:
            continue
        lines += ["", f"## {phase.value.capitalize()}"]
        for section in sorted(sections, key=lambda s: s != ""):  # unsectioned first
            if section:
                lines += ["", f"### {section}"]
            lines.append("")
            for task in sections[section]:
                lines.extend(_markdown_item(task))
    return "\n".join(lines) + "\n"


def _markdown_item(task: AgentTask) -> list[str]:
    meta = [f"id={task.id}"]
    if task.agent:
        meta.append(f"agent={task.agent}")
    if task.priority is not Priority.MEDIUM:
        meta.append(f"priority={task.priority.value}")
    if task.estimated_hours is not None:
        meta.append(f"hours={task.estimated_hours:g}")
    if task.dependencies:
        meta.append("after=" + ",".join(task.dependencies))
    if task.tags:
        meta.append("tags=" + ",".join(task.tags))
    if task.executor:
        meta.append(f"executor={task.executor}")
    if task.max_retries is not None:
        meta.append(f"retries={task.max_retries}")
    title = " ".join(task.title.split())
    lines = [f"- [{MARK_OF[task.status]}] {title} {{{' '.join(meta)}}}"]
    lines += [f"  {line}" if line else "" for line in task.description.splitlines()]
    return lines


# -- Task Master ----------------------------------------------------------------------------

TASKMASTER_STATUS: dict[str, Status] = {
    "pending": Status.PENDING,
    "in-progress": Status.IN_PROGRESS,
    "review": Status.IN_PROGRESS,
    "done": Status.COMPLETED,
    "completed": Status.COMPLETED,
    "blocked": Status.BLOCKED,
    "deferred": Status.BLOCKED,
    "cancelled": Status.CANCELLED,
    "failed": Status.FAILED,
}
STATUS_TO_TASKMASTER: dict[Status, str] = {
    Status.PENDING: "pending",
    Status.IN_PROGRESS: "in-progress",
    Status.COMPLETED: "done",
    Status.BLOCKED: "blocked",
    Status.CANCELLED: "cancelled",
    Status.FAILED: "pending",  # Task Master has no failed; the exact status rides along
}
TASKMASTER_PRIORITY: dict[str, Priority] = {p.value: p for p in Priority}
PRIORITY_TO_TASKMASTER: dict[Priority, str] = {
    Priority.CRITICAL: "high",
    Priority.HIGH: "high",
    Priority.MEDIUM: "medium",
    Priority.LOW: "low",
}
EXTRA_KEY = "coditect"
"""Exported tasks carry our exact fields under this key; Task Master ignores it."""
EXACT_FIELDS = (
    "agent",
    "estimated_hours",
    "tags",
    "section",
    "commands",
    "acceptance",
    "executor",
    "max_retries",
    "deliverables",
    "output_files",
)
"""Fields that only the ``coditect`` key can carry, taken from it as they are."""


def parse_taskmaster(
    text: str | bytes, source: str = "<tasks.json>", tag: str | None = None
) -> list[PlanItem]:
    """Items of a Task Master file, tagged (``{"master": {"tasks": …}}``) or plain."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise PlanFormatError(f"invalid JSON: {exc}", source=source) from exc
    tasks = _taskmaster_tasks(document, source, tag)
    items: list[PlanItem] = []
    for position, raw in enumerate(tasks):
        where = f"task #{position + 1}"
        if not isinstance(raw, dict) or "id" not in raw:
            raise PlanFormatError(f"{where} has no id", source=source)
        items.extend(_taskmaster_task(raw, source))
    # An exported task's number stands for its exact id (under "coditect"), in the
    # dependencies of the other tasks too.
    renamed = {item.pop("_number"): item["id"] for item in items if "_number" in item}
    if renamed:
        for item in items:
            item["dependencies"] = [renamed.get(d, d) for d in item["dependencies"]]
    ids = [item["id"] for item in items]
    if len(set(ids)) < len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise PlanFormatError(
            f"ids used more than once: {', '.join(twice)}",
            source=source,
            hint="Each task and sub-task needs its own id (sub-task 2 of task 5 is 5.2).",
        )
    return items


def _taskmaster_tasks(document: Any, source: str, tag: str | None) -> list[Any]:
    if isinstance(document, dict) and isinstance(document.get("tasks"), list):
        if tag is not None:
            raise PlanFormatError(f"this file has no tags, so no tag {tag!r}", source=source)
        return list(document["tasks"])
    tags = {
        k: v
        for k, v in (document.items() if isinstance(document, dict) else ())
        if isinstance(v, dict) and isinstance(v.get("tasks"), list)
    }
    if not tags:
        raise PlanFormatError(
            "not a Task Master file: no task list found",
            source=source,
            hint='Expected {"tasks": [...]} or {"<tag>": {"tasks": [...]}}.',
        )
    chosen = tag or ("master" if "master" in tags else next(iter(tags)) if len(tags) == 1 else None)
    if chosen not in tags:
        raise PlanFormatError(
            f"choose a tag with --tag; this file has: {', '.join(tags)}"
            if chosen is None
            else f"no tag {chosen!r}; this file has: {', '.join(tags)}",
            source=source,
        )
    return list(tags[chosen]["tasks"])


def _tm_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"invalid id {value!r}")
    return check_task_id(str(value))


def _taskmaster_task(raw: dict[str, Any], source: str) -> list[PlanItem]:
    try:
        task_id = _tm_id(raw["id"])
        item = _taskmaster_fields(raw, task_id, None)
        subtasks = raw.get("subtasks") or []
        sub_ids = {}
        for sub in subtasks:
            local = sub.get("id")
            sub_ids[local] = _subtask_id(task_id, local)
        items = [item]
        for sub in subtasks:
            sub_item = _taskmaster_fields(sub, sub_ids[sub.get("id")], item["priority"])
            sub_item["dependencies"] = [
                _subtask_dep(task_id, d, sub_ids) for d in sub.get("dependencies") or []
            ]
            items.append(sub_item)
        for sub_id in sub_ids.values():
            if sub_id not in item["dependencies"]:
                item["dependencies"].append(sub_id)
    except (ValueError, TypeError, KeyError, AttributeError, ValidationError) as exc:
        message = exc.message if isinstance(exc, CoditectError) else str(exc)
        raise PlanFormatError(f"task {raw.get('id')!r}: {message}", source=source) from exc
    return items


def _subtask_id(parent: str, local: Any) -> str:
    """``5.2`` for sub-task 2 of task 5, whether the file says ``2``, ``5.2`` or ``"5.2"``."""
    text = _tm_id(local)
    return text if text.startswith(parent + ".") else f"{parent}.{text}"


def _subtask_dep(parent: str, dep: Any, siblings: dict[Any, str]) -> str:
    """A sub-task's dependency: a sibling's local id, a ``"task.sub"`` id, or a task id."""
    if dep in siblings:
        return siblings[dep]
    return _tm_id(dep)


def _taskmaster_fields(raw: dict[str, Any], task_id: str, inherited: Any) -> PlanItem:
    extra = raw.get(EXTRA_KEY) if isinstance(raw.get(EXTRA_KEY), dict) else {}
    title = (raw.get("title") or "").strip() or _title_from(raw.get("description"), task_id)
    status_text = str(raw.get("status") or "pending").lower()
    if status_text not in TASKMASTER_STATUS:
        raise ValueError(f"unknown status {status_text!r} (known: {', '.join(TASKMASTER_STATUS)})")
    priority = raw.get("priority")
    item: PlanItem = {
        "id": task_id,
        "title": title,
        "description": raw.get("description") or "",
        "notes": raw.get("details") or "",
        "success_criteria": [raw["testStrategy"]] if raw.get("testStrategy") else [],
        "status": TASKMASTER_STATUS[status_text],
        "priority": _enum(Priority, priority, "priority")
        if priority
        else inherited or Priority.MEDIUM,
        "dependencies": [_tm_id(d) for d in raw.get("dependencies") or []],
    }
    if extra:
        item["id"] = _tm_id(extra.get("id", task_id))
        if item["id"] != task_id:
            item["_number"] = task_id
        for key in EXACT_FIELDS:
            if key in extra:
                item[key] = extra[key]
        if "phase" in extra:
            item["phase"] = _enum(Phase, extra["phase"], "phase")
        # The exact values ride along for what Task Master cannot say (failed, critical,
        # several criteria); where someone edited the Task Master field since, it wins.
        if "status" in extra:
            exact = _enum(Status, extra["status"], "status")
            if STATUS_TO_TASKMASTER[exact] == status_text:
                item["status"] = exact
        if "priority" in extra and priority:
            exact = _enum(Priority, extra["priority"], "priority")
            if PRIORITY_TO_TASKMASTER[exact] == str(priority).lower():
                item["priority"] = exact
        criteria = extra.get("success_criteria")
        if isinstance(criteria, list) and "\n".join(map(str, criteria)) == (
            raw.get("testStrategy") or ""
        ):
            item["success_criteria"] = criteria
    return item


def _title_from(description: Any, task_id: str) -> str:
    text = " ".join(str(description or "").split())
    if not text:
        return f"Task {task_id}"
    return text if len(text) <= 80 else text[:79].rstrip() + "…"


def export_taskmaster(tasks: Iterable[AgentTask], tag: str = "master") -> dict[str, Any]:
    """A tagged Task Master document. Task Master needs integer ids, so tasks are
    numbered (numeric ids are kept); the original id and exact fields ride along under
    ``"coditect"``, which our import reads back."""
    task_list = list(tasks)
    numbers: dict[str, int] = {
        t.id: int(t.id) for t in task_list if t.id.isdigit() and str(int(t.id)) == t.id
    }  # "007" is numbered like any other id, so that it cannot take the 7 of "7"
    counter = max(numbers.values(), default=0)
    for task in task_list:
        if task.id not in numbers:
            counter += 1
            numbers[task.id] = counter
    now = datetime.now(UTC).isoformat()
    exported = [
        {
            "id": numbers[t.id],
            "title": t.title,
            "description": t.description,
            "details": t.notes,
            "testStrategy": "\n".join(t.success_criteria),
            "priority": PRIORITY_TO_TASKMASTER[t.priority],
            "dependencies": [numbers[d] for d in t.dependencies],
            "status": STATUS_TO_TASKMASTER[t.status],
            "subtasks": [],
            EXTRA_KEY: {
                "id": t.id,
                "status": t.status.value,
                "priority": t.priority.value,
                "phase": t.phase.value,
                "agent": t.agent,
                "estimated_hours": t.estimated_hours,
                "success_criteria": t.success_criteria,
                **{key: getattr(t, key) for key in EXACT_FIELDS},
            },
        }
        for t in task_list
    ]
    metadata = {"created": now, "updated": now, "description": "Exported by coditect"}
    return {tag: {"tasks": exported, "metadata": metadata}}


# -- reading files and merging -----------------------------------------------------------------


def parse_plan(data: bytes, source: str, *, tag: str | None = None) -> list[PlanItem]:
    """Items of a plan file; JSON is read as Task Master, anything else as a tasklist."""
    suffix = Path(source).suffix.lower()
    if suffix == ".json" or (suffix not in MARKDOWN_SUFFIXES and data.lstrip().startswith(b"{")):
        return parse_taskmaster(data, source, tag)
    if tag is not None:
        raise PlanFormatError("--tag applies to Task Master files only", source=source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFormatError(f"not UTF-8 text ({exc.reason})", source=source) from exc
    return parse_markdown(text, source)


def read_plan(path: Path, *, tag: str | None = None) -> list[PlanItem]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanFormatError(f"cannot read the file: {exc.strerror}", source=str(path)) from exc
    return parse_plan(data, str(path), tag=tag)


@dataclass(frozen=True)
class MergeResult:
    added: list[str]
    updated: list[str]
    unchanged: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged}


def merge_plan(orchestrator: Orchestrator, items: list[PlanItem]) -> MergeResult:
    """Merge plan items into the project by id, all or nothing.

    New ids are added; existing tasks take the fields the file states; tasks the file
    does not mention are left alone. The whole result is validated (dependencies,
    cycles) before anything changes, so the order of items in the file is free.
    """
    added, updated, unchanged = [], [], []
    staged: dict[str, AgentTask] = {}
    for item in items:
        fields = {k: v for k, v in item.items() if k != "status"}
        status: Status = item.get("status", Status.PENDING)
        existing = orchestrator.tasks.get(item["id"])
        if existing is None:
            task = AgentTask(**fields)
            task.history.append(Transition(task.created_at, None, Status.PENDING, IMPORT_NOTE))
            if status is not Status.PENDING:
                task.record(status, IMPORT_NOTE, error=IMPORTED_FAILURE)
            added.append(task.id)
        else:
            current = {k: getattr(existing, k) for k in fields}
            if current == fields and existing.status is status:
                unchanged.append(existing.id)
                continue
            task = replace(existing, **fields, history=list(existing.history))
            if status is not existing.status:
                task.record(status, IMPORT_NOTE, error=IMPORTED_FAILURE)
            updated.append(task.id)
        staged[task.id] = task
    orchestrator.put(staged.values())
    return MergeResult(added, updated, unchanged)

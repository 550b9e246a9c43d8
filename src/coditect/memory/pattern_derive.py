"""From stored messages to the rows patterns are counted from.

``derive`` reads the tool calls, tool results and decision sentences of a set of
messages (their content parsed with orjson; full-text search preselects the messages
worth testing for decisions) and writes ``pattern_calls``, ``pattern_results`` and the decision rows
of ``pattern_events``. ``sequence_events`` then walks the calls of one session, thread
by thread, in order, for what only a sequence shows: an error followed by its fix, and
the workflows (n-grams of steps) that recur.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from coditect.memory import fts
from coditect.memory.dedup import result_text
from coditect.memory.extract import (
    command_signature,
    find_decisions,
    relative_path,
    result_status,
    workflow_step,
)

__all__ = ["Call", "Derived", "derive", "sequence_events"]

FILE_TOOLS = frozenset({"Read", "Edit", "MultiEdit", "Write", "NotebookEdit", "Update"})
SKIPPED_STEPS = frozenset(
    {"TodoWrite", "TodoRead", "TaskCreate", "TaskUpdate", "TaskList", "TaskGet", "ToolSearch"}
)
"""Bookkeeping tools: no step of the work, left out of workflows."""
WORKFLOW_LENGTH = 3
RETRY_LOOKAHEAD = 10
"""How many calls after a failure a retry of it may come."""
ARG_LENGTH = 500
HEAD_CHARS = 3000
TAIL_CHARS = 1500
_ARG_KEYS = ("command", "file_path", "notebook_path", "args")
"""Where a call's main argument is: Bash's command, a file tool's path, an export's text."""
DECISION_QUERY = (
    'decided OR decision OR chose OR chosen OR opted OR instead OR rather OR "going with" '
    'OR "go with" OR "stick with" OR "sticking with" OR "settle on" OR "settled on" '
    "OR switched OR switching OR migrated OR migrating OR approach OR option OR choice "
    'OR solution OR way OR because OR since OR "so that"'
)
"""Full-text prefilter for decision sentences; ``extract.find_decisions`` decides."""

_MESSAGES = """
SELECT m.id, m.session_id, coalesce(m.agent_id, ''), m.ts, m.content FROM messages AS m
WHERE {where} AND instr(m.content, '"type":"tool_') > 0 ORDER BY m.id
"""
_TEXTS = """
SELECT m.id, m.session_id, m.ts, m.content FROM messages AS m
WHERE {where} AND m.role = 'assistant' ORDER BY m.id
"""


@dataclass(slots=True)
class Derived:
    """What ``derive`` read from a set of messages."""

    calls: list[list[Any]] = field(default_factory=list)
    results: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    sessions: set[str] = field(default_factory=set)


def _clip(text: str, limit: int = ARG_LENGTH) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Projects:
    """Sessions' project folders, looked up once each."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.known: dict[str, str] = {}

    def __getitem__(self, session: str) -> str:
        if session not in self.known:
            row = self.conn.execute("SELECT project FROM sessions WHERE id = ?", (session,))
            found = row.fetchone()
            self.known[session] = found[0] if found else ""
        return self.known[session]


def _call_row(
    block: dict[str, Any], index: int, where: tuple[Any, ...], projects: _Projects
) -> list[Any]:
    message, session, thread, ts = where
    tool = str(block.get("name") or "?")
    given = block.get("input")
    given = given if isinstance(given, dict) else {}
    arg = next((v for k in _ARG_KEYS if isinstance(v := given.get(k), str)), "")
    if tool == "Bash":
        kind, key = "command", command_signature(arg)
        step = workflow_step(tool, key)
    elif tool in FILE_TOOLS and arg:
        kind, key, step = "file", relative_path(arg.strip(), projects[session]), workflow_step(tool)
    else:
        kind, key, step, arg = "other", tool, workflow_step(tool), ""
    call_id = block.get("id")
    call_id = call_id if isinstance(call_id, str) else None
    return [
        message,
        index,
        session,
        thread,
        ts,
        call_id,
        tool,
        kind,
        key,
        step,
        _clip(arg.strip()),
        "unknown",
        "",
    ]


def _output(block: dict[str, Any]) -> str:
    """A result's text: its beginning and, when long, its end (where summaries are)."""
    text = result_text(block.get("content"))
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def _blocks(conn: sqlite3.Connection, where: str, params: Sequence[Any], out: Derived) -> None:
    """Tool calls and results, read with orjson: faster than SQLite's JSON functions,
    which parse a message again for every field asked of it."""
    projects = _Projects(conn)
    for message, session, thread, ts, content in conn.execute(
        _MESSAGES.format(where=where), params
    ):
        out.sessions.add(session)
        pending: dict[str, list[Any]] = {}
        for index, block in enumerate(orjson.loads(content)):
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "tool_use":
                call = _call_row(block, index, (message, session, thread, ts), projects)
                out.calls.append(call)
                pending[str(block.get("id"))] = call
            elif kind == "tool_result":
                status, error = result_status(block.get("is_error") is True, _output(block))
                answer_to = block.get("tool_use_id")
                answered = pending.get(str(answer_to))
                if answered is not None:  # an /export turn: the call and its output together
                    answered[11], answered[12] = status, error
                elif isinstance(answer_to, str):
                    out.results.append((message, answer_to, status, error))


def _decisions(conn: sqlite3.Connection, where: str, params: Sequence[Any], out: Derived) -> None:
    for message, session, ts, content in conn.execute(_TEXTS.format(where=where), params):
        texts = [
            b["text"]
            for b in orjson.loads(content)
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        for decision in find_decisions("\n".join(texts)):
            out.sessions.add(session)
            out.events.append(
                (
                    session,
                    message,
                    "decisions",
                    decision.key[:200],
                    decision.sentence,
                    ts,
                    decision.weight,
                    decision.rule,
                )
            )


def derive(conn: sqlite3.Connection, low: int, high: int, *, dirty: bool = False) -> Derived:
    """Calls, results and decisions of the messages with ids in ``(low, high]``, or with
    ``dirty``, of the messages listed in ``pattern_dirty`` up to ``high``."""
    out = Derived()
    if dirty:
        where = "m.id IN (SELECT message_id FROM pattern_dirty WHERE message_id <= ?)"
        _blocks(conn, where, (high,), out)
        _decisions(conn, where, (high,), out)
    else:
        _blocks(conn, "m.id > ? AND m.id <= ?", (low, high), out)
        held = [s for s in fts.shards(conn) if (s.end is None or s.end > low) and s.first <= high]
        if held:
            candidates = " UNION ALL ".join(
                f"SELECT rowid FROM {s.name} WHERE {s.name} MATCH ? AND rowid > ? AND rowid <= ?"
                for s in held
            )
            _decisions(
                conn, f"m.id IN ({candidates})", (DECISION_QUERY, low, high) * len(held), out
            )
    return out


# --- sequences -----------------------------------------------------------------------


class Call(NamedTuple):
    """One call as the sequence analysis sees it."""

    session_id: str
    thread: str
    ts: str | None
    tool: str
    kind: str
    key: str
    step: str
    arg: str
    status: str
    error: str


def _similar(failed: Call, other: Call) -> bool:
    """Whether ``other`` retries ``failed``: the same tool on the same file, or a command
    sharing a part of its signature (``pytest`` and ``ruff check && pytest``)."""
    if other.tool != failed.tool:
        return False
    if failed.kind == "command":
        return bool(failed.key) and bool(
            set(failed.key.split(" && ")) & set(other.key.split(" && "))
        )
    if failed.kind == "file":
        return other.key == failed.key
    return True


def _fix(failed: Call, between: Sequence[Call], retry: Call) -> str:
    """What happened between a failure and the retry that worked, in a few words."""
    parts: list[str] = []
    if failed.kind == "file" and any(c.step == "Read" and c.key == failed.key for c in between):
        parts.append("read it first")
    edited = list(dict.fromkeys(c.key for c in between if c.step in ("Edit", "Write")))
    if edited:
        more = " …" if len(edited) > 3 else ""
        parts.append(f"edited {', '.join(edited[:3])}{more}")
    if failed.kind != "command":
        parts.append(f"retried {retry.tool}")
    elif retry.arg and retry.arg != failed.arg:
        parts.append(f"ran `{_clip(retry.arg, 160)}`")
    else:
        parts.append("ran it again")
    return ", then ".join(parts)


def _error_events(calls: list[Call]) -> Iterator[tuple[Any, ...]]:
    for index, failed in enumerate(calls):
        if failed.status != "error":
            continue
        subject = failed.key if failed.kind == "command" and failed.key else failed.tool
        key = f"{subject}: {failed.error}"
        fix = ""
        window = calls[index + 1 : index + 1 + RETRY_LOOKAHEAD]
        for offset, later in enumerate(window):
            if later.status == "ok" and _similar(failed, later):
                fix = _fix(failed, window[:offset], later)
                break
        yield (
            failed.session_id,
            None,
            "errors",
            key[:300],
            key[:300],
            failed.ts,
            1.0 if fix else 0.0,
            fix,
        )


def _workflow_events(calls: list[Call]) -> Iterator[tuple[Any, ...]]:
    steps: list[Call] = []
    for call in calls:
        if call.tool in SKIPPED_STEPS:
            continue
        if not steps or steps[-1].step != call.step:
            steps.append(call)
    for end in range(WORKFLOW_LENGTH - 1, len(steps)):
        names = [c.step for c in steps[end - WORKFLOW_LENGTH + 1 : end + 1]]
        key = " → ".join(names)
        yield (
            steps[end].session_id,
            None,
            "workflows",
            key,
            key,
            steps[end].ts,
            None,
            " → ".join(names[:-1]),
        )


def sequence_events(calls: list[Call]) -> list[tuple[Any, ...]]:
    """The error and workflow events of one thread's calls, in order."""
    return [*_error_events(calls), *_workflow_events(calls)]

"""``coditect memory patterns`` and ``coditect memory context``: what past sessions teach.

``register`` adds both commands to the ``memory`` Typer app (see ``cli/__init__.py``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from coditect.memory.patterns import Pattern
    from coditect.memory.store import MemoryStore

__all__ = ["context", "patterns", "register"]

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class PatternType(StrEnum):
    commands = "commands"
    files = "files"
    errors = "errors"
    decisions = "decisions"
    workflows = "workflows"


def _when(stamp: str | None) -> str:
    return (stamp or "")[:16].replace("T", " ")


def _first_line(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _rows(kind: str, found: list[Pattern]) -> tuple[list[str], list[list[Any]]]:
    """The columns and rows of one pattern type's table."""
    if kind == "commands":
        return ["command", "runs", "ok", "failed", "confidence", "last seen", "example"], [
            [
                p.key,
                p.frequency,
                p.successes,
                p.failures,
                f"{p.confidence:.2f}",
                _when(p.last_seen),
                _first_line(p.example),
            ]
            for p in found
        ]
    if kind == "files":
        return ["file", "uses", "reads", "edits", "writes", "sessions", "last seen"], [
            [
                p.key,
                p.frequency,
                p.detail.get("reads"),
                p.detail.get("edits"),
                p.detail.get("writes"),
                p.sessions,
                _when(p.last_seen),
            ]
            for p in found
        ]
    if kind == "errors":
        return ["error", "times", "fixed", "confidence", "fix seen"], [
            [
                _first_line(p.key, 100),
                p.frequency,
                p.successes,
                f"{p.confidence:.2f}",
                _first_line(p.example, 100),
            ]
            for p in found
        ]
    if kind == "decisions":
        return ["last seen", "decision", "times", "confidence"], [
            [_when(p.last_seen), p.label, p.frequency, f"{p.confidence:.2f}"] for p in found
        ]
    return ["workflow", "times", "sessions", "confidence", "after its first two steps"], [
        [
            p.key,
            p.frequency,
            p.sessions,
            f"{p.confidence:.2f}",
            f"{p.frequency} of {p.detail.get('prefix_count')}",
        ]
        for p in found
    ]


def patterns(
    kind: Annotated[
        PatternType | None,
        typer.Option("--type", help="Only this kind of pattern (default: every kind)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many patterns of each kind.")] = 15,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Read every message again instead of new ones.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Patterns in past sessions: commands, files, errors and fixes, decisions, workflows."""
    from coditect.cli._output import emit_json, out, print_table
    from coditect.memory.patterns import PATTERN_TYPES, list_patterns, refresh_patterns

    with _open_memory() as store:
        refreshed = refresh_patterns(store, rebuild=rebuild)
        found = list_patterns(store, kind.value if kind else None, limit=limit, refresh=False)
    if as_json:
        emit_json({"refresh": refreshed.to_dict(), "patterns": [p.to_dict() for p in found]})
        return
    for name in [kind.value] if kind else list(PATTERN_TYPES):
        of_kind = [p for p in found if p.type == name]
        if not of_kind:
            out(f"{name}: none found")
            continue
        columns, rows = _rows(name, of_kind)
        print_table(columns, rows, title=name)


def _open_memory() -> MemoryStore:
    from coditect.errors import NotFoundError
    from coditect.memory.store import MemoryStore
    from coditect.paths import find_project

    project = find_project()
    if not (project.dir / "memory.db").exists():
        raise NotFoundError("this project has no memory yet", "Run `coditect memory import` first.")
    return MemoryStore.for_project(project)


def context(
    target: Annotated[
        str,
        typer.Argument(help="A task id, or the text of what is to be done.", metavar="TASK|TEXT"),
    ],
    budget: Annotated[int, typer.Option(help="At most this many tokens (characters / 4).")] = 2000,
    as_json: Json = False,
) -> None:
    """The context an agent gets for a task: similar tasks, past messages, patterns."""
    from coditect.cli._output import emit_json, out
    from coditect.cli._project import open_store, reading
    from coditect.memory.context import build_context

    project, _, store = open_store()
    tasks = reading(store).tasks
    task = tasks.get(target)
    bundle = build_context(
        project, task=task, text="" if task else target, budget=budget, tasks=tasks.values()
    )
    if as_json:
        emit_json(bundle.to_dict())
        return
    rendered = bundle.render()
    print(rendered if rendered else "(nothing relevant found)")
    about = f"task {bundle.task_id}" if bundle.task_id else "the text"
    out(f"[{bundle.tokens} of {budget} tokens for {about}; terms: {', '.join(bundle.terms)}]")
    for note in bundle.notes:
        out(f"note: {note}")


def register(app: typer.Typer) -> None:
    """Add these commands to the ``memory`` app."""
    app.command("patterns")(patterns)
    app.command("context")(context)

"""``coditect task``: add, inspect, change and move tasks through their lifecycle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from coditect.tasks.model import Phase, Priority, Status

if TYPE_CHECKING:
    from coditect.tasks.model import AgentTask
    from coditect.tasks.orchestrator import TaskFilter

app = typer.Typer(help="Add, inspect, change and move tasks.", no_args_is_help=True)

TaskId = Annotated[str, typer.Argument(help="The task's id.", metavar="ID", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON (documented field names).")]
Note = Annotated[str, typer.Option("--note", "-n", help="A note for the task's history.")]
PhaseOpt = Annotated[Phase | None, typer.Option(help="Only this phase.")]
PriorityOpt = Annotated[Priority | None, typer.Option(help="Only this priority.")]
AgentOpt = Annotated[str | None, typer.Option(help="Only tasks assigned to this agent.")]
TagOpt = Annotated[str | None, typer.Option(help="Only tasks with this tag.")]
Many = Annotated[list[str] | None, typer.Option()]


def _split(values: list[str] | None) -> list[str] | None:
    """Repeated options, each of which may also hold a comma-separated list."""
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _metadata(pairs: list[str] | None) -> dict[str, Any] | None:
    if pairs is None:
        return None
    from coditect.errors import ValidationError

    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationError(f"--meta {pair!r} is not key=value")
        result[key] = value
    return result


def _show_task(task: AgentTask, as_json: bool) -> None:
    from coditect.cli._output import emit_json, out

    if as_json:
        emit_json(task.to_dict())
    else:
        out(f"{task.id}  {task.status.value}  {task.title}")


def _filter(
    phase: Phase | None,
    priority: Priority | None,
    agent: str | None,
    tag: str | None,
    status: Status | None = None,
) -> TaskFilter:
    from coditect.tasks.orchestrator import TaskFilter

    return TaskFilter(status=status, phase=phase, priority=priority, agent=agent, tag=tag)


def _rows(tasks: list[AgentTask]) -> list[list[Any]]:
    return [
        [
            t.id,
            t.status.value,
            t.priority.value,
            t.phase.value,
            t.agent or "",
            "" if t.estimated_hours is None else f"{t.estimated_hours:g}",
            ",".join(t.dependencies),
            t.title,
        ]
        for t in tasks
    ]


ExecutorOpt = Annotated[
    str | None,
    typer.Option(help="What runs the task: script, claude-code, api, interactive."),
]
RetriesOpt = Annotated[
    int | None,
    typer.Option("--retries", min=0, help="Retries of a failed attempt in `coditect run`."),
]

COLUMNS = ["id", "status", "priority", "phase", "agent", "hours", "after", "title"]


@app.command()
def add(
    title: Annotated[str, typer.Argument(help="What the task is, in a line.", metavar="TITLE")],
    task_id: Annotated[
        str | None, typer.Option("--id", help="Your id (default: a hash id).")
    ] = None,
    description: Annotated[str, typer.Option("--description", "-D")] = "",
    agent: Annotated[str | None, typer.Option(help="The agent to assign.")] = None,
    priority: Annotated[Priority, typer.Option()] = Priority.MEDIUM,
    phase: Annotated[Phase, typer.Option()] = Phase.DEVELOPMENT,
    depends: Annotated[
        list[str] | None, typer.Option("--depends", "-d", help="Ids this task needs first.")
    ] = None,
    hours: Annotated[float | None, typer.Option(help="Estimated hours (> 0).")] = None,
    deliverable: Many = None,
    criterion: Annotated[list[str] | None, typer.Option(help="A success criterion.")] = None,
    acceptance: Annotated[
        str | None, typer.Option(help="A command that must pass for the task to count as done.")
    ] = None,
    command: Annotated[list[str] | None, typer.Option(help="A command the task runs.")] = None,
    executor: ExecutorOpt = None,
    retries: RetriesOpt = None,
    tag: Many = None,
    output_file: Many = None,
    notes: str = "",
    section: str = "",
    meta: Annotated[list[str] | None, typer.Option(help="Metadata as key=value.")] = None,
    as_json: Json = False,
) -> None:
    """Add a task."""
    from coditect.cli._project import editing
    from coditect.errors import ValidationError
    from coditect.tasks.model import AgentTask

    if not title.strip():
        raise ValidationError("the title must not be empty")
    with editing() as project:
        task = project.add(
            AgentTask(
                id=task_id or project.new_id(title),
                title=title,
                description=description,
                agent=agent,
                priority=priority,
                phase=phase,
                dependencies=_split(depends) or [],
                estimated_hours=hours,
                deliverables=deliverable or [],
                success_criteria=criterion or [],
                acceptance=acceptance,
                commands=command or [],
                executor=executor,
                max_retries=retries,
                tags=_split(tag) or [],
                output_files=output_file or [],
                notes=notes,
                section=section,
                metadata=_metadata(meta) or {},
            )
        )
    _show_task(task, as_json)


@app.command("list")
def list_tasks(
    status: Annotated[Status | None, typer.Option(help="Only this status.")] = None,
    phase: PhaseOpt = None,
    priority: PriorityOpt = None,
    agent: AgentOpt = None,
    tag: TagOpt = None,
    as_json: Json = False,
) -> None:
    """List tasks in creation order."""
    from coditect.cli._output import emit_json, print_table
    from coditect.cli._project import reading

    tasks = reading().select(_filter(phase, priority, agent, tag, status))
    if as_json:
        emit_json([t.to_dict() for t in tasks])
    else:
        print_table(COLUMNS, _rows(tasks))


@app.command()
def show(task_id: TaskId, as_json: Json = False) -> None:
    """Show one task with its whole history."""
    from coditect.cli._output import emit_json, escape, out, print_table
    from coditect.cli._project import reading

    project = reading()
    task = project.get(task_id)
    data = {**task.to_dict(), "dependents": project.dependents(task_id)}
    if as_json:
        emit_json(data)
        return
    history = data.pop("history")
    for key, value in data.items():
        if value in (None, "", [], {}) and key not in ("status", "attempts"):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        gap = "\n" if "\n" in str(shown) else " "
        out(f"[bold]{key}[/]:{gap}{escape(str(shown))}", markup=True)
    print_table(
        ["at", "from", "to", "note"],
        [[h["at"], h["from"] or "", h["to"], h["note"]] for h in history],
        title="history",
    )


@app.command()
def update(
    task_id: TaskId,
    title: str | None = None,
    description: Annotated[str | None, typer.Option("--description", "-D")] = None,
    agent: str | None = None,
    priority: Priority | None = None,
    phase: Phase | None = None,
    depends: Annotated[
        list[str] | None,
        typer.Option("--depends", "-d", help="Replace the dependencies ('' for none)."),
    ] = None,
    hours: float | None = None,
    acceptance: str | None = None,
    command: Annotated[
        list[str] | None, typer.Option(help="Replace the commands ('' for none).")
    ] = None,
    executor: ExecutorOpt = None,
    retries: RetriesOpt = None,
    tag: Annotated[list[str] | None, typer.Option(help="Replace the tags.")] = None,
    notes: str | None = None,
    section: str | None = None,
    status: Annotated[
        Status | None, typer.Option(help="Move to this status, by the lifecycle's rules.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Allow a forced transition.")] = False,
    note: Note = "",
    as_json: Json = False,
) -> None:
    """Change a task's fields (and, with --status, its status)."""
    from coditect.cli._project import editing

    changes = {
        key: value
        for key, value in {
            "title": title,
            "description": description,
            "agent": agent,
            "priority": priority,
            "phase": phase,
            "dependencies": _split(depends),
            "estimated_hours": hours,
            "acceptance": acceptance,
            "commands": None if command is None else [c for c in command if c],
            "executor": executor,
            "max_retries": retries,
            "tags": _split(tag),
            "notes": notes,
            "section": section,
        }.items()
        if value is not None
    }
    with editing() as project:
        task = project.update(task_id, **changes) if changes else project.get(task_id)
        if status is not None and status is not task.status:
            task = project.set_status(task_id, status, note=note, force=force)
    _show_task(task, as_json)


@app.command()
def delete(
    task_id: TaskId,
    force: Annotated[
        bool, typer.Option(help="Delete even if other tasks depend on it; they lose the link.")
    ] = False,
) -> None:
    """Delete a task."""
    from coditect.cli._output import out
    from coditect.cli._project import editing

    with editing() as project:
        result = project.delete(task_id, force=force)
    out(f"Deleted {result.deleted}.")
    if result.detached:
        out(f"These tasks no longer depend on it: {', '.join(result.detached)}")


@app.command()
def start(task_id: TaskId, note: Note = "", as_json: Json = False) -> None:
    """Start a task; its dependencies must be completed."""
    from coditect.cli._project import editing

    with editing() as project:
        task = project.start(task_id, note=note)
    _show_task(task, as_json)


@app.command()
def complete(
    task_id: TaskId,
    note: Note = "",
    force: Annotated[bool, typer.Option(help="Complete a task that was never started.")] = False,
    as_json: Json = False,
) -> None:
    """Mark a task completed."""
    from coditect.cli._project import editing

    with editing() as project:
        task = project.complete(task_id, note=note, force=force)
    _show_task(task, as_json)


@app.command()
def fail(
    task_id: TaskId,
    error: Annotated[str, typer.Option("--error", "-e", help="What went wrong.")],
    as_json: Json = False,
) -> None:
    """Mark a started task failed, with its error."""
    from coditect.cli._project import editing

    with editing() as project:
        task = project.fail(task_id, error)
    _show_task(task, as_json)


@app.command()
def cancel(task_id: TaskId, note: Note = "", as_json: Json = False) -> None:
    """Cancel a task."""
    from coditect.cli._project import editing

    with editing() as project:
        task = project.cancel(task_id, note=note)
    _show_task(task, as_json)


@app.command()
def retry(task_id: TaskId, note: Note = "", as_json: Json = False) -> None:
    """Send a failed or cancelled task back to pending."""
    from coditect.cli._project import editing

    with editing() as project:
        task = project.retry(task_id, note=note)
    _show_task(task, as_json)


@app.command("next")
def next_task(
    phase: PhaseOpt = None,
    priority: PriorityOpt = None,
    agent: AgentOpt = None,
    tag: TagOpt = None,
    as_json: Json = False,
) -> None:
    """The one task to do next (exit 3 if nothing is ready)."""
    from coditect.cli._output import emit_json, escape, out
    from coditect.cli._project import reading
    from coditect.errors import NotFoundError

    task = reading().next(_filter(phase, priority, agent, tag))
    if task is None:
        raise NotFoundError(
            "no task is ready", "`coditect report` shows what is blocked and what is left."
        )
    if as_json:
        emit_json(task.to_dict())
        return
    hours = "" if task.estimated_hours is None else f", {task.estimated_hours:g}h"
    out(f"[bold]{task.id}[/]  {escape(task.title)}", markup=True)
    out(f"  {task.priority.value} · {task.phase.value}{hours} · agent: {task.agent or '-'}")
    if task.description:
        out(f"  {task.description}")
    out(f"Start it with: coditect task start {task.id}")


@app.command()
def ready(
    phase: PhaseOpt = None,
    priority: PriorityOpt = None,
    agent: AgentOpt = None,
    tag: TagOpt = None,
    as_json: Json = False,
) -> None:
    """Every task that can start now, best first."""
    from coditect.cli._output import emit_json, print_table
    from coditect.cli._project import reading

    tasks = reading().ready(_filter(phase, priority, agent, tag))
    if as_json:
        emit_json([t.to_dict() for t in tasks])
    else:
        print_table(COLUMNS, _rows(tasks))


@app.command()
def graph(
    as_json: Json = False,
    mermaid: Annotated[bool, typer.Option("--mermaid", help="Print a Mermaid flowchart.")] = False,
    dot: Annotated[bool, typer.Option("--dot", help="Print Graphviz DOT.")] = False,
    include_done: Annotated[
        bool, typer.Option("--all", help="Include completed and cancelled tasks.")
    ] = False,
) -> None:
    """Execution waves and the critical path."""
    from coditect.cli import _graph
    from coditect.cli._project import reading
    from coditect.errors import UsageError

    if as_json + mermaid + dot > 1:
        raise UsageError("choose one of --json, --mermaid and --dot")
    project = reading()
    if mermaid:
        _graph.mermaid(project, include_done)
    elif dot:
        _graph.dot(project, include_done)
    elif as_json:
        _graph.as_json(project, include_done)
    else:
        _graph.text(project, include_done)

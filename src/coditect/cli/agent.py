"""``coditect agent``: list, show, check, create, install and suggest agents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from coditect.agents.dispatch import Suggestion
    from coditect.agents.registry import Agent, Registry
    from coditect.errors import AgentFormatError
    from coditect.paths import ProjectPaths

app = typer.Typer(
    help="List, check, create and install agents, and find the agent for a task.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="The agent's name.", metavar="NAME", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON (documented field names).")]


def _project() -> ProjectPaths | None:
    """The project around the working folder, if there is one."""
    from coditect.errors import ProjectNotFoundError
    from coditect.paths import find_project

    try:
        return find_project()
    except ProjectNotFoundError:
        return None


def _load() -> Registry:
    from coditect.agents.registry import Registry

    return Registry.load(_project())


def _problem(error: AgentFormatError) -> dict[str, str]:
    return {"source": error.source, "field": error.field, "message": error.message}


def _report(registry: Registry) -> None:
    """Warn, on stderr, about each invalid file and each unknown field."""
    from coditect.cli._output import warn

    for warning in registry.warnings:
        warn(warning)
    for error in registry.problems:
        warn(f"invalid agent file, left out: {error.message}", error.hint)


@app.command("list")
def list_agents(as_json: Json = False) -> None:
    """The agents in force: the library's, yours and the project's (which win)."""
    from coditect.cli._output import emit_json, print_table

    registry = _load()
    if as_json:
        emit_json(
            {
                "agents": [a.to_dict(prompt=False) for a in registry],
                "problems": [_problem(e) for e in registry.problems],
                "warnings": registry.warnings,
            }
        )
        return
    rows = [[a.name, a.origin, a.executor or "", a.description] for a in registry]
    print_table(["name", "origin", "executor", "description"], rows)
    _report(registry)


@app.command()
def show(name: Name, as_json: Json = False) -> None:
    """One agent: its fields, where it comes from, and its prompt."""
    from coditect.cli._output import emit_json, escape, out

    registry = _load()
    agent = registry.get(name)
    overrides = [str(a.source) for a in registry.shadowed.get(name, [])]
    if as_json:
        emit_json({**agent.to_dict(), "overrides": overrides})
        return
    fields = agent.to_dict(prompt=False)
    fields["overrides"] = overrides
    for key, value in fields.items():
        if value in (None, [], {}):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        out(f"[bold]{key}[/]: {escape(str(shown))}", markup=True)
    out()
    out(agent.prompt.rstrip())


@app.command()
def validate(
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="Agent files to check (default: every agent in force).",
            metavar="[FILE]...",
            show_default=False,
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Check agent files; exit 4 when any is invalid."""
    from coditect.cli._output import emit_json, out
    from coditect.errors import ExitCode

    registry = _files(files) if files else _load()
    if as_json:
        emit_json(
            {
                "valid": [a.name for a in registry],
                "problems": [_problem(e) for e in registry.problems],
                "warnings": registry.warnings,
            }
        )
    else:
        _report(registry)
        out(f"{len(registry)} valid, {len(registry.problems)} invalid")
    if registry.problems:
        raise typer.Exit(ExitCode.INVALID)


def _files(files: list[str]) -> Registry:
    from pathlib import Path

    from coditect.agents.registry import Registry
    from coditect.errors import NotFoundError

    registry = Registry()
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise NotFoundError(f"no file {name}", "Give the path of an agent's .md file.")
        registry.add_file(path, "project")
    registry.check_executors()
    return registry


TEMPLATE = """\
---
name: {name}
description: {description}
# Claude Code's tools, comma-separated; leave out for every tool.
tools: Read, Write, Edit, Bash, Glob, Grep
# What `coditect agent suggest` and automatic assignment match tasks against.
capabilities:
{capabilities}
# Optional: model, executor (coditect executors), provider, max_tokens, temperature.
---

You are ... (one paragraph: who this agent is and what it cares about).

## Your job

What the agent is asked to do, and where its work stops.

## How you work

1. The steps it follows, in order, and the checks it makes before handing back.

## What you must not do

- What is out of bounds: files, systems, decisions that belong to someone else.

## What you hand back

The shape of its answer: files changed, a summary, how to verify, follow-ups.
"""


def _template(name: str, description: str, capabilities: list[str]) -> str:
    import yaml

    caps = capabilities or [name.replace("-", " ")]
    return TEMPLATE.format(
        name=name,
        description=yaml.safe_dump(description, width=1_000_000).removesuffix("\n...\n").strip(),
        capabilities="\n".join(
            "  - " + yaml.safe_dump(c, width=1_000_000).removesuffix("\n...\n").strip()
            for c in caps
        ),
    )


def _copy_of(source: Agent, name: str) -> str:
    """``source``'s file, renamed to ``name`` (or as it is, to override it)."""
    import re

    if source.source is None:  # pragma: no cover - agents in a registry come from files
        raise AssertionError("an agent without a file")
    text = source.source.read_text(encoding="utf-8")
    return re.sub(r"(?m)^name:.*$", f"name: {name}", text, count=1)


@app.command()
def new(
    name: Name,
    description: Annotated[
        str,
        typer.Option("--description", "-D", help="When to use the agent, in a sentence."),
    ] = "",
    capability: Annotated[
        list[str] | None,
        typer.Option("--capability", "-c", help="A capability keyword (repeatable)."),
    ] = None,
    from_agent: Annotated[
        str | None,
        typer.Option("--from", help="Start from a copy of this agent (to customise it)."),
    ] = None,
) -> None:
    """Create .coditect/agents/NAME.md from a template (never overwrites)."""
    from coditect.agents.registry import Registry, check_name, parse_agent
    from coditect.cli._output import out
    from coditect.errors import ConflictError, UsageError
    from coditect.paths import find_project

    check_name(name, field="")
    if from_agent is not None and (description or capability):
        raise UsageError(
            "--from copies an agent as it is; it cannot be combined with -D or -c",
            "Create the copy, then edit its description and capabilities in the file.",
        )
    project = find_project()
    path = project.dir / "agents" / f"{name}.md"
    if path.exists():
        raise ConflictError(
            f"{path} already exists", "Edit it, or choose another name; nothing was changed."
        )
    registry = Registry.load(project)
    if from_agent is not None:
        text = _copy_of(registry.get(from_agent), name)
    else:
        default = f"Use for {name.replace('-', ' ')} work."
        text = _template(name, description or default, capability or [])
    parse_agent(text, path)  # what we write must itself be a valid agent
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as file:
        file.write(text)
    replaced = registry.agents.get(name)
    note = f" (it overrides the {replaced.origin} agent {name!r})" if replaced else ""
    out(f"Created {path}{note}.")
    out("Edit it, then check it with: coditect agent validate")


@app.command()
def install(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Agents to install (default: all).", metavar="[NAME]...", show_default=False
        ),
    ] = None,
    user: Annotated[
        bool,
        typer.Option(
            "--user", help="Install for every project: ~/.claude/agents (or $CLAUDE_CONFIG_DIR)."
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Also overwrite files coditect did not write.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would happen; write nothing.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Write agents where Claude Code finds them: <project>/.claude/agents/ (or --user)."""
    from coditect.agents.install import Action, claude_agents_dir
    from coditect.agents.install import install as install_agents
    from coditect.agents.registry import Registry
    from coditect.cli._output import emit_json, print_table
    from coditect.paths import find_project

    # --user: the library's and your agents; a project's agents stay in the project
    project = None if user else find_project()
    registry = Registry.load(project)
    agents = [registry.get(n) for n in dict.fromkeys(names)] if names else list(registry)
    target = claude_agents_dir(None if project is None else project.root)
    results = install_agents(agents, target, force=force, dry_run=dry_run)
    _report(registry)
    if as_json:
        emit_json([r.to_dict() for r in results])
        return
    print_table(
        ["agent", "action" + (" (dry run)" if dry_run else ""), "path", "note"],
        [[r.name, r.action.value, r.path, r.reason] for r in results],
    )
    skipped = sum(r.action is Action.SKIPPED for r in results)
    if skipped:
        from coditect.cli._output import warn

        warn(
            f"{skipped} file(s) left alone: they were not written by coditect or were edited",
            "Use --force to overwrite them.",
        )


def _suggestion_row(rank: int, suggestion: Suggestion) -> list[object]:
    return [rank, suggestion.name, f"{suggestion.score:.2f}", suggestion.explain()]


@app.command()
def suggest(
    text: Annotated[
        str, typer.Argument(help="What the task is, in words.", metavar="TEXT", show_default=False)
    ],
    top: Annotated[int, typer.Option("--top", "-n", min=1, help="How many agents to show.")] = 3,
    as_json: Json = False,
) -> None:
    """The agents that best fit a task, and the words that matched."""
    from coditect.agents.dispatch import MIN_SCORE, Dispatcher
    from coditect.cli._output import emit_json, out, print_table
    from coditect.errors import NotFoundError

    registry = _load()
    suggestions = Dispatcher(registry).suggest(text, top)
    if not suggestions:
        raise NotFoundError(
            "no agent matches this text",
            "Describe the work in more words, or list the agents with `coditect agent list`.",
        )
    if as_json:
        emit_json([{**s.to_dict(), "assignable": s.score >= MIN_SCORE} for s in suggestions])
        return
    rows = [_suggestion_row(i, s) for i, s in enumerate(suggestions, 1)]
    print_table(["rank", "agent", "score", "matched"], rows)
    if suggestions[0].score < MIN_SCORE:
        out(
            f"The best score is under {MIN_SCORE:g}: a task like this would be left "
            "unassigned rather than given to a weak match."
        )

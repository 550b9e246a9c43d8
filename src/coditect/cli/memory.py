"""``coditect memory``: import Claude Code transcripts, search them, browse and forget."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from coditect.config import Config
    from coditect.memory.ingest import ImportReport
    from coditect.memory.store import MemoryStore
    from coditect.paths import ProjectPaths

app = typer.Typer(
    help="Remember Claude Code sessions: import, search, browse, forget.", no_args_is_help=True
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SessionId = Annotated[
    str, typer.Argument(help="A session id, or enough of its start.", metavar="SESSION")
]


class Role(StrEnum):
    user = "user"
    assistant = "assistant"
    tool = "tool"
    system = "system"
    summary = "summary"


def _project() -> tuple[ProjectPaths, Config]:
    from coditect.config import load_config
    from coditect.paths import find_project

    project = find_project()
    return project, load_config(project)


def _open(project: ProjectPaths) -> MemoryStore:
    """The project's memory, which must exist: reading creates nothing."""
    from coditect.errors import NotFoundError
    from coditect.memory.store import MemoryStore

    if not (project.dir / "memory.db").exists():
        raise NotFoundError("this project has no memory yet", "Run `coditect memory import` first.")
    return MemoryStore.for_project(project)


def _show_report(report: ImportReport) -> None:
    from coditect.cli._output import out, warn

    out(
        f"imported {report.files} files ({report.unchanged} unchanged): {report.records} "
        f"records → {report.added} new messages, {report.merged} merged into responses, "
        f"{report.duplicates} duplicates dropped, {report.other_records} other records"
    )
    extras = [
        f"{report.redactions} redactions" if report.redactions else "",
        f"{report.forgotten} records of forgotten sessions skipped" if report.forgotten else "",
        f"{report.pruned_sessions} sessions pruned" if report.pruned_sessions else "",
    ]
    if any(extras):
        out("; ".join(e for e in extras if e))
    for problem in report.problems:
        warn(str(problem))
    if report.problems_omitted:
        warn(f"… and {report.problems_omitted} more problems", "--json lists the first 100.")


@app.command("import")
def import_(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Transcript files or folders (.jsonl, /export text). "
            "Default: this project's folders under ~/.claude/projects.",
            show_default=False,
            metavar="PATH",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Read every file from the start and bring back forgotten sessions."
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes that parse, redact and write. "
            "Default: one per core (at most 4) when there is more than 32 MB to read.",
            show_default=False,
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Import transcripts: new lines only, redacted before they are stored."""
    from coditect.cli._output import emit_json
    from coditect.memory.ingest import Importer, storing_redactor
    from coditect.memory.store import MemoryStore
    from coditect.memory.transcripts import claude_project_folders, discover

    project, config = _project()
    redactor = storing_redactor(config.memory)
    sources = discover(paths or claude_project_folders(project.root))
    with MemoryStore.for_project(project) as store:
        retention = config.memory.retention_days
        report = Importer(
            store, redactor, force=force, retention_days=retention, workers=workers
        ).run(sources)
    if as_json:
        emit_json(report.to_dict())
    else:
        _show_report(report)


def _number(value: int) -> str:
    return f"{value:,}"


def _usage_rows(entries: list[dict[str, Any]], label: str) -> list[list[Any]]:
    return [
        [
            entry[label],
            _number(entry["responses"]),
            *(
                _number(entry["tokens"][k])
                for k in ("input", "output", "cache_write", "cache_read")
            ),
            f"${entry['cost_usd']:.2f}",
        ]
        for entry in entries
    ]


@app.command()
def stats(
    top: Annotated[int, typer.Option(help="Sessions to list, by cost (--json lists all).")] = 10,
    as_json: Json = False,
) -> None:
    """Sessions, messages, duplicates dropped, tokens and cost, redactions."""
    from coditect.cli._output import emit_json, out, print_table
    from coditect.execution.pricing import PriceTable
    from coditect.memory.stats import memory_stats

    project, config = _project()
    with _open(project) as store:
        data = memory_stats(store, PriceTable(config.llm.prices))
    if as_json:
        emit_json(data)
        return
    roles = ", ".join(f"{k} {_number(v)}" for k, v in sorted(data["messages_by_role"].items()))
    tokens = data["tokens"]
    out(f"sessions {data['sessions']}, messages {_number(data['messages'])} ({roles})")
    out(
        f"duplicates dropped {_number(data['duplicates_dropped'])}, records merged into "
        f"responses {_number(data['records_merged'])}, other records "
        f"{_number(data['other_records'])}, files {data['files']}, forgotten sessions "
        f"{data['forgotten_sessions']}"
    )
    out(
        f"tokens: input {_number(tokens['input'])}, output {_number(tokens['output'])}, "
        f"cache write {_number(tokens['cache_write'])}, cache read "
        f"{_number(tokens['cache_read'])}; cost ${data['cost_usd']:.2f}"
    )
    if data["unpriced_models"]:
        out("no price for: " + ", ".join(data["unpriced_models"]) + " (not in the cost)")
    columns = ["responses", "input", "output", "cache write", "cache read", "cost"]
    print_table(["model", *columns], _usage_rows(data["by_model"], "model"), title="by model")
    print_table(["day", *columns], _usage_rows(data["by_day"], "day"), title="by day")
    print_table(
        ["session", *columns],
        _usage_rows(data["by_session"][:top], "session"),
        title=f"top {top} sessions by cost",
    )
    redactions = data["redactions"]
    if redactions:
        print_table(["type", "redactions"], list(redactions.items()), title="redactions")
    else:
        out("redactions: none")


def _highlight(snippet: str, *, plain: bool) -> str:
    """A snippet on one line with its matches in bold (``**match**`` when plain)."""
    from coditect.cli._output import escape
    from coditect.memory.search import MARK_END, MARK_START

    text = " ".join(snippet.split())
    if plain:
        return text.replace(MARK_START, "**").replace(MARK_END, "**")
    pieces = text.replace(MARK_END, MARK_START).split(MARK_START)
    return "".join(
        f"[bold yellow]{escape(p)}[/]" if i % 2 else escape(p) for i, p in enumerate(pieces)
    )


@app.command()
def search(
    query: Annotated[
        str,
        typer.Argument(
            help='Words to find, all of them; "a phrase"; pre* for a prefix.', metavar="QUERY"
        ),
    ],
    session: Annotated[str | None, typer.Option(help="Only this session.")] = None,
    role: Annotated[Role | None, typer.Option(help="Only messages of this role.")] = None,
    tool: Annotated[
        str | None, typer.Option(help="Only messages calling this tool, or its results.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this date or age (2026-03-01, 7d, 12h).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Up to this date (inclusive) or age.")] = None,
    limit: Annotated[int, typer.Option(help="How many results.")] = 20,
    raw: Annotated[bool, typer.Option("--raw", help="QUERY is FTS5 query syntax.")] = False,
    as_json: Json = False,
) -> None:
    """Full-text search, best match first (BM25), newest first among equals."""
    from coditect.cli._output import emit_json, is_plain, out
    from coditect.memory import search as memory_search

    begin = memory_search.parse_time(since) if since else None
    end = memory_search.parse_time(until, end=True) if until else None
    with _open(_project()[0]) as store:
        hits = memory_search.search(
            store,
            query,
            session=session,
            role=role.value if role else None,
            tool=tool,
            since=begin,
            until=end,
            limit=limit,
            raw=raw,
        )
    if as_json:
        emit_json([{**h.to_dict(), "snippet": _highlight(h.snippet, plain=True)} for h in hits])
        return
    plain = is_plain()
    for hit in hits:
        when = (hit.ts or "")[:16].replace("T", " ")
        tools = f"  [{' '.join(hit.tools)}]" if hit.tools else ""
        out(f"{hit.session_id}  {when}  {hit.role}{tools}")
        out("  " + _highlight(hit.snippet, plain=plain), markup=not plain)
    if not hits:
        out("no matches")


@app.command()
def sessions(
    limit: Annotated[int, typer.Option(help="How many sessions, most recent first.")] = 50,
    as_json: Json = False,
) -> None:
    """List the sessions in memory, the most recently active first."""
    from coditect.cli._output import emit_json, print_table
    from coditect.memory.search import list_sessions

    with _open(_project()[0]) as store:
        rows = list_sessions(store, limit=limit)
    if as_json:
        emit_json(rows)
        return
    print_table(
        ["session", "last active", "messages", "tokens", "title"],
        [
            [
                r["id"],
                (r["last_at"] or "")[:16].replace("T", " "),
                r["messages"],
                _number(r["tokens"]),
                r["summary"] or r["title"],
            ]
            for r in rows
        ],
    )


@app.command()
def show(
    session: SessionId,
    agents: Annotated[
        bool, typer.Option("--agents", help="Include the sub-agents' messages.")
    ] = False,
    meta: Annotated[
        bool, typer.Option("--meta", help="Include messages Claude Code marks as meta.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Show one session as a conversation, each tool call on one line."""
    from coditect.cli._output import emit_json, out
    from coditect.memory.search import conversation_lines, session_detail

    with _open(_project()[0]) as store:
        detail = session_detail(store, session, sidechains=agents, meta=meta)
    if as_json:
        emit_json(detail)
        return
    for line in conversation_lines(detail):
        out(line)


@app.command()
def forget(session: SessionId, as_json: Json = False) -> None:
    """Delete a session from memory; later imports skip it unless run with --force."""
    from coditect.cli._output import emit_json, out

    with _open(_project()[0]) as store:
        session = store.resolve_session(session)
        deleted = store.forget(session)
    if as_json:
        emit_json({"session": session, "messages_deleted": deleted})
    else:
        out(f"forgot session {session}: {deleted} messages deleted")


@app.command()
def prune(
    older_than: Annotated[
        float | None,
        typer.Option(
            "--older-than",
            help="Delete sessions idle for more than DAYS (default: memory.retention_days).",
            metavar="DAYS",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Delete sessions whose last message is older than the retention period."""
    from coditect.cli._output import emit_json, out
    from coditect.errors import UsageError, ValidationError

    project, config = _project()
    days = older_than if older_than is not None else config.memory.retention_days
    if older_than is not None and not older_than > 0:
        raise ValidationError(f"--older-than must be more than 0 days, not {older_than:g}")
    if not days:
        raise UsageError(
            "no retention period: memory.retention_days is 0 (keep everything)",
            "Pass --older-than DAYS, or set retention_days in [memory] of .coditect/config.toml.",
        )
    with _open(project) as store:
        sessions, messages = store.prune(days)
    if as_json:
        emit_json({"older_than_days": days, "sessions": sessions, "messages": messages})
    else:
        out(f"pruned {sessions} sessions idle over {days:g} days ({messages} messages)")

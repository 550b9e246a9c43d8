"""``coditect report``: where the project stands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from coditect.tasks.orchestrator import Report


def report(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print Markdown.")] = False,
    cost: Annotated[
        bool, typer.Option("--cost", help="Tokens and cost per task (by kind from memory).")
    ] = False,
) -> None:
    """Totals, progress, hours, the critical path, what is blocked or failed, what is next."""
    from coditect.cli._output import emit_json, out
    from coditect.cli._project import reading
    from coditect.errors import UsageError

    if as_json and markdown:
        raise UsageError("choose one of --json and --markdown")
    if cost:
        from coditect.cli._costs import show_costs

        show_costs(as_json=as_json, markdown=markdown)
        return
    summary = reading().report()
    if as_json:
        emit_json(summary.to_dict())
    elif markdown:
        print(to_markdown(summary))
    else:
        out(to_markdown(summary))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "none"


def to_markdown(r: Report) -> str:
    """The report as Markdown, which also reads well as plain text."""
    lines = [
        "# Project report",
        "",
        f"- **Tasks:** {r.total} · **completed:** {r.completion_percent:g}%",
        f"- **By status:** {_counts(r.by_status)}",
        f"- **By priority:** {_counts(r.by_priority)}",
        f"- **By phase:** {_counts(r.by_phase)}",
        f"- **By agent:** {_counts(r.by_agent)}",
        f"- **Estimated hours:** {r.estimated_hours:g} total, {r.remaining_hours:g} remaining"
        + (f" ({r.unestimated} tasks without an estimate)" if r.unestimated else ""),
    ]
    path = r.critical_path
    if path.ids:
        lines.append(f"- **Critical path** ({path.hours:g}h): " + " → ".join(path.ids))
    if r.next is not None:
        lines.append(f"- **Next:** {r.next.id} — {r.next.title}")
    if r.blocked:
        lines += ["", "## Blocked", ""]
        for row in r.blocked:
            parts = []
            if row["marked"]:
                parts.append("marked blocked" + (f" ({row['reason']})" if row["reason"] else ""))
            if row["blocked_by"]:
                verb = "waits for" if row["marked"] else "stuck behind"
                parts.append(f"{verb} {', '.join(row['blocked_by'])}")
            lines.append(f"- {row['id']} — {row['title']}: {'; '.join(parts)}")
    if r.failed:
        lines += ["", "## Failed", ""]
        for row in r.failed:
            lines.append(
                f"- {row['id']} — {row['title']}: {row['error']} (attempts: {row['attempts']})"
            )
    return "\n".join(lines)

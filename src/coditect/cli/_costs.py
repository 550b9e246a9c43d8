"""``coditect report --cost``: tokens and cost per task, as a table, Markdown or JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coditect.memory.costs import CostReport

__all__ = ["show_costs"]

COLUMNS = ["task", "status", "session", "input", "output", "cache write", "cache read"]
COLUMNS += ["cost", "from"]
KINDS = ("input", "output", "cache_write", "cache_read")


def _rows(report: CostReport) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for t in report.tasks:
        tokens = [f"{t.tokens[k]:,}" if t.in_memory else "–" for k in KINDS]
        session = (t.session_id or "")[:8]
        if t.session_id and not t.in_memory:
            session += " (not in memory)"
        source = t.cost_source
        if t.unpriced_models:
            source += "; no price for " + ", ".join(t.unpriced_models)
        rows.append([t.id, t.status, session, *tokens, f"${t.cost_usd:.4f}", source])
    totals = report.totals()
    rows.append(
        [
            "total",
            f"{totals['tasks']} tasks",
            f"{totals['sessions_in_memory']} in memory",
            *(f"{totals['tokens'][k]:,}" for k in KINDS),
            f"${totals['cost_usd']:.4f}",
            "",
        ]
    )
    return rows


def _markdown(report: CostReport) -> str:
    lines = ["# Cost per task", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in _rows(report)]
    if not report.memory:
        lines += ["", "No memory in this project: costs are what the runs recorded."]
    return "\n".join(lines)


def show_costs(*, as_json: bool, markdown: bool) -> None:
    """Print the cost of each task of the current project."""
    from coditect.cli._output import emit_json, out, print_table
    from coditect.config import load_config
    from coditect.memory.costs import project_costs
    from coditect.paths import find_project

    project = find_project()
    report = project_costs(project, load_config(project))
    if as_json:
        emit_json(report.to_dict())
    elif markdown:
        print(_markdown(report))
    elif not report.tasks:
        out("no task has recorded tokens, a cost or a session yet")
    else:
        print_table(COLUMNS, _rows(report), title="cost per task")
        recorded = report.totals()
        out(
            f"recorded by runs: {recorded['recorded_tokens']:,} tokens, "
            f"${recorded['recorded_cost_usd']:.4f}"
        )
        if not report.memory:
            out("no memory in this project: `coditect memory import` adds tokens by kind")

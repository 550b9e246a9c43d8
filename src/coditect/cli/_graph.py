"""Renderings of the task graph: text, JSON, Mermaid and Graphviz DOT."""

from __future__ import annotations

import re
from typing import Any

from coditect.cli._output import emit_json, out
from coditect.tasks.model import Status
from coditect.tasks.orchestrator import Orchestrator

_STYLE = {
    Status.COMPLETED: "done",
    Status.IN_PROGRESS: "active",
    Status.FAILED: "failed",
    Status.BLOCKED: "blocked",
    Status.CANCELLED: "cancelled",
}


def _shown(project: Orchestrator, include_done: bool) -> list[str]:
    return [t.id for t in project.tasks.values() if include_done or not t.is_done]


def _label(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def as_json(project: Orchestrator, include_done: bool) -> None:
    graph = project.graph
    path = graph.critical_path
    shown = set(_shown(project, include_done))
    data: dict[str, Any] = {
        "waves": graph.waves(include_done=include_done),
        "critical_path": {"ids": path.ids, "hours": path.hours},
        "edges": [
            {"task": t.id, "depends_on": d}
            for t in project.tasks.values()
            if t.id in shown
            for d in t.dependencies
            if d in shown
        ],
    }
    emit_json(data)


def text(project: Orchestrator, include_done: bool) -> None:
    graph = project.graph
    waves = graph.waves(include_done=include_done)
    if not waves:
        out("No work left." if not include_done else "No tasks.")
        return
    for number, wave in enumerate(waves, start=1):
        plural = "s" if len(wave) != 1 else ""
        out(f"[bold]Wave {number}[/] ({len(wave)} task{plural})", markup=True)
        for task_id in wave:
            task = project.tasks[task_id]
            out(f"  {task_id}  [{task.status.value}]  {task.title}")
    path = graph.critical_path
    if path.ids:
        out(f"\n[bold]Critical path[/] ({path.hours:g}h): " + " → ".join(path.ids), markup=True)


def _node_id(task_id: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", task_id)


def mermaid(project: Orchestrator, include_done: bool) -> None:
    shown = _shown(project, include_done)
    on_path = set(project.graph.critical_path.ids)
    lines = ["flowchart LR"]
    for task_id in shown:
        task = project.tasks[task_id]
        lines.append(f'    {_node_id(task_id)}["{_label(task_id + ": " + task.title)}"]')
    visible = set(shown)
    for task_id in shown:
        for dep in project.tasks[task_id].dependencies:
            if dep in visible:
                arrow = "==>" if dep in on_path and task_id in on_path else "-->"
                lines.append(f"    {_node_id(dep)} {arrow} {_node_id(task_id)}")
    for status, name in _STYLE.items():
        members = [_node_id(t) for t in shown if project.tasks[t].status is status]
        if members:
            lines.append(f"    class {','.join(members)} {name}")
    lines += [
        "    classDef done fill:#d4edda,stroke:#28a745",
        "    classDef active fill:#fff3cd,stroke:#ffc107",
        "    classDef failed fill:#f8d7da,stroke:#dc3545",
        "    classDef blocked fill:#e2e3e5,stroke:#6c757d",
        "    classDef cancelled fill:#f5f5f5,stroke:#aaaaaa,stroke-dasharray:3",
    ]
    print("\n".join(lines))


def dot(project: Orchestrator, include_done: bool) -> None:
    shown = _shown(project, include_done)
    on_path = set(project.graph.critical_path.ids)
    colours = {
        Status.COMPLETED: "palegreen",
        Status.IN_PROGRESS: "khaki1",
        Status.FAILED: "lightpink",
        Status.BLOCKED: "lightgrey",
        Status.CANCELLED: "white",
        Status.PENDING: "white",
    }
    lines = ["digraph tasks {", "  rankdir=LR;", "  node [shape=box, style=filled];"]
    for task_id in shown:
        task = project.tasks[task_id]
        label = _label(f"{task_id}\\n{task.title}")
        lines.append(f'  "{task_id}" [label="{label}", fillcolor={colours[task.status]}];')
    visible = set(shown)
    for task_id in shown:
        for dep in project.tasks[task_id].dependencies:
            if dep in visible:
                bold = " [penwidth=2.5]" if dep in on_path and task_id in on_path else ""
                lines.append(f'  "{dep}" -> "{task_id}"{bold};')
    lines.append("}")
    print("\n".join(lines))

"""The one place where a task becomes the prompt an agent reads.

The prompt is Markdown: the task (title, description, deliverables, success criteria,
the acceptance command, output files, notes), then what the tasks it depends on
produced, then any extra context (memory, once it exists, passes relevant excerpts as
``context``). The agent's own instructions are its system prompt, which the runner
passes separately (``Job.system_prompt``); here it is only named.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from coditect.tasks.model import AgentTask

__all__ = ["DEPENDENCY_OUTPUT_CHARS", "build_prompt", "clip"]

DEPENDENCY_OUTPUT_CHARS = 4_000
"""How much of each dependency's output the prompt quotes (its beginning and its end)."""


class NamedAgent(Protocol):
    @property
    def name(self) -> str: ...


def clip(text: str, limit: int, where: str = "") -> str:
    """``text``, or its beginning and end with a line saying how much was cut."""
    if len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    cut = len(text) - limit
    note = f"\n[… {cut:,} characters cut{'; the whole text is in ' + where if where else ''} …]\n"
    return text[:head] + note + text[-tail:]


def _bullets(title: str, items: Sequence[str]) -> list[str]:
    if not items:
        return []
    return ["", f"## {title}", "", *(f"- {item}" for item in items)]


def _task_part(task: AgentTask, agent: NamedAgent | None) -> list[str]:
    lines = [f"# Task {task.id}: {task.title}"]
    if agent is not None:
        lines += ["", f"You are working as the `{agent.name}` agent."]
    if task.description.strip():
        lines += ["", task.description.strip()]
    lines += _bullets("Deliverables", task.deliverables)
    lines += _bullets("Success criteria", task.success_criteria)
    if task.acceptance:
        lines += [
            "",
            "## Acceptance",
            "",
            "The task counts as done only when this command passes in the working folder:",
            "",
            "```sh",
            task.acceptance,
            "```",
        ]
    lines += _bullets("Output files", task.output_files)
    if task.notes.strip():
        lines += ["", "## Notes", "", task.notes.strip()]
    return lines


def _dependency_part(dependencies: Sequence[AgentTask]) -> list[str]:
    if not dependencies:
        return []
    lines = ["", "## What the tasks this one depends on produced"]
    for dep in dependencies:
        lines += ["", f"### {dep.id}: {dep.title}", ""]
        output = dep.output.strip()
        lines.append(clip(output, DEPENDENCY_OUTPUT_CHARS) if output else "(no output recorded)")
        if dep.output_files:
            lines += ["", "Files: " + ", ".join(dep.output_files)]
        if dep.notes.strip():
            lines += ["", "Notes: " + dep.notes.strip()]
    return lines


def build_prompt(
    task: AgentTask,
    agent: NamedAgent | None,
    dependencies: Sequence[AgentTask],
    context: Sequence[str] = (),
) -> str:
    """The user prompt for one attempt at ``task``.

    ``dependencies`` are the task's direct dependencies (completed, with their output);
    ``context`` holds further excerpts to show the agent, each as a paragraph under
    "Context" (the memory subsystem's relevant findings, for instance).
    """
    lines = _task_part(task, agent) + _dependency_part(dependencies)
    items = [item.strip() for item in context if item.strip()]
    if items:
        lines += ["", "## Context"]
        for item in items:
            lines += ["", item]
    return "\n".join(lines) + "\n"

"""The prompt a task becomes."""

from __future__ import annotations

from dataclasses import dataclass

from coditect.execution.prompt import DEPENDENCY_OUTPUT_CHARS, build_prompt, clip
from coditect.tasks.model import AgentTask


@dataclass
class Named:
    name: str


def test_a_full_task() -> None:
    task = AgentTask(
        id="api",
        title="Design the API",
        description="Resources, errors, pagination.\n",
        deliverables=["openapi.yaml"],
        success_criteria=["every route has an example", "errors follow RFC 9457"],
        acceptance="npx @redocly/cli lint openapi.yaml",
        output_files=["openapi.yaml", "docs/api.md"],
        notes="Keep it small.",
    )
    schema = AgentTask(
        id="schema", title="Design the schema", output="users(id, name)", notes="Postgres."
    )
    brief = AgentTask(id="brief", title="Write the brief", output_files=["brief.md"])
    prompt = build_prompt(
        task, Named("api-designer"), [schema, brief], ["An earlier run chose REST."]
    )
    assert prompt == (
        "# Task api: Design the API\n"
        "\n"
        "You are working as the `api-designer` agent.\n"
        "\n"
        "Resources, errors, pagination.\n"
        "\n"
        "## Deliverables\n"
        "\n"
        "- openapi.yaml\n"
        "\n"
        "## Success criteria\n"
        "\n"
        "- every route has an example\n"
        "- errors follow RFC 9457\n"
        "\n"
        "## Acceptance\n"
        "\n"
        "The task counts as done only when this command passes in the working folder:\n"
        "\n"
        "```sh\n"
        "npx @redocly/cli lint openapi.yaml\n"
        "```\n"
        "\n"
        "## Output files\n"
        "\n"
        "- openapi.yaml\n"
        "- docs/api.md\n"
        "\n"
        "## Notes\n"
        "\n"
        "Keep it small.\n"
        "\n"
        "## What the tasks this one depends on produced\n"
        "\n"
        "### schema: Design the schema\n"
        "\n"
        "users(id, name)\n"
        "\n"
        "Notes: Postgres.\n"
        "\n"
        "### brief: Write the brief\n"
        "\n"
        "(no output recorded)\n"
        "\n"
        "Files: brief.md\n"
        "\n"
        "## Context\n"
        "\n"
        "An earlier run chose REST.\n"
    )


def test_a_bare_task_has_only_its_title() -> None:
    assert build_prompt(AgentTask(id="t", title="Do it"), None, []) == "# Task t: Do it\n"


def test_blank_context_items_are_left_out() -> None:
    prompt = build_prompt(AgentTask(id="t", title="Do it"), None, [], ["  ", "\n"])
    assert "Context" not in prompt


def test_a_long_dependency_output_is_clipped_in_the_middle() -> None:
    output = "BEGIN" + "x" * 10_000 + "END"
    dep = AgentTask(id="d", title="dep", output=output)
    prompt = build_prompt(AgentTask(id="t", title="t", dependencies=["d"]), None, [dep])
    assert "BEGIN" in prompt and "END" in prompt
    assert "[… 6,008 characters cut …]" in prompt
    assert len(prompt) < DEPENDENCY_OUTPUT_CHARS + 200


def test_clip() -> None:
    assert clip("abc", 3) == "abc"
    assert clip("abcdefgh", 4, "log.txt") == (
        "ab\n[… 4 characters cut; the whole text is in log.txt …]\ngh"
    )

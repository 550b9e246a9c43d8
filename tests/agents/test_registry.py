"""Agent files: parsing, the errors that name file and field, and the override order."""

from __future__ import annotations

from pathlib import Path

import pytest

from coditect.agents.registry import Registry, parse_agent
from coditect.errors import AgentFormatError, AgentNotFoundError, ExitCode
from coditect.execution.base import register_executor
from coditect.paths import ProjectPaths

GOOD = """\
---
name: reviewer
description: Reviews changes.
tools: Read, Grep,Glob
model: sonnet
capabilities: [code review, diffs]
executor: fake
provider: anthropic
max_tokens: 2048
temperature: 0.2
color: blue
---

You review code.
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path


def agent_text(name: str, description: str = "Does things.", extra: str = "") -> str:
    return f"---\nname: {name}\ndescription: {description}\n{extra}---\nYou do things.\n"


@pytest.fixture
def project(tmp_path: Path) -> ProjectPaths:
    paths = ProjectPaths(tmp_path / "project")
    paths.dir.mkdir(parents=True)
    return paths


def test_every_field_is_read() -> None:
    warnings: list[str] = []
    agent = parse_agent(GOOD, "/x/reviewer.md", "user", warnings)
    assert agent.name == "reviewer"
    assert agent.description == "Reviews changes."
    assert agent.tools == ("Read", "Grep", "Glob")  # Claude Code's comma-separated text
    assert agent.model == "sonnet"
    assert agent.capabilities == ("code review", "diffs")
    assert (agent.executor, agent.provider) == ("fake", "anthropic")
    assert (agent.max_tokens, agent.temperature) == (2048, 0.2)
    assert agent.extra == {"color": "blue"}  # a Claude Code field, kept for install
    assert agent.prompt == "You review code.\n"
    assert (agent.origin, agent.source) == ("user", Path("/x/reviewer.md"))
    assert warnings == []


def test_tools_may_be_a_yaml_list_and_optional_fields_may_be_absent() -> None:
    text = "---\nname: a\ndescription: d\ntools:\n  - Read\n  - Bash\n---\nPrompt.\n"
    agent = parse_agent(text, "a.md")
    assert agent.tools == ("Read", "Bash")
    assert agent.model is agent.executor is agent.max_tokens is agent.temperature is None
    assert agent.capabilities == ()


def test_a_claude_code_agent_file_is_an_agent() -> None:
    """The shape Claude Code's /agents command writes, with its byte-order mark and CRLF."""
    text = (
        "\ufeff---\r\nname: test-runner\r\ndescription: Use proactively to run tests.\r\n"
        "tools: Bash, Read\r\nmodel: inherit\r\n---\r\n\r\nYou run the tests.\r\n"
    )
    agent = parse_agent(text, "test-runner.md")
    assert (agent.name, agent.model, agent.tools) == ("test-runner", "inherit", ("Bash", "Read"))
    assert agent.prompt.strip() == "You run the tests."


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("no front matter\n", "", "must start with a '---' line"),
        ("---\nname: a\ndescription: d\n", "", "no closing '---'"),
        (
            "---\nname: a\ndescription: d: e\n---\nx\n",
            "",
            "invalid YAML in the front matter at line 3",
        ),
        ("---\n- a\n---\nx\n", "", "must be a mapping"),
        ("---\ndescription: d\n---\nx\n", "name", "is required"),
        ("---\nname: a\n---\nx\n", "description", "is required"),
        ("---\nname: a\ndescription: '  '\n---\nx\n", "description", "must not be empty"),
        ("---\nname: Bad_Name\ndescription: d\n---\nx\n", "name", "not a valid agent name"),
        ("---\nname: b\ndescription: d\n---\nx\n", "name", "is 'b' but the file is a.md"),
        ("---\nname: a\ndescription: 12\n---\nx\n", "description", "must be text, not a number"),
        ("---\nname: a\ndescription: d\ntools: 3\n---\nx\n", "tools", "list of text"),
        ("---\nname: a\ndescription: d\ntools: Read,,Bash\n---\nx\n", "tools", "empty entry"),
        ("---\nname: a\ndescription: d\ncapabilities: {x: 1}\n---\nx\n", "capabilities", "list"),
        ("---\nname: a\ndescription: d\nmax_tokens: 0\n---\nx\n", "max_tokens", "at least 1"),
        ("---\nname: a\ndescription: d\nmax_tokens: 1.5\n---\nx\n", "max_tokens", "whole number"),
        ("---\nname: a\ndescription: d\nmax_tokens: true\n---\nx\n", "max_tokens", "true/false"),
        ("---\nname: a\ndescription: d\ntemperature: 3\n---\nx\n", "temperature", "between 0"),
        ("---\nname: a\ndescription: d\ntemperature: hot\n---\nx\n", "temperature", "a number"),
        ("---\nname: a\ndescription: d\nmodel: two words\n---\nx\n", "model", "not a valid model"),
        ("---\nname: a\ndescription: d\n---\n\n  \n", "", "the body is empty"),
    ],
)
def test_an_invalid_file_is_refused_naming_file_and_field(
    text: str, field: str, words: str
) -> None:
    with pytest.raises(AgentFormatError) as caught:
        parse_agent(text, "/agents/a.md")
    error = caught.value
    assert (error.source, error.field) == ("/agents/a.md", field)
    assert words in error.message
    assert error.message.startswith("/agents/a.md: " + (f"{field}: " if field else ""))
    assert error.exit_code == ExitCode.INVALID
    assert error.hint


def test_unknown_fields_are_warnings_with_a_guess() -> None:
    warnings: list[str] = []
    text = "---\nname: a\ndescription: d\ncapabilites: [x]\nflavour: mint\n---\nx\n"
    agent = parse_agent(text, "a.md", "project", warnings)
    assert agent.capabilities == ()  # the misspelt field is not read
    assert warnings == [
        "a.md: capabilites: unknown field, ignored; did you mean 'capabilities'?",
        "a.md: flavour: unknown field, ignored",
    ]


def test_project_overrides_user_overrides_library(project: ProjectPaths, user_home: Path) -> None:
    write(user_home / "agents", "backend", agent_text("backend", "User backend."))
    write(user_home / "agents", "mine", agent_text("mine", "Only mine."))
    write(project.dir / "agents", "backend", agent_text("backend", "Project backend."))

    registry = Registry.load(project)
    backend = registry.get("backend")
    assert (backend.description, backend.origin) == ("Project backend.", "project")
    assert [a.origin for a in registry.shadowed["backend"]] == ["library", "user"]
    assert registry.get("mine").origin == "user"
    assert registry.get("planner").origin == "library"
    assert registry.problems == []

    without_project = Registry.load(None)
    assert without_project.get("backend").description == "User backend."


def test_an_invalid_file_never_hides_the_others(project: ProjectPaths) -> None:
    folder = project.dir / "agents"
    write(folder, "good", agent_text("good"))
    bad = write(folder, "bad", "---\nname: bad\n---\nx\n")
    write(folder, "worse", "not an agent at all\n")

    registry = Registry.load(project)
    assert "good" in registry and "planner" in registry
    assert "bad" not in registry and "worse" not in registry
    assert [(e.source, e.field) for e in registry.problems] == [
        (str(bad), "description"),
        (str(folder / "worse.md"), ""),
    ]


def test_a_broken_override_is_not_swapped_for_the_library_agent(project: ProjectPaths) -> None:
    write(project.dir / "agents", "backend", "---\nname: backend\ndescription: [\n---\nx\n")
    registry = Registry.load(project)
    assert "backend" not in registry
    with pytest.raises(AgentFormatError, match="invalid YAML"):
        registry.get("backend")
    assert [a.origin for a in registry.shadowed["backend"]] == ["library"]


def test_an_unknown_name_is_not_found_with_suggestions() -> None:
    registry = Registry.load(None)
    with pytest.raises(AgentNotFoundError) as caught:
        registry.get("backed")
    assert caught.value.exit_code == ExitCode.NOT_FOUND
    assert "no agent called 'backed'" in caught.value.message
    assert "Did you mean 'backend'" in caught.value.hint


def test_an_executor_must_exist(project: ProjectPaths) -> None:
    folder = project.dir / "agents"
    write(folder, "runs", agent_text("runs", extra="executor: fake\n"))
    write(folder, "typo", agent_text("typo", extra="executor: claude-cod\n"))
    registry = Registry.load(project)
    assert registry.get("runs").executor == "fake"
    with pytest.raises(AgentFormatError) as caught:
        registry.get("typo")
    assert caught.value.field == "executor"
    assert "no executor called 'claude-cod'" in caught.value.message
    assert "claude-code" in caught.value.hint


def test_a_registered_executor_counts(project: ProjectPaths) -> None:
    register_executor("agents-test-executor", lambda config: None)  # type: ignore[arg-type,return-value]
    write(
        project.dir / "agents", "own", agent_text("own", extra="executor: agents-test-executor\n")
    )
    assert Registry.load(project).get("own").executor == "agents-test-executor"


def test_unreadable_and_non_utf8_files_are_problems(project: ProjectPaths) -> None:
    folder = project.dir / "agents"
    folder.mkdir(parents=True)
    (folder / "latin.md").write_bytes(b"---\nname: latin\ndescription: caf\xe9\n---\nx\n")
    (folder / "folder.md").mkdir()  # not a file: not an agent
    (folder / "notes.txt").write_text("not an agent file")
    registry = Registry.load(project)
    assert [e.message for e in registry.problems] == [
        f"{folder / 'latin.md'}: cannot read the file: it is not UTF-8 text"
    ]


def test_a_folder_that_cannot_be_read_is_a_problem(project: ProjectPaths) -> None:
    folder = project.dir / "agents"
    folder.symlink_to(folder)  # a loop: reading it fails whoever runs the test
    registry = Registry.load(project)
    assert [e.message for e in registry.problems] == [
        f"{folder}: cannot read the folder: Too many levels of symbolic links"
    ]
    assert "planner" in registry


def test_the_registry_lists_agents_in_name_order() -> None:
    names = [a.name for a in Registry.load(None)]
    assert names == sorted(names) and len(names) >= 20

"""Every agent shipped in the package: valid, complete, and a real prompt."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest

from coditect.agents.registry import Agent, Registry, library_dir, parse_agent

LIBRARY = sorted(library_dir().glob("*.md"))
SECTIONS = ("## Your job", "## How you work", "## What you must not do", "## What you hand back")
CLAUDE_TOOLS = {
    "Bash",
    "Edit",
    "Glob",
    "Grep",
    "MultiEdit",
    "NotebookEdit",
    "Read",
    "TodoWrite",
    "WebFetch",
    "WebSearch",
    "Write",
}
# The roles the library must cover, each by the agent that fills it.
ROLES = {
    "planner/orchestrator": "planner",
    "software architect": "architect",
    "backend": "backend",
    "frontend": "frontend",
    "database": "database",
    "api designer": "api-designer",
    "security reviewer": "security",
    "test engineer": "test-engineer",
    "code reviewer": "code-reviewer",
    "debugger": "debugger",
    "performance engineer": "performance",
    "devops (CI)": "devops",
    "technical writer": "technical-writer",
    "researcher": "researcher",
    "refactoring": "refactoring",
    "dependency upgrades": "dependency-upgrades",
    "data migration": "data-migration",
    "release manager": "release-manager",
    "accessibility": "accessibility",
    "incident responder": "incident-responder",
}


def _agent(path: Path) -> Agent:
    warnings: list[str] = []
    agent = parse_agent(path.read_text(encoding="utf-8"), path, "library", warnings)
    assert warnings == [], warnings
    return agent


def test_the_library_has_at_least_twenty_agents_covering_every_role() -> None:
    names = {path.stem for path in LIBRARY}
    assert len(names) >= 20
    missing = {role: name for role, name in ROLES.items() if name not in names}
    assert missing == {}


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_a_shipped_agent_is_complete(path: Path) -> None:
    agent = _agent(path)
    assert agent.name == path.stem
    assert 60 <= len(agent.description) <= 300, "a description is one informative sentence"
    assert agent.capabilities, "the dispatcher needs capabilities"
    assert len(set(agent.capabilities)) == len(agent.capabilities), "a capability twice"
    assert agent.tools and set(agent.tools) <= CLAUDE_TOOLS
    assert agent.executor is None, "the library leaves the executor to [run] executor"
    positions = [agent.prompt.find(section + "\n") for section in SECTIONS]
    assert all(p > 0 for p in positions), f"missing a section of {SECTIONS}"
    assert positions == sorted(positions), "the sections are in the house order"
    words = len(agent.prompt.split())
    assert 300 <= words <= 650, f"{words} words"
    assert not re.search(r"\b(TODO|FIXME|XXX|lorem ipsum)\b", agent.prompt)


def test_each_section_says_something() -> None:
    for path in LIBRARY:
        prompt = _agent(path).prompt
        for section, following in zip(SECTIONS, (*SECTIONS[1:], None), strict=True):
            start = prompt.index(section) + len(section)
            body = prompt[start : prompt.index(following) if following else None]
            assert len(body.split()) >= 30, f"{path.stem}: {section} is too thin"


def test_the_library_loads_without_problems() -> None:
    registry = Registry.load(None)
    assert registry.problems == [] and registry.warnings == []
    assert {a.name for a in registry} == {p.stem for p in LIBRARY}
    assert all(a.origin == "library" for a in registry)


def test_the_library_is_package_data() -> None:
    """The files are reachable through importlib.resources, as an installed wheel has them."""
    shipped = files("coditect.agents").joinpath("library")
    names = sorted(entry.name for entry in shipped.iterdir() if entry.name.endswith(".md"))
    assert names == [p.name for p in LIBRARY]
    text = shipped.joinpath("planner.md").read_text(encoding="utf-8")
    assert text.startswith("---\nname: planner\n")


def test_the_example_plan_names_only_shipped_agents() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "tasklist.md"
    named = set(re.findall(r"\bagent=([a-z0-9-]+)", example.read_text(encoding="utf-8")))
    assert named, "the example plan assigns agents"
    assert named <= {p.stem for p in LIBRARY}

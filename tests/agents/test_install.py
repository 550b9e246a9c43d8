"""Installing agents for Claude Code: its format, and never overwriting someone's file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from coditect.agents.install import (
    Action,
    claude_agents_dir,
    install,
    render_claude,
    written_by_us,
)
from coditect.agents.registry import CLAUDE_CODE_FIELDS, Agent, Registry, parse_agent


@pytest.fixture
def agents() -> list[Agent]:
    registry = Registry.load(None)
    return [registry.get("backend"), registry.get("planner")]


def front_matter(text: str) -> dict[str, object]:
    head = text.split("---\n")[1]
    data = yaml.safe_load(head)
    assert isinstance(data, dict)
    return data


def test_the_file_is_claude_codes_format_with_our_marker(agents: list[Agent]) -> None:
    backend = agents[0]
    text = render_claude(replace(backend, executor="fake", max_tokens=9, extra={"color": "red"}))
    data = front_matter(text)
    assert list(data) == ["name", "description", "tools", "color"]  # no CODITECT fields
    assert data["tools"] == "Read, Write, Edit, Bash, Glob, Grep"  # comma-separated text
    assert data["description"] == backend.description
    assert backend.prompt.strip() in text
    assert text.splitlines()[-1].startswith("<!-- coditect-agent sha256=")
    assert written_by_us(text)
    # and it reads back as an agent
    again = parse_agent(text, Path("backend.md"))
    assert (again.name, again.tools, again.extra) == ("backend", backend.tools, {"color": "red"})


def test_only_claude_models_are_written(agents: list[Agent]) -> None:
    for model, kept in [("opus", True), ("claude-sonnet-4-5", True), ("gpt-4o", False)]:
        data = front_matter(render_claude(replace(agents[0], model=model)))
        assert ("model" in data) is kept
        assert set(data) <= {"name", "description", "tools", "model"} | CLAUDE_CODE_FIELDS


def test_install_then_again_changes_nothing(tmp_path: Path, agents: list[Agent]) -> None:
    first = install(agents, tmp_path)
    assert [(r.name, r.action) for r in first] == [
        ("backend", Action.INSTALLED),
        ("planner", Action.INSTALLED),
    ]
    assert (tmp_path / "backend.md").read_text() == render_claude(agents[0])
    stamp = (tmp_path / "backend.md").stat().st_mtime_ns
    second = install(agents, tmp_path)
    assert {r.action for r in second} == {Action.UNCHANGED}
    assert (tmp_path / "backend.md").stat().st_mtime_ns == stamp


def test_our_unedited_file_follows_the_agent(tmp_path: Path, agents: list[Agent]) -> None:
    install(agents, tmp_path)
    changed = replace(agents[0], description="A different description.")
    [result] = install([changed], tmp_path)
    assert result.action is Action.UPDATED
    assert front_matter((tmp_path / "backend.md").read_text())["description"] == (
        "A different description."
    )


def test_an_edited_file_and_a_users_file_are_left_alone(
    tmp_path: Path, agents: list[Agent]
) -> None:
    install(agents, tmp_path)
    edited = (tmp_path / "backend.md").read_text().replace("You are", "You really are", 1)
    (tmp_path / "backend.md").write_text(edited)
    (tmp_path / "planner.md").write_text("---\nname: planner\ndescription: mine\n---\nMine.\n")

    results = install([replace(a, description="New.") for a in agents], tmp_path)
    assert [(r.action, r.reason) for r in results] == [
        (Action.SKIPPED, "edited since coditect wrote it"),
        (Action.SKIPPED, "not written by coditect (no marker line)"),
    ]
    assert (tmp_path / "backend.md").read_text() == edited
    assert "Mine." in (tmp_path / "planner.md").read_text()

    forced = install(agents, tmp_path, force=True)
    assert {r.action for r in forced} == {Action.REPLACED}
    assert (tmp_path / "planner.md").read_text() == render_claude(agents[1])


def test_what_cannot_be_replaced_is_skipped_even_with_force(
    tmp_path: Path, agents: list[Agent]
) -> None:
    (tmp_path / "backend.md").mkdir()
    (tmp_path / "planner.md").write_bytes(b"\xff\xfe not text")
    results = install(agents, tmp_path, force=True)
    assert [(r.action, r.reason) for r in results] == [
        (Action.SKIPPED, "cannot be read: Is a directory"),
        (Action.REPLACED, "not written by coditect (no marker line)"),
    ]
    assert (tmp_path / "backend.md").is_dir()
    assert written_by_us((tmp_path / "planner.md").read_text())


def test_a_dry_run_writes_nothing(tmp_path: Path, agents: list[Agent]) -> None:
    target = tmp_path / "agents"
    results = install(agents, target, dry_run=True)
    assert {r.action for r in results} == {Action.INSTALLED}
    assert not target.exists()


def test_a_non_claude_model_is_reported(tmp_path: Path, agents: list[Agent]) -> None:
    [result] = install([replace(agents[0], model="gpt-4o")], tmp_path)
    assert result.action is Action.INSTALLED
    assert "model 'gpt-4o' is not a Claude model" in result.reason


def test_where_claude_code_looks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert claude_agents_dir(tmp_path) == tmp_path / ".claude" / "agents"
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert claude_agents_dir(None) == tmp_path / "home" / ".claude" / "agents"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    assert claude_agents_dir(None) == tmp_path / "claude" / "agents"

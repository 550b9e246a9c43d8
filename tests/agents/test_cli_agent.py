"""``coditect agent``: every command, its --json output, and its errors and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from coditect.agents.install import written_by_us
from tests.conftest import Run, run_cli


def agents_dir(project: Path) -> Path:
    return project / ".coditect" / "agents"


def test_list_shows_the_library_outside_a_project(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = cli("agent", "list", "--json").json()
    names = [a["name"] for a in data["agents"]]
    assert len(names) >= 20 and names == sorted(names)
    assert {a["origin"] for a in data["agents"]} == {"library"}
    assert "prompt" not in data["agents"][0]
    assert data["problems"] == [] and data["warnings"] == []
    table = cli("agent", "list").out
    assert table.splitlines()[0].split() == ["name", "origin", "executor", "description"]
    assert "\nplanner " in table


def test_an_invalid_file_is_reported_and_hides_nothing_else(cli: Run, project_dir: Path) -> None:
    folder = agents_dir(project_dir)
    folder.mkdir(exist_ok=True)
    (folder / "broken.md").write_text("---\nname: broken\ndescription: d\nmax_tokens: -1\n---\nx\n")
    (folder / "mine.md").write_text("---\nname: mine\ndescription: Mine.\nflavor: x\n---\nHi.\n")

    listed = cli("agent", "list")
    assert "\nmine " in listed.out and "\nplanner " in listed.out
    assert "\nbroken " not in listed.out
    assert "broken.md: max_tokens: must be at least 1, not -1" in listed.err
    assert "mine.md: flavor: unknown field" in listed.err

    data = cli("agent", "list", "--json").json()
    assert data["problems"] == [
        {
            "source": str(folder / "broken.md"),
            "field": "max_tokens",
            "message": f"{folder / 'broken.md'}: max_tokens: must be at least 1, not -1",
        }
    ]
    checked = cli("agent", "validate", code=4)
    assert "max_tokens: must be at least 1" in checked.err
    assert checked.out.strip().endswith("valid, 1 invalid")
    assert cli("agent", "validate", "--json", code=4).json()["problems"][0]["field"] == "max_tokens"
    shown = cli("agent", "show", "broken", code=4)
    assert "error:" in shown.err and "max_tokens" in shown.err


def test_validate_given_files(cli: Run, tmp_path: Path) -> None:
    good = tmp_path / "good.md"
    good.write_text("---\nname: good\ndescription: Good.\n---\nA prompt.\n")
    assert cli("agent", "validate", str(good)).out.strip() == "1 valid, 0 invalid"
    bad = tmp_path / "bad.md"
    bad.write_text("---\nname: other\ndescription: d\n---\nx\n")
    result = cli("agent", "validate", str(good), str(bad), "--json", code=4).json()
    assert result["valid"] == ["good"]
    assert result["problems"][0]["field"] == "name"
    missing = cli("agent", "validate", str(tmp_path / "nope.md"), code=3)
    assert "no file" in missing.err


def test_show_an_agent_and_an_unknown_one(cli: Run, tmp_path: Path) -> None:
    shown = cli("agent", "show", "debugger")
    assert shown.out.startswith("name: debugger\n")
    assert "origin: library" in shown.out and "## Your job" in shown.out
    data = cli("agent", "show", "debugger", "--json").json()
    assert data["name"] == "debugger" and "## How you work" in data["prompt"]
    assert data["overrides"] == []
    unknown = cli("agent", "show", "debuger", code=3)
    assert "no agent called 'debuger'" in unknown.err and "Did you mean 'debugger'" in unknown.err


def test_new_writes_a_valid_template_and_never_overwrites(cli: Run, project_dir: Path) -> None:
    created = cli(
        "agent", "new", "data-viz", "-D", "Charts: dashboards.", "-c", "charts", "-c", "d3"
    )
    path = agents_dir(project_dir) / "data-viz.md"
    assert f"Created {path}." in created.out
    text = path.read_text()
    agent = cli("agent", "show", "data-viz", "--json").json()
    assert agent["description"] == "Charts: dashboards."
    assert agent["capabilities"] == ["charts", "d3"] and agent["origin"] == "project"
    assert cli("agent", "validate").code == 0

    again = cli("agent", "new", "data-viz", code=4)
    assert "already exists" in again.err and path.read_text() == text
    bad = cli("agent", "new", "Data_Viz", code=4)
    assert "'Data_Viz' is not a valid agent name" in bad.err
    assert not (agents_dir(project_dir) / "Data_Viz.md").exists()


def test_new_from_an_agent_makes_an_override(cli: Run, project_dir: Path) -> None:
    created = cli("agent", "new", "backend", "--from", "backend")
    assert "overrides the library agent 'backend'" in created.out
    shown = cli("agent", "show", "backend", "--json").json()
    assert shown["origin"] == "project" and shown["overrides"][0].endswith("library/backend.md")
    cli("agent", "new", "api-builder", "--from", "backend")
    copy = cli("agent", "show", "api-builder", "--json").json()
    assert copy["prompt"] == shown["prompt"]
    cli("agent", "new", "x", "--from", "nobody", code=3)
    mixed = cli("agent", "new", "y", "--from", "backend", "-D", "Other.", code=2)
    assert "cannot be combined" in mixed.err
    assert not (agents_dir(project_dir) / "x.md").exists()
    assert not (agents_dir(project_dir) / "y.md").exists()


def test_new_needs_a_project(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert "no CODITECT project" in cli("agent", "new", "mine", code=3).err


def test_install_into_the_project(cli: Run, project_dir: Path) -> None:
    target = project_dir / ".claude" / "agents"
    first = cli("agent", "install", "--json").json()
    assert {r["action"] for r in first} == {"installed"}
    assert len(first) >= 20 and (target / "planner.md").is_file()
    assert written_by_us((target / "planner.md").read_text())

    (target / "planner.md").write_text("---\nname: planner\ndescription: my own\n---\nMine.\n")
    second = cli("agent", "install")
    assert "planner" in second.out and "skipped" in second.out
    assert "1 file(s) left alone" in second.err and "--force" in second.err
    assert "Mine." in (target / "planner.md").read_text()

    forced = cli("agent", "install", "planner", "--force", "--json").json()
    assert [(r["name"], r["action"]) for r in forced] == [("planner", "replaced")]
    assert written_by_us((target / "planner.md").read_text())

    cli("agent", "install", "nobody", "backend", code=3)


def test_install_dry_run_and_for_the_user(
    cli: Run, project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dry = cli("agent", "install", "backend", "--dry-run")
    assert "installed" in dry.out and not (project_dir / ".claude").exists()

    claude = tmp_path / "claude-config"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude))
    agents_dir(project_dir).mkdir(exist_ok=True)
    (agents_dir(project_dir) / "local.md").write_text("---\nname: local\ndescription: L.\n---\nx\n")
    result = cli("agent", "install", "--user", "--json").json()
    assert {Path(r["path"]).parent for r in result} == {claude / "agents"}
    assert "local" not in {r["name"] for r in result}  # a project's agents stay in it
    assert (claude / "agents" / "debugger.md").is_file()


def test_install_needs_a_project_unless_user(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli("agent", "install", code=3)
    assert not (tmp_path / ".claude").exists()


def test_suggest_ranks_and_explains(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(
        "agent", "suggest", "Write a Dockerfile and a GitHub Actions workflow", "--top", "2"
    )
    lines = result.out.splitlines()
    assert lines[0].split() == ["rank", "agent", "score", "matched"]
    assert lines[1].split()[:2] == ["1", "devops"] and "'dockerfile'" in lines[1]
    assert len(lines) == 3
    data = cli("agent", "suggest", "load testing", "--json", "--top", "1").json()
    assert [(d["agent"], d["assignable"]) for d in data] == [("performance", True)]
    assert data[0]["matched"][0]["term"] == "load testing"
    weak = cli("agent", "suggest", "update the logo")
    assert "would be left unassigned" in weak.out
    none = cli("agent", "suggest", "water the plants", code=3)
    assert "no agent matches" in none.err
    cli("agent", "suggest", "x", "--top", "0", code=2)


def test_the_real_command_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("---\nname: bad\n---\nx\n")
    result = run_cli("agent", "validate", str(bad), cwd=tmp_path, check=False)
    assert result.returncode == 4
    assert "bad.md: description: is required" in result.stderr
    assert "Traceback" not in result.stderr
    shown = run_cli("agent", "show", "nobody", cwd=tmp_path, check=False)
    assert shown.returncode == 3 and "no agent called 'nobody'" in shown.stderr

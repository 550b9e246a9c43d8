"""The CLI in-process: every command's main paths, its --json output, and the error contract."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from coditect.cli import main
from coditect.paths import ProjectPaths
from coditect.tasks.model import Status
from coditect.tasks.store import StateStore
from tests.conftest import CORPUS, Result, Run


def state_bytes(root: Path) -> bytes:
    return (ProjectPaths(root).state_dir / "tasks.json").read_bytes()


def backups_of(root: Path) -> list[str]:
    return sorted(p.name for p in (ProjectPaths(root).state_dir / "backups").iterdir())


def tasks_of(root: Path) -> dict[str, Any]:
    loaded = StateStore(ProjectPaths(root).state_dir).load()
    return {t.id: t for t in loaded.orchestrator.tasks.values()}


def assert_error(result: Result, *needles: str) -> None:
    """The error contract: ``error:`` then ``hint:`` on stderr, nothing on stdout, no traceback."""
    lines = result.err.splitlines()
    assert lines[0].startswith("error: "), result.err
    assert any(line.startswith("hint: ") for line in lines[1:]), result.err
    assert "Traceback" not in result.err
    assert result.out == ""
    for needle in needles:
        assert needle in result.err, result.err


@pytest.fixture
def planned(project_dir: Path, cli: Run) -> Path:
    """A small project: spec (done) → api → ui, and a lone docs task."""
    (project_dir / "plan.md").write_text(
        "## Design\n"
        "- [x] Write the spec {id=spec agent=planner priority=high hours=2}\n"
        "## Development\n"
        "### Backend\n"
        "- [ ] Build the API {id=api agent=backend priority=high hours=5 after=spec tags=http}\n"
        "- [ ] Build the UI {id=ui agent=frontend hours=3 after=api}\n"
        "- [ ] Write docs {id=docs priority=low hours=1 tags=docs}\n"
    )
    cli("plan", "import", "plan.md")
    return project_dir


# -- the root command -----------------------------------------------------------------------------


def test_version_and_help(cli: Run) -> None:
    from coditect import __version__

    assert cli("--version").out == f"coditect {__version__}\n"
    helped = cli("--help")
    for command in ("init", "report", "task", "plan", "state"):
        assert command in helped.out
    assert "Add a task." in cli("task", "--help").out


def test_no_arguments_shows_the_help_with_the_usage_code(cli: Run) -> None:
    bare = cli(code=2)
    assert "Usage: coditect" in bare.out + bare.err
    assert "Commands:" in bare.out + bare.err
    group = cli("task", code=2)
    assert "next" in group.out + group.err


# -- init -----------------------------------------------------------------------------------------


def test_init_creates_a_project_and_is_safe_to_repeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Run
) -> None:
    monkeypatch.chdir(tmp_path)
    first = cli("init", "--name", "Book shelf")
    assert "Initialised a CODITECT project" in first.out
    assert "coditect plan import" in first.out
    paths = ProjectPaths(tmp_path)
    assert 'name = "Book shelf"' in paths.config_file.read_text()
    assert (paths.dir / "agents").is_dir() and paths.logs_dir.is_dir()
    assert tasks_of(tmp_path) == {}
    config, state = paths.config_file.read_bytes(), state_bytes(tmp_path)
    again = cli("init", "--name", "Other")
    assert "Already a CODITECT project" in again.out and "nothing changed" in again.out
    assert paths.config_file.read_bytes() == config
    assert state_bytes(tmp_path) == state
    assert len(backups_of(tmp_path)) == 1


def test_init_a_given_folder_named_after_it(tmp_path: Path, cli: Run) -> None:
    target = tmp_path / "new" / "shop"
    cli("init", str(target))
    assert 'name = "shop"' in ProjectPaths(target).config_file.read_text()


def test_init_on_a_file_is_a_clear_error(tmp_path: Path, cli: Run) -> None:
    (tmp_path / "README.md").write_text("hi")
    result = cli("init", str(tmp_path / "README.md"), code=4)
    assert_error(result, "cannot create", "Not a directory")


# -- task add / list / show -----------------------------------------------------------------------


def test_task_add_with_every_option(project_dir: Path, cli: Run) -> None:
    cli("task", "add", "Spec", "--id", "spec")
    data = cli(
        "task", "add", "Build the API",
        "--id", "api",
        "-D", "REST, JSON",
        "--agent", "backend",
        "--priority", "critical",
        "--phase", "testing",
        "-d", "spec",
        "--hours", "2.5",
        "--deliverable", "api.py",
        "--criterion", "tests pass",
        "--acceptance", "make test",
        "--command", "make",
        "--tag", "a,b", "--tag", "c",
        "--output-file", "out.txt",
        "--notes", "careful",
        "--section", "Backend",
        "--meta", "ticket=42", "--meta", "owner=me",
        "--json",
    ).json()  # fmt: skip
    assert data["id"] == "api"
    assert data["description"] == "REST, JSON"
    assert (data["agent"], data["priority"], data["phase"]) == ("backend", "critical", "testing")
    assert data["dependencies"] == ["spec"]
    assert data["estimated_hours"] == 2.5
    assert data["deliverables"] == ["api.py"]
    assert data["success_criteria"] == ["tests pass"]
    assert data["acceptance"] == "make test"
    assert data["commands"] == ["make"]
    assert data["tags"] == ["a", "b", "c"]
    assert data["output_files"] == ["out.txt"]
    assert (data["notes"], data["section"]) == ("careful", "Backend")
    assert data["metadata"] == {"ticket": "42", "owner": "me"}
    assert data["history"][0]["note"] == "created"
    assert tasks_of(project_dir)["api"].to_dict() == data


def test_task_add_without_an_id_gets_a_hash_id(project_dir: Path, cli: Run) -> None:
    line = cli("task", "add", "First task").out.strip()
    task_id, status, title = line.split("  ")
    assert task_id.startswith("t-") and len(task_id) >= 9
    assert (status, title) == ("pending", "First task")
    assert list(tasks_of(project_dir)) == [task_id]


def test_task_list_as_table_and_json_with_filters(planned: Path, cli: Run) -> None:
    table = cli("task", "list").out.splitlines()
    assert table[0].split() == [
        "id",
        "status",
        "priority",
        "phase",
        "agent",
        "hours",
        "after",
        "title",
    ]
    assert [row.split()[0] for row in table[1:]] == ["spec", "api", "ui", "docs"]
    assert "\x1b[" not in "".join(table)
    listed = cli("task", "list", "--json").json()
    assert [t["id"] for t in listed] == ["spec", "api", "ui", "docs"]
    assert listed[1]["dependencies"] == ["spec"]

    def ids(*filters: str) -> list[str]:
        return [t["id"] for t in cli("task", "list", "--json", *filters).json()]

    assert ids("--status", "completed") == ["spec"]
    assert ids("--phase", "design") == ["spec"]
    assert ids("--priority", "high") == ["spec", "api"]
    assert ids("--agent", "frontend") == ["ui"]
    assert ids("--tag", "docs") == ["docs"]
    assert ids("--status", "failed") == []


def test_task_show_text_and_json(planned: Path, cli: Run) -> None:
    data = cli("task", "show", "api", "--json").json()
    assert data == {**tasks_of(planned)["api"].to_dict(), "dependents": ["ui"]}
    text = cli("task", "show", "api").out
    assert "id: api\n" in text
    assert "title: Build the API\n" in text
    assert "dependencies: spec\n" in text
    assert "dependents: ui\n" in text
    assert "tags: http\n" in text
    assert "section: Backend\n" in text
    assert "history" in text and "plan import" in text
    assert "error:" not in text  # empty fields are left out


def test_task_show_a_multi_line_description(project_dir: Path, cli: Run) -> None:
    cli("task", "add", "Multi", "--id", "m", "-D", "line one\nline two")
    assert "description:\nline one\nline two\n" in cli("task", "show", "m").out


# -- task update / delete -------------------------------------------------------------------------


def test_task_update_fields(planned: Path, cli: Run) -> None:
    data = cli(
        "task", "update", "ui",
        "--title", "Build the web UI",
        "-D", "React",
        "--agent", "web",
        "--priority", "low",
        "--phase", "design",
        "--depends", "spec,docs",
        "--hours", "8",
        "--acceptance", "npm test",
        "--tag", "web", "--tag", "ui",
        "--notes", "n",
        "--section", "Frontend",
        "--json",
    ).json()  # fmt: skip
    assert data["title"] == "Build the web UI"
    assert (data["description"], data["agent"], data["priority"]) == ("React", "web", "low")
    assert (data["phase"], data["dependencies"]) == ("design", ["spec", "docs"])
    assert (data["estimated_hours"], data["acceptance"]) == (8.0, "npm test")
    assert (data["tags"], data["notes"], data["section"]) == (["web", "ui"], "n", "Frontend")
    assert data["status"] == "pending"
    assert tasks_of(planned)["ui"].to_dict() == data


def test_task_update_clears_dependencies_with_an_empty_value(planned: Path, cli: Run) -> None:
    assert cli("task", "update", "ui", "--depends", "", "--json").json()["dependencies"] == []


def test_task_update_without_changes_shows_the_task(planned: Path, cli: Run) -> None:
    before = tasks_of(planned)["api"].to_dict()
    assert cli("task", "update", "api").out.strip() == "api  pending  Build the API"
    assert cli("task", "update", "api", "--json").json() == before
    assert tasks_of(planned)["api"].to_dict() == before


def test_task_update_status_follows_the_lifecycle(planned: Path, cli: Run) -> None:
    started = cli("task", "update", "api", "--status", "in_progress", "--json").json()
    assert (started["status"], started["attempts"]) == ("in_progress", 1)
    failed = cli("task", "update", "api", "--status", "failed", "--note", "boom", "--json").json()
    assert (failed["status"], failed["error"]) == ("failed", "boom")
    assert cli("task", "update", "api", "--status", "pending", "--json").json()["status"] == (
        "pending"
    )
    result = cli("task", "update", "docs", "--status", "completed", code=4)
    assert_error(result, "needs --force")
    forced = cli("task", "update", "docs", "--status", "completed", "--force", "-n", "done")
    assert forced.out.strip() == "docs  completed  Write docs"
    assert tasks_of(planned)["docs"].history[-1].note == "done"


def test_task_update_with_the_same_status_records_nothing(planned: Path, cli: Run) -> None:
    history = len(tasks_of(planned)["api"].history)
    cli("task", "update", "api", "--status", "pending", "--hours", "6")
    api = tasks_of(planned)["api"]
    assert (len(api.history), api.estimated_hours) == (history, 6.0)


def test_task_delete(planned: Path, cli: Run) -> None:
    assert cli("task", "delete", "docs").out.strip() == "Deleted docs."
    assert "docs" not in tasks_of(planned)
    refused = cli("task", "delete", "api", code=4)
    assert_error(refused, "task api has dependents: ui", "--force")
    assert "api" in tasks_of(planned)
    forced = cli("task", "delete", "api", "--force").out
    assert "Deleted api." in forced
    assert "These tasks no longer depend on it: ui" in forced
    assert tasks_of(planned)["ui"].dependencies == []


# -- the lifecycle commands -----------------------------------------------------------------------


def test_start_complete_fail_cancel_retry(planned: Path, cli: Run) -> None:
    assert cli("task", "start", "api", "-n", "go").out.strip() == "api  in_progress  Build the API"
    done = cli("task", "complete", "api", "--note", "merged #12", "--json").json()
    assert done["status"] == "completed" and done["completed_at"]
    assert done["history"][-1]["note"] == "merged #12"
    cli("task", "start", "ui")
    failed = cli("task", "fail", "ui", "--error", "tests red", "--json").json()
    assert (failed["status"], failed["error"]) == ("failed", "tests red")
    retried = cli("task", "retry", "ui", "--json").json()
    assert (retried["status"], retried["history"][-1]["note"]) == ("pending", "retry")
    cancelled = cli("task", "cancel", "docs", "-n", "not needed", "--json").json()
    assert cancelled["status"] == "cancelled"
    assert cli("task", "retry", "docs", "-n", "needed after all").out.startswith("docs  pending")
    statuses = {i: t.status for i, t in tasks_of(planned).items()}
    assert statuses == {
        "spec": Status.COMPLETED,
        "api": Status.COMPLETED,
        "ui": Status.PENDING,
        "docs": Status.PENDING,
    }


def test_each_lifecycle_command_prints_the_task(planned: Path, cli: Run) -> None:
    assert cli("task", "start", "docs").out.strip() == "docs  in_progress  Write docs"
    assert cli("task", "fail", "docs", "-e", "x").out.strip() == "docs  failed  Write docs"
    assert cli("task", "cancel", "docs").out.strip() == "docs  cancelled  Write docs"
    assert cli("task", "retry", "docs").out.strip() == "docs  pending  Write docs"
    assert cli("task", "complete", "docs", "--force").out.strip() == "docs  completed  Write docs"
    assert cli("task", "start", "api", "--json").json()["status"] == "in_progress"


@pytest.mark.parametrize(
    ("args", "code", "needles"),
    [
        (("task", "start", "ui"), 4, ("dependencies not completed: api", "task ready")),
        (("task", "complete", "docs"), 4, ("needs --force",)),
        (("task", "complete", "spec"), 4, ("spec is completed", "with --force: pending")),
        (("task", "retry", "api"), 4, ("only failed or cancelled tasks retry",)),
        (("task", "fail", "api", "--error", "  "), 4, ("needs an error message",)),
        (("task", "cancel", "spec"), 4, ("cannot become cancelled",)),
        (("task", "start", "nope"), 3, ("no task with id nope", "task list")),
        (("task", "show", "nope"), 3, ("no task with id nope",)),
        (("task", "update", "nope", "--hours", "1"), 3, ("no task with id nope",)),
        (("task", "delete", "nope"), 3, ("no task with id nope",)),
        (("task", "add", "Dup", "--id", "api"), 4, ("already exists",)),
        (("task", "add", "X", "-d", "ghost"), 4, ("unknown task ghost",)),
        (("task", "add", "X", "--id", "bad id"), 4, ("invalid task id 'bad id'",)),
        (("task", "add", ""), 4, ("title must not be empty",)),
        (("task", "add", "X", "--hours", "0"), 4, ("greater than 0",)),
        (("task", "add", "X", "--hours", "-3"), 4, ("greater than 0",)),
        (("task", "add", "X", "--meta", "novalue"), 4, ("is not key=value",)),
        (("task", "update", "spec", "--depends", "ui"), 4, ("dependency cycle: ",)),
        (("task", "update", "api", "--depends", "api"), 4, ("cannot depend on itself",)),
        (("task", "update", "api", "--title", " "), 4, ("title must not be empty",)),
        (("task", "add", "X", "--priority", "urgent"), 2, ("'urgent' is not one of",)),
        (("task", "add", "X", "--hours", "many"), 2, ("--hours",)),
        (("task", "add"), 2, ("Missing argument",)),
        (("task", "fail", "api"), 2, ("Missing option '--error'",)),
        (("task", "bogus"), 2, ("No such command 'bogus'",)),
        (("task", "list", "--nope"), 2, ("No such option: --nope",)),
        (("task", "list", "--status", "done"), 2, ("'done' is not one of",)),
        (("task", "graph", "--json", "--dot"), 2, ("choose one of --json, --mermaid and --dot",)),
        (("report", "--json", "--markdown"), 2, ("choose one of --json and --markdown",)),
        (("state", "rollback", "no-such-backup.json"), 3, ("no backup named",)),
        (("plan", "import", "missing.md"), 4, ("missing.md: cannot read the file",)),
        (("plan", "import", "plan.md", "--tag", "x"), 4, ("--tag applies to Task Master",)),
        (("plan", "export", "-o", "no/such/dir/plan.md"), 4, ("cannot write",)),
        (("plan", "export", "--format", "yaml"), 2, ("'yaml' is not one of",)),
    ],
)
def test_expected_failures_follow_the_error_contract(
    planned: Path, cli: Run, args: tuple[str, ...], code: int, needles: tuple[str, ...]
) -> None:
    before, backups = state_bytes(planned), backups_of(planned)
    result = cli(*args, code=code)
    assert_error(result, *needles)
    assert state_bytes(planned) == before
    assert backups_of(planned) == backups


def test_usage_errors_name_the_command_to_ask_for_help(planned: Path, cli: Run) -> None:
    result = cli("task", "add", code=2)
    assert "hint: Run `coditect task add --help` to see how it is used." in result.err


# -- next / ready / graph -------------------------------------------------------------------------


def test_next_and_ready(planned: Path, cli: Run) -> None:
    text = cli("task", "next").out
    assert text.splitlines()[0] == "api  Build the API"
    assert "high · development, 5h · agent: backend" in text
    assert "Start it with: coditect task start api" in text
    assert cli("task", "next", "--json").json()["id"] == "api"
    assert cli("task", "next", "--tag", "docs", "--json").json()["id"] == "docs"
    assert cli("task", "next", "--priority", "low", "--json").json()["id"] == "docs"
    assert cli("task", "next", "--agent", "nobody", code=3).err.startswith("error: no task")
    assert [t["id"] for t in cli("task", "ready", "--json").json()] == ["api", "docs"]
    assert [t["id"] for t in cli("task", "ready", "--phase", "design", "--json").json()] == []
    rows = cli("task", "ready").out.splitlines()
    assert [r.split()[0] for r in rows[1:]] == ["api", "docs"]


def test_next_shows_the_description(project_dir: Path, cli: Run) -> None:
    cli("task", "add", "Only", "--id", "only", "-D", "Why it matters")
    text = cli("task", "next").out
    assert "  Why it matters" in text
    assert "medium · development · agent: -" in text


def test_nothing_ready_exits_3_with_a_hint(project_dir: Path, cli: Run) -> None:
    result = cli("task", "next", code=3)
    assert_error(result, "no task is ready", "coditect report")


def test_graph_text(planned: Path, cli: Run) -> None:
    text = cli("task", "graph").out
    assert "Wave 1 (2 tasks)" in text
    assert "  api  [pending]  Build the API" in text
    assert "Wave 2 (1 task)" in text
    assert "Critical path (8h): api → ui" in text
    assert "spec" not in text  # done work is left out
    assert "spec  [completed]" in cli("task", "graph", "--all").out


def test_graph_text_with_no_work_left(project_dir: Path, cli: Run) -> None:
    assert cli("task", "graph").out.strip() == "No work left."
    assert cli("task", "graph", "--all").out.strip() == "No tasks."
    cli("task", "add", "Only", "--id", "only")
    cli("task", "complete", "only", "--force")
    assert cli("task", "graph").out.strip() == "No work left."
    done = cli("task", "graph", "--all").out
    assert "  only  [completed]  Only" in done
    assert "Critical path" not in done  # nothing remains, so no path


def test_graph_json(planned: Path, cli: Run) -> None:
    data = cli("task", "graph", "--json").json()
    assert data["waves"] == [["api", "docs"], ["ui"]]
    assert data["critical_path"] == {"ids": ["api", "ui"], "hours": 8.0}
    assert data["edges"] == [{"task": "ui", "depends_on": "api"}]
    everything = cli("task", "graph", "--json", "--all").json()
    assert {"task": "api", "depends_on": "spec"} in everything["edges"]
    assert everything["waves"] == [["spec", "docs"], ["api"], ["ui"]]


def test_graph_mermaid_and_dot(planned: Path, cli: Run) -> None:
    cli("task", "start", "docs")
    cli("task", "fail", "docs", "-e", "x")
    mermaid = cli("task", "graph", "--mermaid", "--all").out.splitlines()
    assert mermaid[0] == "flowchart LR"
    assert '    n_api["api: Build the API"]' in mermaid
    assert "    n_api ==> n_ui" in mermaid  # on the critical path
    assert "    n_spec --> n_api" in mermaid
    assert "    class n_spec done" in mermaid
    assert "    class n_docs failed" in mermaid
    open_only = cli("task", "graph", "--mermaid").out
    assert "n_spec" not in open_only  # neither the done task nor its edges
    assert "    n_api ==> n_ui" in open_only
    dot = cli("task", "graph", "--dot").out.splitlines()
    assert dot[0] == "digraph tasks {" and dot[-1] == "}"
    assert '  "api" [label="api\\nBuild the API", fillcolor=white];' in dot
    assert '  "docs" [label="docs\\nWrite docs", fillcolor=lightpink];' in dot
    assert '  "api" -> "ui" [penwidth=2.5];' in dot
    assert not any('"spec"' in line for line in dot)


def test_graph_labels_escape_quotes_and_odd_ids(project_dir: Path, cli: Run) -> None:
    cli("task", "add", 'Say "hi"', "--id", "a.b-c")
    assert "    n_a_b_c[\"a.b-c: Say 'hi'\"]" in cli("task", "graph", "--mermaid").out


# -- report ---------------------------------------------------------------------------------------


def test_report_text_json_and_markdown(planned: Path, cli: Run) -> None:
    cli("task", "start", "docs")
    cli("task", "fail", "docs", "-e", "no writer")
    cli("task", "update", "ui", "--status", "blocked", "-n", "waiting for design")
    data = cli("report", "--json").json()
    assert data["total"] == 4
    assert data["by_status"] == {"completed": 1, "pending": 1, "failed": 1, "blocked": 1}
    assert data["completion_percent"] == 25.0
    assert (data["estimated_hours"], data["remaining_hours"]) == (11.0, 9.0)
    assert data["critical_path"] == {"ids": ["api", "ui"], "hours": 8.0}
    assert data["next"]["id"] == "api"
    assert data["failed"] == [
        {"id": "docs", "title": "Write docs", "error": "no writer", "attempts": 1}
    ]
    assert data["blocked"][0]["id"] == "ui" and data["blocked"][0]["blocked_by"] == ["api"]
    markdown = cli("report", "--markdown").out
    assert markdown.startswith("# Project report\n")
    assert "- **Tasks:** 4 · **completed:** 25%" in markdown
    assert "- **Critical path** (8h): api → ui" in markdown
    assert "- **Next:** api — Build the API" in markdown
    assert "- ui — Build the UI: marked blocked (waiting for design); waits for api" in markdown
    assert "- docs — Write docs: no writer (attempts: 1)" in markdown
    text = cli("report").out
    assert text.strip() == markdown.strip()
    cli("task", "update", "ui", "--status", "pending")
    cli("task", "retry", "docs")
    cli("task", "update", "docs", "--status", "blocked")  # no reason, nothing to wait for
    assert "- docs — Write docs: marked blocked\n" in cli("report", "--markdown").out


def test_report_of_an_empty_project(project_dir: Path, cli: Run) -> None:
    data = cli("report", "--json").json()
    assert (data["total"], data["completion_percent"], data["next"]) == (0, 0.0, None)
    text = cli("report").out
    assert "- **By status:** none" in text
    assert "Critical path" not in text and "Next" not in text


def test_report_counts_tasks_without_estimates(project_dir: Path, cli: Run) -> None:
    cli("task", "add", "A", "--id", "a")
    cli("task", "add", "B", "--id", "b", "-d", "a")
    cli("task", "start", "a")
    cli("task", "cancel", "a")
    assert "(2 tasks without an estimate)" in cli("report").out
    assert "- b — B: stuck behind a" in cli("report", "--markdown").out


# -- plan import / export -------------------------------------------------------------------------


def test_plan_import_text_and_reimport(project_dir: Path, cli: Run) -> None:
    (project_dir / "plan.md").write_text("- [ ] A {id=a}\n- [x] B {id=b}\n")
    first = cli("plan", "import", "plan.md").out
    assert first.splitlines() == [
        "Imported plan.md: 2 added, 0 updated, 0 unchanged.",
        "  added: a, b",
    ]
    assert cli("plan", "import", "plan.md").out.strip() == (
        "Imported plan.md: 0 added, 0 updated, 2 unchanged."
    )
    (project_dir / "plan.md").write_text("- [>] A {id=a}\n- [x] B {id=b}\n- [ ] C {id=c}\n")
    third = cli("plan", "import", "plan.md", "--json").json()
    assert third == {"added": ["c"], "updated": ["a"], "unchanged": ["b"], "dry_run": False}
    assert tasks_of(project_dir)["a"].status is Status.IN_PROGRESS


def test_plan_import_dry_run_writes_nothing(planned: Path, cli: Run) -> None:
    (planned / "more.md").write_text("- [x] Build the API {id=api}\n- [ ] New {id=new}\n")
    before, backups = state_bytes(planned), backups_of(planned)
    text = cli("plan", "import", "more.md", "--dry-run").out
    assert text.splitlines() == [
        "Would import more.md: 1 added, 1 updated, 0 unchanged.",
        "  added: new",
        "  updated: api",
    ]
    data = cli("plan", "import", "more.md", "--dry-run", "--json").json()
    assert data == {"added": ["new"], "updated": ["api"], "unchanged": [], "dry_run": True}
    assert state_bytes(planned) == before
    assert backups_of(planned) == backups


def test_plan_import_a_dry_run_still_validates(planned: Path, cli: Run) -> None:
    (planned / "bad.md").write_text("- [ ] Loop {id=spec after=ui}\n")
    before = state_bytes(planned)
    assert_error(cli("plan", "import", "bad.md", "--dry-run", code=4), "dependency cycle")
    assert state_bytes(planned) == before


def test_plan_import_error_names_file_and_line(planned: Path, cli: Run) -> None:
    (planned / "bad.md").write_text("# Plan\n\n- [ ] Fine\n- [?] Odd\n")
    assert_error(cli("plan", "import", "bad.md", code=4), "bad.md:4: unknown checkbox mark [?]")


def test_plan_import_a_large_task_master_file(project_dir: Path, cli: Run) -> None:
    path = CORPUS / "taskmaster" / "CanAISolutions__canai-platform.json"
    text = cli("plan", "import", str(path)).out.splitlines()
    assert text[0].endswith(": 472 added, 0 updated, 0 unchanged.")
    assert text[1].startswith("  added: 1, 1.1, 1.2")
    assert text[1].endswith(" and 452 more")
    assert len(tasks_of(project_dir)) == 472
    again = cli("plan", "import", str(path), "--json").json()
    assert (again["added"], again["updated"], len(again["unchanged"])) == ([], [], 472)


def test_plan_import_a_task_master_tag(project_dir: Path, cli: Run) -> None:
    path = str(CORPUS / "taskmaster" / "5dlabs__toolman.json")
    assert len(cli("plan", "import", path, "--tag", "verification", "--json").json()["added"]) == (
        120
    )
    assert_error(cli("plan", "import", path, "--tag", "nope", code=4), "no tag 'nope'")


def test_plan_export_markdown_and_taskmaster(planned: Path, cli: Run) -> None:
    markdown = cli("plan", "export").out
    assert markdown.startswith("# project\n")  # the project's name from its config
    assert "- [x] Write the spec {id=spec agent=planner priority=high hours=2}" in markdown
    assert cli("plan", "export", "-f", "markdown").out == markdown
    document = cli("plan", "export", "--format", "taskmaster").json()
    tasks = document["master"]["tasks"]
    assert [t["coditect"]["id"] for t in tasks] == ["spec", "api", "ui", "docs"]
    assert [t["id"] for t in tasks] == [1, 2, 3, 4]
    assert [t["status"] for t in tasks] == ["done", "pending", "pending", "pending"]
    assert tasks[2]["dependencies"] == [2]


@pytest.mark.parametrize("fmt", ["markdown", "taskmaster"])
def test_plan_export_to_a_file_round_trips(
    planned: Path, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    name = "out.md" if fmt == "markdown" else "out.json"
    cli("task", "start", "api")
    cli("task", "fail", "api", "-e", "x")
    cli("task", "cancel", "docs")
    cli("task", "update", "ui", "--status", "blocked")
    target = tmp_path / name
    result = cli("plan", "export", "--format", fmt, "-o", str(target))
    assert result.out == ""
    shown = cli("plan", "export", "--format", fmt).out
    if fmt == "markdown":
        assert target.read_text() == shown
    else:  # the same document, but for the time of export in its metadata
        written, printed = json.loads(target.read_bytes()), json.loads(shown)
        assert written["master"]["tasks"] == printed["master"]["tasks"]
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    cli("init")
    assert cli("plan", "import", str(target), "--json").json()["added"] == [
        "spec",
        "api",
        "ui",
        "docs",
    ]
    keys = ("status", "dependencies", "priority", "agent", "estimated_hours", "tags", "phase")
    exported = {
        i: {k: getattr(t, k) for k in (*keys, "section")} for i, t in tasks_of(planned).items()
    }
    imported = {
        i: {k: getattr(t, k) for k in (*keys, "section")} for i, t in tasks_of(other).items()
    }
    assert imported == exported


# -- state verify / backups / rollback ------------------------------------------------------------


def test_state_verify_and_backups(planned: Path, cli: Run) -> None:
    text = cli("state", "verify").out.splitlines()
    assert text[0] == "backups: 2 valid of 2"
    assert text[1].startswith("state: ok — revision 2, 4 tasks, saved ")
    data = cli("state", "verify", "--json").json()
    assert (data["backups"], data["valid_backups"]) == (2, 2)
    assert data["state"]["valid"] is True and data["state"]["tasks"] == 4
    listed = cli("state", "backups", "--json").json()
    assert [b["revision"] for b in listed] == [2, 1]
    assert [b["tasks"] for b in listed] == [4, 0]
    table = cli("state", "backups").out.splitlines()
    assert table[0].split() == ["name", "revision", "tasks", "saved", "valid"]
    assert table[1].split()[0] == listed[0]["name"] and table[1].split()[-1] == "yes"


def test_state_verify_of_a_damaged_file_exits_7(planned: Path, cli: Run) -> None:
    state = ProjectPaths(planned).state_dir / "tasks.json"
    state.write_bytes(state.read_bytes().replace(b"Build the API", b"Build the APX"))
    result = cli("state", "verify", code=7)
    assert result.out.strip() == "backups: 2 valid of 2"
    assert result.err.startswith("error: ") and "checksum mismatch" in result.err
    assert "hint: `coditect state backups` lists the backups" in result.err
    as_json = cli("state", "verify", "--json", code=7)
    assert as_json.json()["state"]["valid"] is False
    assert b"Build the APX" in state.read_bytes()  # verify reports; it does not repair


def test_state_rollback(planned: Path, cli: Run) -> None:
    cli("task", "delete", "docs")
    text = cli("state", "rollback").out.strip()
    assert text.startswith("Restored ") and text.endswith("(revision 2, 4 tasks) as revision 4.")
    assert "docs" in tasks_of(planned)
    first = cli("state", "backups", "--json").json()[-1]
    assert first["revision"] == 1
    named = cli("state", "rollback", first["name"]).out
    assert "(revision 1, 0 tasks) as revision 5." in named
    assert tasks_of(planned) == {}


def test_state_rollback_refuses_a_damaged_backup(planned: Path, cli: Run) -> None:
    backup = sorted((ProjectPaths(planned).state_dir / "backups").iterdir())[0]
    backup.write_text("{}")
    listed = cli("state", "backups").out
    assert "no: " in listed
    before = state_bytes(planned)
    assert_error(cli("state", "rollback", backup.name, code=7), "is damaged")
    assert state_bytes(planned) == before


def test_state_rollback_with_no_earlier_backup(project_dir: Path, cli: Run) -> None:
    assert_error(cli("state", "rollback", code=3), "no earlier valid backup")


def test_damaged_state_without_backups_exits_7(planned: Path, cli: Run) -> None:
    paths = ProjectPaths(planned)
    (paths.state_dir / "tasks.json").write_text("garbage")
    for backup in (paths.state_dir / "backups").iterdir():
        backup.unlink()
    result = cli("task", "list", code=7)
    assert_error(result, "no valid backup exists", "coditect state backups")


def test_damaged_state_is_restored_with_a_warning(planned: Path, cli: Run) -> None:
    paths = ProjectPaths(planned)
    (paths.state_dir / "tasks.json").write_text("{not json")
    result = cli("task", "list", "--json")
    assert [t["id"] for t in result.json()] == ["spec", "api", "ui", "docs"]
    assert result.err.startswith("warning: the task state was damaged")
    assert "hint: Run `coditect state verify`" in result.err
    assert len(list((paths.state_dir / "damaged").iterdir())) == 1
    assert cli("state", "verify").code == 0


# -- no project, unexpected errors, --debug -------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("task", "list"),
        ("task", "add", "X"),
        ("report",),
        ("plan", "export"),
        ("state", "verify"),
        ("state", "backups"),
        ("state", "rollback"),
    ],
)
def test_outside_a_project_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Run, args: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(*args, code=3)
    assert_error(result, "no CODITECT project in", "coditect init")
    assert not (tmp_path / ".coditect").exists()


def _break_the_lock(root: Path) -> None:
    """A folder where the lock file belongs: a real project damage nothing anticipates."""
    lock = ProjectPaths(root).state_dir / "lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()


def test_an_unexpected_error_prints_one_line_and_the_log_path(
    project_dir: Path, user_home: Path, cli: Run
) -> None:
    _break_the_lock(project_dir)
    before = state_bytes(project_dir)
    result = cli("task", "add", "X", code=70)
    lines = result.err.splitlines()
    assert lines[0] == (
        f"error: unexpected error: IsADirectoryError: [Errno 21] Is a directory: "
        f"'{ProjectPaths(project_dir).state_dir / 'lock'}'"
    )
    log = user_home / "logs" / "coditect.log"
    assert lines[1:] == [
        f"hint: This is a bug in coditect. The details are in {log}; "
        "run again with --debug to see them here."
    ]
    assert "Traceback" not in result.err
    written = log.read_text()
    assert "Traceback (most recent call last)" in written
    assert "IsADirectoryError" in written
    assert state_bytes(project_dir) == before


def test_an_unexpected_error_when_the_log_cannot_be_written(
    project_dir: Path, user_home: Path, cli: Run
) -> None:
    _break_the_lock(project_dir)
    (user_home / "logs").write_text("a file where the log folder belongs")
    result = cli("task", "add", "X", code=70)
    assert "(the log file could not be written)" in result.err


def test_debug_shows_the_traceback(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CODITECT_DEBUG", "0")  # restored after the test; --debug sets it to 1
    with pytest.raises(Exception, match="no task with id nope") as caught:
        main(["--debug", "task", "show", "nope"])
    assert type(caught.value).__name__ == "TaskNotFoundError"
    assert os.environ["CODITECT_DEBUG"] == "1"
    _break_the_lock(project_dir)
    with pytest.raises(IsADirectoryError):
        main(["task", "add", "X"])  # CODITECT_DEBUG=1 now: no log, the exception itself
    assert capsys.readouterr().err == ""


def test_an_unreadable_state_file_is_an_error_with_a_hint(project_dir: Path, cli: Run) -> None:
    state = ProjectPaths(project_dir).state_dir / "tasks.json"
    state.unlink()
    state.mkdir()
    result = cli("task", "list", code=4)
    assert_error(result, "cannot read", "readable")


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs /proc/PID/wchan")
def test_ctrl_c_while_waiting_for_the_lock_exits_130(project_dir: Path) -> None:
    lock = FileLock(ProjectPaths(project_dir).state_dir / "lock")
    with lock:
        process = subprocess.Popen(
            [sys.executable, "-m", "coditect", "task", "add", "X"],
            cwd=project_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wchan = Path(f"/proc/{process.pid}/wchan")
        deadline = time.monotonic() + 30
        sleeping = 0
        while time.monotonic() < deadline:  # wait until it sleeps between tries for the lock
            sleeping = sleeping + 1 if "nanosleep" in wchan.read_text() else 0
            if sleeping == 3:
                break
            time.sleep(0.02)
        else:  # pragma: no cover
            process.kill()
            pytest.fail("the command never waited for the lock")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert err.splitlines() == ["error: interrupted"]
    assert out == ""
    assert tasks_of(project_dir) == {}


@pytest.mark.parametrize("title", ["Fix [/] bug", "[wip] Refactor [x] marks", "See [bold]x[/]"])
def test_titles_that_look_like_markup_are_shown_as_written(
    project_dir: Path, cli: Run, title: str
) -> None:
    cli("task", "add", title, "--id", "m", "--description", title)
    for args in (("task", "list"), ("task", "next"), ("task", "show", "m"), ("task", "graph")):
        assert title in cli(*args).out, args


def test_add_and_update_set_what_the_runner_reads(cli: Run, project_dir: Path) -> None:
    cli("task", "add", "Build", "--id", "b", "--command", "make", "--executor", "script")
    cli("task", "add", "Ship", "--id", "s", "--retries", "3")
    task = tasks_of(project_dir)["b"]
    assert (task.commands, task.executor, task.max_retries) == (["make"], "script", None)
    assert tasks_of(project_dir)["s"].max_retries == 3

    cli("task", "update", "b", "--command", "make a", "--command", "make b", "--retries", "0")
    assert (tasks_of(project_dir)["b"].commands, tasks_of(project_dir)["b"].max_retries) == (
        ["make a", "make b"],
        0,
    )
    cli("task", "update", "b", "--command", "")
    assert tasks_of(project_dir)["b"].commands == []
    before = state_bytes(project_dir)
    bad = cli("task", "update", "b", "--executor", "claude code", code=4)
    assert_error(bad, "executor must be a name")
    assert state_bytes(project_dir) == before
    cli("task", "add", "X", "--retries", "-1", code=2)

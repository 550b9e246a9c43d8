"""``coditect run`` and ``coditect runs`` as a user calls them: output, exit codes, dry
run, worktrees in a real git repository."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from coditect.tasks.model import AgentTask, Status
from coditect.tasks.store import StateStore
from tests.conftest import run_cli
from tests.execution.runner_support import tasks_of


def add(store: StateStore, *tasks: AgentTask) -> None:
    with store.transaction() as loaded:
        loaded.orchestrator.put(tasks)


def clean_error(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert result.returncode == code, result
    assert result.stderr.startswith("error: "), result.stderr
    assert "\nhint: " in result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_a_run_prints_a_line_per_event_and_a_summary(project_dir: Path, store: StateStore) -> None:
    run_cli("task", "add", "First", "--id", "one", "--command", "echo one > one.txt")
    run_cli("task", "add", "Second", "--id", "two", "-d", "one", "--command", "cat one.txt")
    result = run_cli("run")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("run r-") and lines[0].endswith(": 2 tasks to do")
    assert lines[1] == "started   one  [script]  First"
    assert lines[2].startswith("completed one  ") and lines[2].endswith("(1/2)")
    assert lines[3] == "started   two  [script]  Second"
    assert lines[-2].endswith("every task of the run is completed")
    assert lines[-1].startswith("  2 completed, 0 failed, 0 retries, 0 stopped; 0 tokens")
    assert tasks_of(store)["two"].output == "one\n"
    assert (project_dir / "one.txt").exists()

    listed = json.loads(run_cli("runs", "list", "--json").stdout)
    assert [r["state"] for r in listed] == ["completed"]
    assert (listed[0]["tasks"], listed[0]["completed"]) == (2, 2)
    shown = json.loads(run_cli("runs", "show", "latest", "--json").stdout)
    assert shown["run_id"] == listed[0]["run_id"]
    assert [t["id"] for t in shown["tasks"]] == ["one", "two"]
    text = run_cli("runs", "show", listed[0]["run_id"]).stdout
    assert text.startswith(f"Run {listed[0]['run_id']}: completed — every task")


def test_a_failed_task_exits_1_with_the_error(project_dir: Path, store: StateStore) -> None:
    add(store, AgentTask(id="bad", title="bad", commands=["echo oops >&2; exit 4"], max_retries=0))
    result = run_cli("run", "--json", check=False)
    clean_error(result, 1, "1 task failed: bad")
    summary = json.loads(result.stdout)
    assert summary["outcome"] == "failed"
    assert summary["tasks"][0]["error"].endswith("exited with 4:\noops")


def test_a_budget_exits_1_naming_the_budget(project_dir: Path, store: StateStore) -> None:
    add(
        store,
        *(AgentTask(id=f"b{i}", title="bad", commands=["false"], max_retries=0) for i in range(3)),
    )
    result = run_cli("run", "-p", "1", "--max-failures", "2", check=False)
    clean_error(result, 1, "the run reached its failure budget: 2 of 2 failed")
    assert "--max-failures" in result.stderr
    statuses = sorted(t.status.value for t in tasks_of(store).values())
    assert statuses == ["failed", "failed", "pending"]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--max-time", "soon"], 2, "--max-time 'soon' is not a duration"),
        (["--parallel", "0"], 4, "run.parallel must be at least 1"),
        (["--until", "nope"], 3, "no task with id nope"),
        (["--only", "two"], 4, "two depends on one, which is pending"),
        (["--worktrees"], 2, "--worktrees needs a git repository"),
        (["--worktrees", "--dry-run"], 2, "--worktrees needs a git repository"),
        (["--max-cost", "-1"], 4, "run.max_cost_usd must be 0 or more"),
        (["--phase", "later"], 2, "Invalid value for '--phase'"),
    ],
)
def test_bad_options_change_nothing(
    project_dir: Path, store: StateStore, args: list[str], code: int, needle: str
) -> None:
    add(
        store,
        AgentTask(id="one", title="one", commands=["true"]),
        AgentTask(id="two", title="two", dependencies=["one"], commands=["true"]),
    )
    before = store.path.read_bytes()
    result = run_cli("run", *args, check=False)
    clean_error(result, code, needle)
    assert store.path.read_bytes() == before
    assert not (project_dir / ".coditect" / "runs").exists()


def test_runs_show_of_an_unknown_run(project_dir: Path) -> None:
    clean_error(run_cli("runs", "show", "latest", check=False), 3, "no runs yet")
    clean_error(run_cli("runs", "show", "r-20260101T000000Z-aaaa", check=False), 3, "no run")
    clean_error(run_cli("runs", "show", "nonsense", check=False), 4, "is not a run id")
    assert run_cli("runs", "list", "--json").stdout.strip() == "[]"


def test_a_dry_run_prints_the_plan_and_changes_nothing(
    project_dir: Path, store: StateStore
) -> None:
    past = [
        AgentTask(id=f"p{i}", title="past", executor="fake", metadata={"fake": {"cost_usd": c}})
        for i, c in enumerate((0.5, 1.5))
    ]
    add(store, *past)
    run_cli("run")  # a past run: fake tasks completed at $1.00 on average
    add(
        store,
        AgentTask(id="a", title="a", commands=["true"], estimated_hours=2),
        AgentTask(id="b", title="b", executor="fake", dependencies=["a"], estimated_hours=3),
        AgentTask(id="c", title="c", executor="fake", dependencies=["a"]),
        AgentTask(id="d", title="d", executor="api", dependencies=["b", "c"]),
    )
    before = store.path.read_bytes()
    runs_before = sorted((project_dir / ".coditect" / "runs").iterdir())
    plan = json.loads(run_cli("run", "--dry-run", "--json").stdout)
    assert store.path.read_bytes() == before
    assert sorted((project_dir / ".coditect" / "runs").iterdir()) == runs_before
    assert [(t["id"], t["executor"]) for t in plan["tasks"]] == [
        ("a", "script"),
        ("b", "fake"),
        ("c", "fake"),
        ("d", "api"),
    ]
    assert plan["waves"] == [["a"], ["b", "c"], ["d"]]
    assert plan["critical_path"] == {"ids": ["a", "b", "d"], "hours": 6.0}
    cost = plan["estimated_cost"]
    assert cost["usd"] == 2.0  # b and c at the $1.00 average; a is a script
    assert cost["unknown"] == {"api": 1}
    assert cost["history"] == {"fake": {"average_usd": 1.0, "tasks": 2}}
    text = run_cli("run", "--dry-run").stdout
    assert "Dry run (all tasks): 4 tasks to run, 4 at once." in text
    assert "Critical path (6h): a → b → d" in text
    assert (
        "Estimated cost: $2.0000, plus tasks with no past runs to estimate from (1 on api)" in text
    )
    assert store.path.read_bytes() == before


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_worktrees_give_code_editing_tasks_a_branch_each(
    project_dir: Path, store: StateStore
) -> None:
    git(project_dir, "init", "-q", "-b", "main")
    (project_dir / "README.md").write_text("hello\n")
    git(project_dir, "add", "README.md")
    git(project_dir, "commit", "-q", "-m", "start")
    add(
        store,
        AgentTask(
            id="greet",
            title="Write the greeting",
            commands=["echo hi > hello.txt"],
            output_files=["hello.txt"],
            acceptance="test -f hello.txt && test -f README.md",
        ),
        AgentTask(id="plain", title="No files", commands=["touch plain.txt"]),
    )
    result = run_cli("run", "--worktrees", "--json")
    summary = json.loads(result.stdout)
    tree = project_dir / ".coditect" / "worktrees" / "greet"
    assert summary["worktrees"] == [
        {
            "task": "greet",
            "branch": "coditect/greet",
            "path": str(tree),
            "commits": 1,
            "uncommitted": 0,
            "merge": "git merge coditect/greet",
        }
    ]
    assert (project_dir / "plain.txt").exists()  # not a code-editing task: ran in place
    assert not (project_dir / "hello.txt").exists()
    assert git(project_dir, "show", "coditect/greet:hello.txt") == "hi\n"
    assert git(project_dir, "log", "-1", "--format=%s", "coditect/greet").strip() == (
        "coditect: greet Write the greeting"
    )
    assert next(t for t in summary["tasks"] if t["id"] == "greet")["branch"] == "coditect/greet"
    # The worktrees keep out of the project's own `git status`.
    untracked = git(project_dir, "status", "--porcelain", "--untracked-files=all")
    assert ".coditect/state/tasks.json" in untracked
    assert ".coditect/worktrees" not in untracked
    git(project_dir, "merge", "-q", "coditect/greet")
    assert (project_dir / "hello.txt").read_text() == "hi\n"
    assert tasks_of(store)["greet"].status is Status.COMPLETED


def test_on_a_terminal_the_run_shows_a_live_table(project_dir: Path, store: StateStore) -> None:
    add(
        store,
        AgentTask(id="one", title="First", commands=["sleep 0.8"]),
        AgentTask(id="two", title="Second", commands=["false"], max_retries=0),
    )
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
    leader, follower = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "coditect", "run"],
            cwd=project_dir,
            stdout=follower,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    screen = b"".join(chunks).decode()
    assert done.returncode == 1
    assert "\x1b[" in screen  # drawn, not printed line by line
    assert "executor" in screen and "elapsed" in screen  # the live table's header
    assert "completed one" in screen
    assert "failed    two" in screen
    assert "1 completed, 1 failed" in screen


def test_a_run_without_claude_installed_refuses_before_it_starts(
    project_dir: Path, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every claude-code task would fail; the run says so once, with the install hint."""
    add(store, AgentTask(id="a", title="a", executor="claude-code"))
    monkeypatch.setenv("PATH", str(project_dir / "no-such-bin"))
    before = store.path.read_bytes()
    result = run_cli("run", check=False)
    clean_error(result, 3, "Claude Code (claude) is not installed on the PATH")
    assert "npm install -g @anthropic-ai/claude-code" in result.stderr
    assert store.path.read_bytes() == before
    assert not (project_dir / ".coditect" / "runs").exists()

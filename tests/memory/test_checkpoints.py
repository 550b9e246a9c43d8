"""Checkpoints in real git repositories and real projects, through the library and the CLI."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from coditect.errors import ConflictError, NotFoundError, ValidationError
from coditect.memory.checkpoints import (
    checkpoint_dir,
    create_checkpoint,
    diff_checkpoints,
    list_checkpoints,
    load_checkpoint,
    restore_checkpoint,
)
from coditect.memory.store import MemoryStore
from coditect.paths import ProjectPaths
from coditect.tasks.statefile import load_table
from coditect.tasks.store import StateStore
from tests.conftest import run_cli
from tests.memory.conftest import REAL_PROJECTS, assistant, import_paths, text, user, write_jsonl


@pytest.fixture(autouse=True)
def git_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git that knows who commits, reads no user config, and stops at the test folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{name}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{name}_EMAIL", "test@example.com")


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def repo(root: Path) -> None:
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("print('v1')\n")
    (root / "old.txt").write_text("old\n")
    git(root, "add", "app.py", "old.txt")
    git(root, "commit", "-q", "-m", "first")


def tasks(*args: str) -> Any:
    return json.loads(run_cli("task", *args, "--json").stdout)


def cli_json(*args: str) -> Any:
    return json.loads(run_cli(*args, "--json").stdout)


def test_a_checkpoint_outside_git_keeps_the_state_itself(project_dir: Path) -> None:
    tasks("add", "Design the schema", "--id", "t-1")
    project = ProjectPaths(project_dir)
    result = create_checkpoint(project, "  Schema   designed ")
    data = result.checkpoint
    assert data["id"].endswith("Z-schema-designed")
    assert [p.name for p in result.files] == [
        f"{data['id']}.json",
        f"{data['id']}.md",
        f"{data['id']}.state.json",
    ]
    assert data["git"] == {
        "repo": False,
        "reason": "not a git repository",
        "root": None,
        "branch": None,
        "head": None,
        "dirty": [],
    }
    state = (project.state_dir / "tasks.json").read_bytes()
    assert result.files[2].read_bytes() == state
    header, _ = load_table(state)
    assert data["state"]["checksum"] == header["checksum"]
    assert data["state"]["revision"] == header["revision"]
    assert data["tasks"] == [{"id": "t-1", "status": "pending", "title": "Design the schema"}]
    assert data["summary"]["total"] == 1 and data["next"][0]["id"] == "t-1"
    assert data["previous"] is None and data["memory"] == {"present": False}
    markdown = result.files[1].read_text()
    assert markdown.startswith("# Checkpoint: Schema designed")
    assert "Not under git: not a git repository." in markdown
    assert orjson.loads(result.files[0].read_bytes()) == data


def test_git_branch_head_and_dirty_files(project_dir: Path) -> None:
    repo(project_dir)
    (project_dir / "app.py").write_text("print('v2')\n")
    git(project_dir, "mv", "old.txt", "new name.txt")
    (project_dir / "notes.md").write_text("new\n")
    data = create_checkpoint(ProjectPaths(project_dir), "work in progress").checkpoint
    head = git(project_dir, "rev-parse", "HEAD")
    assert (data["git"]["branch"], data["git"]["head"]) == ("main", head)
    dirty = {entry["path"]: entry for entry in data["git"]["dirty"]}
    assert dirty["app.py"]["status"] == ".M" and dirty["app.py"]["kind"] == "changed"
    assert dirty["new name.txt"]["kind"] == "renamed" and dirty["new name.txt"]["from"] == "old.txt"
    assert dirty["notes.md"]["kind"] == "untracked"
    assert ".coditect/" in dirty  # the project's own folder is not ignored here


def test_changes_since_the_previous_checkpoint(project_dir: Path) -> None:
    for task_id in ("t-1", "t-2", "t-3"):
        tasks("add", f"Task {task_id}", "--id", task_id)
    project = ProjectPaths(project_dir)
    first = create_checkpoint(project, "planned").checkpoint
    tasks("start", "t-1")
    run_cli("task", "delete", "t-3")
    tasks("add", "Task t-4", "--id", "t-4", "--depends", "t-1")
    second = create_checkpoint(project, "started").checkpoint
    assert second["previous"] == first["id"]
    changes = second["changes"]
    assert [t["id"] for t in changes["added"]] == ["t-4"]
    assert [t["id"] for t in changes["removed"]] == ["t-3"]
    assert changes["status_changed"] == [
        {"id": "t-1", "title": "Task t-1", "from": "pending", "to": "in_progress"}
    ]
    assert [t["id"] for t in second["next"]] == ["t-2"]
    assert second["state"]["revision"] > first["state"]["revision"]


def _session(path: Path, at: datetime, session: str) -> None:
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    later = (at + timedelta(seconds=5)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    write_jsonl(
        path,
        [
            user("u-" + session, "keep the cache?", session=session, ts=stamp),
            assistant(
                "a-" + session,
                "m-" + session,
                "r-" + session,
                text("We decided to keep the SQLite cache because it is fast."),
                session=session,
                ts=later,
            ),
        ],
    )


def test_memory_since_the_previous_checkpoint(project_dir: Path, tmp_path: Path) -> None:
    project = ProjectPaths(project_dir)
    with MemoryStore(project.dir / "memory.db") as store:
        import_paths(store, REAL_PROJECTS / "-src-deep-manifest")
    first = create_checkpoint(project, "before").checkpoint
    memory = first["memory"]
    with MemoryStore(project.dir / "memory.db") as store:
        counts = [
            store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("sessions", "messages")
        ]
        offsets = dict(store.conn.execute('SELECT path, "offset" FROM files'))
    assert [memory["totals"]["sessions"], memory["totals"]["messages"]] == counts
    assert memory["offsets"] == offsets and all(v > 0 for v in offsets.values())
    assert memory["new"]["messages"] == counts[1]  # no earlier checkpoint: everything is new
    _session(tmp_path / "later.jsonl", datetime.now(UTC) + timedelta(minutes=1), "s-later")
    with MemoryStore(project.dir / "memory.db") as store:
        import_paths(store, tmp_path / "later.jsonl")
    second = create_checkpoint(project, "after").checkpoint
    assert second["memory"]["since"] == first["created_at"]
    assert second["memory"]["new"]["sessions"] == 1
    assert second["memory"]["new"]["messages"] == 2
    assert second["memory"]["new"]["responses"] == 1 and second["memory"]["new"]["tokens"] > 0
    assert [d["decision"] for d in second["decisions"]] == [
        "We decided to keep the SQLite cache because it is fast."
    ]
    diff = diff_checkpoints(project, first["id"], second["id"])
    assert diff["memory"]["messages"] == {"from": counts[1], "to": counts[1] + 2, "changed": True}
    assert diff["memory"]["files_grown"] == 1


def test_commit_commits_the_checkpoint_and_nothing_else(project_dir: Path) -> None:
    repo(project_dir)
    (project_dir / "staged.txt").write_text("not mine\n")
    git(project_dir, "add", "staged.txt")
    data = cli_json("checkpoint", "create", "first milestone", "--commit")
    assert data["commit"] == git(project_dir, "rev-parse", "HEAD")
    committed = git(project_dir, "show", "--name-only", "--format=%s", "HEAD").splitlines()
    assert committed[0] == "checkpoint: first milestone"
    folder = f".coditect/checkpoints/{data['id']}"
    assert sorted(committed[2:]) == [f"{folder}.json", f"{folder}.md", f"{folder}.state.json"]
    assert git(project_dir, "diff", "--cached", "--name-only") == "staged.txt"


def test_commit_is_refused_outside_git(project_dir: Path) -> None:
    refused = run_cli("checkpoint", "create", "x", "--commit", check=False)
    assert refused.returncode == 4
    assert "not in a git repository" in refused.stderr and "git init" in refused.stderr
    assert not checkpoint_dir(ProjectPaths(project_dir)).exists()


def test_a_failed_commit_leaves_nothing_behind(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo(project_dir)
    git(project_dir, "config", "user.useConfigOnly", "true")
    for name in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{name}_NAME")
        monkeypatch.delenv(f"GIT_{name}_EMAIL")
    failed = run_cli("checkpoint", "create", "nobody", "--commit", check=False)
    assert failed.returncode == 1 and "git commit failed" in failed.stderr
    assert list(checkpoint_dir(ProjectPaths(project_dir)).iterdir()) == []
    assert git(project_dir, "status", "--porcelain", "--", ".coditect/checkpoints") == ""


def test_list_show_and_diff_commands(project_dir: Path) -> None:
    repo(project_dir)
    tasks("add", "Login", "--id", "t-login")
    first = cli_json("checkpoint", "create", "planned", "--commit")
    tasks("start", "t-login")
    tasks("complete", "t-login")
    second = cli_json("checkpoint", "create", "login works", "--commit")
    rows = cli_json("checkpoint", "list")
    assert [r["id"] for r in rows] == [first["id"], second["id"]]
    assert rows[1]["completion_percent"] == 100.0 and rows[1]["head"] == first["commit"]
    shown = cli_json("checkpoint", "show", "latest")
    assert shown["id"] == second["id"] and shown["description"] == "login works"
    plain = run_cli("checkpoint", "show", second["id"][:20]).stdout
    assert plain.startswith("# Checkpoint: login works")
    assert "- t-login — Login: pending → completed" in plain
    diff = cli_json("checkpoint", "diff", first["id"], second["id"])
    assert diff["tasks"]["status_changed"][0]["to"] == "completed"
    assert diff["summary"]["completion_percent"] == {"from": 0.0, "to": 100.0, "changed": True}
    assert diff["git"]["head"]["to"] == first["commit"]
    assert [line.split(" ", 1)[1] for line in diff["git"]["commits"]] == ["checkpoint: planned"]
    now = cli_json("checkpoint", "diff", second["id"])
    assert now["to"]["id"] == "now" and now["git"]["head"]["to"] == second["commit"]
    assert now["tasks"] == {"added": [], "removed": [], "status_changed": []}
    text_diff = run_cli("checkpoint", "diff", first["id"], second["id"]).stdout
    assert "- completion percent: 0.0 → 100.0" in text_diff
    assert "## Git" in text_diff and "checkpoint: planned" in text_diff


def test_restore_rolls_the_tasks_back_and_can_be_undone(project_dir: Path) -> None:
    tasks("add", "One", "--id", "t-1")
    tasks("add", "Two", "--id", "t-2")
    taken = cli_json("checkpoint", "create", "two tasks")
    tasks("start", "t-1")
    run_cli("task", "delete", "t-2")
    tasks("add", "Three", "--id", "t-3")
    before = {t["id"]: t["status"] for t in tasks("list")}
    said = run_cli("checkpoint", "create", "three tasks").stdout.splitlines()
    assert said[0].endswith("-three-tasks: 2 tasks, 0% completed")
    assert said[1] == f"since {taken['id']}: 1 added, 1 removed, 1 moved"
    result = cli_json("checkpoint", "restore", taken["id"])
    assert result["tasks"] == 2 and result["backed_up_first"] is False
    assert {t["id"]: t["status"] for t in tasks("list")} == {"t-1": "pending", "t-2": "pending"}
    store = StateStore(ProjectPaths(project_dir).state_dir)
    assert store.verify().revision == result["revision"] == result["replaced_revision"] + 1
    run_cli("state", "rollback")
    assert {t["id"]: t["status"] for t in tasks("list")} == before
    again = run_cli("checkpoint", "restore", taken["id"]).stdout
    assert again.startswith(f"restored the tasks of {taken['id']}")
    assert "`coditect state rollback` brings it back" in again


def test_restore_saves_a_state_the_backups_lack_first(project_dir: Path) -> None:
    tasks("add", "One", "--id", "t-1")
    taken = create_checkpoint(ProjectPaths(project_dir), "one").checkpoint
    tasks("add", "Two", "--id", "t-2")
    state_dir = ProjectPaths(project_dir).state_dir
    for backup in (state_dir / "backups").iterdir():
        backup.unlink()
    result = restore_checkpoint(ProjectPaths(project_dir), taken["id"])
    assert result["backed_up_first"] is True
    assert [t["id"] for t in tasks("list")] == ["t-1"]
    run_cli("state", "rollback")
    assert [t["id"] for t in tasks("list")] == ["t-1", "t-2"]


def test_a_replaced_state_copy_is_refused(project_dir: Path) -> None:
    tasks("add", "One", "--id", "t-1")
    project = ProjectPaths(project_dir)
    first = create_checkpoint(project, "one").checkpoint
    tasks("add", "Two", "--id", "t-2")
    second = create_checkpoint(project, "two").checkpoint
    folder = checkpoint_dir(project)
    (folder / f"{first['id']}.state.json").write_bytes(
        (folder / f"{second['id']}.state.json").read_bytes()
    )
    state = (project.state_dir / "tasks.json").read_bytes()
    refused = run_cli("checkpoint", "restore", first["id"], check=False)
    assert refused.returncode == 7 and "checksum differs" in refused.stderr
    assert (project.state_dir / "tasks.json").read_bytes() == state


def test_names_and_bad_input(project_dir: Path) -> None:
    project = ProjectPaths(project_dir)
    with pytest.raises(ValidationError, match="needs a description"):
        create_checkpoint(project, "   ")
    moment = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    ids = [create_checkpoint(project, "Same name!", now=moment).checkpoint["id"] for _ in range(2)]
    assert ids == ["20261122T093000Z-same-name", "20261122T093000Z-same-name-2"]
    assert load_checkpoint(project, "latest")["id"] == ids[1]
    with pytest.raises(ConflictError, match="matches several"):
        load_checkpoint(project, "2026")
    with pytest.raises(NotFoundError):
        load_checkpoint(project, "nope")
    assert [row["id"] for row in list_checkpoints(project)] == ids
    missing = run_cli("checkpoint", "show", "nope", check=False)
    assert missing.returncode == 3 and "checkpoint list" in missing.stderr
    assert run_cli("checkpoint", "list").stdout.splitlines()[0].split()[:2] == ["id", "created"]

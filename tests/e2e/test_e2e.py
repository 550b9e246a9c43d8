"""The real ``coditect`` command as a subprocess: the workflows a user goes through."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from coditect.paths import ProjectPaths
from tests.conftest import run_cli

TASKLIST = """\
# Bookshelf API

## Planning

- [x] Write the brief {id=brief agent=planner priority=high hours=2}

## Design

- [ ] Design the API {id=api agent=api-designer priority=high hours=3 after=brief}
  Resources, errors, pagination.
- [ ] Design the schema {id=schema agent=database hours=2 after=brief}

## Development

- [ ] Implement books {id=books agent=backend hours=6 after=api,schema}
  - [ ] Validate ISBNs {id=isbn agent=backend hours=1}
- [!] Load test {id=load agent=performance priority=low hours=2 after=books}
"""

ANSI = "\x1b["


def state_file(root: Path) -> Path:
    return ProjectPaths(root).state_dir / "tasks.json"


def backups(root: Path) -> list[str]:
    return sorted(p.name for p in (ProjectPaths(root).state_dir / "backups").iterdir())


def assert_clean_error(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert result.returncode == code, result
    assert result.stderr.startswith("error: "), result.stderr
    assert "\nhint: " in result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_init_creates_the_project(tmp_path: Path) -> None:
    result = run_cli("init", cwd=tmp_path)
    assert result.stdout.startswith(f"Initialised a CODITECT project in {tmp_path / '.coditect'}")
    written = state_file(tmp_path).read_bytes()
    header, index = (json.loads(line) for line in written.splitlines())
    assert (header["revision"], header["tasks"], index["ids"]) == (1, 0, [])
    assert (tmp_path / ".coditect" / "config.toml").is_file()
    again = run_cli("init", cwd=tmp_path)
    assert "Already a CODITECT project" in again.stdout
    assert state_file(tmp_path).read_bytes() == written


def test_commands_work_from_a_sub_folder(project_dir: Path) -> None:
    deep = project_dir / "src" / "pkg"
    deep.mkdir(parents=True)
    run_cli("task", "add", "From below", "--id", "below", cwd=deep)
    listed = json.loads(run_cli("task", "list", "--json", cwd=deep).stdout)
    assert [t["id"] for t in listed] == ["below"]
    assert not (deep / ".coditect").exists()
    assert "below" in state_file(project_dir).read_text()


def test_outside_any_project_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("task", "list", cwd=tmp_path, check=False)
    assert_clean_error(result, 3, f"no CODITECT project in {tmp_path}")
    assert "coditect init" in result.stderr
    assert result.stdout == ""


def test_the_thirty_second_example(project_dir: Path) -> None:
    (project_dir / "tasklist.md").write_text(TASKLIST)
    imported = run_cli("plan", "import", "tasklist.md").stdout
    assert imported.startswith("Imported tasklist.md: 6 added, 0 updated, 0 unchanged.")

    report = run_cli("report").stdout
    assert "**Tasks:** 6 · **completed:** 16.7%" in report
    assert "**Critical path** (11h): api → books → load" in report
    assert "- load — Load test: marked blocked" in report

    ready = json.loads(run_cli("task", "ready", "--json").stdout)
    assert [t["id"] for t in ready] == ["api", "schema", "isbn"]
    first = json.loads(run_cli("task", "next", "--json").stdout)
    assert first["id"] == "api"
    assert "Start it with: coditect task start api" in run_cli("task", "next").stdout

    started = run_cli("task", "start", "api").stdout
    assert started.strip() == "api  in_progress  Design the API"
    assert json.loads(run_cli("task", "next", "--json").stdout)["id"] == "schema"
    run_cli("task", "complete", "api", "--note", "merged #12")
    api = json.loads(run_cli("task", "show", "api", "--json").stdout)
    assert api["status"] == "completed"
    assert [h["note"] for h in api["history"]][-1] == "merged #12"

    after = json.loads(run_cli("report", "--json").stdout)
    assert after["by_status"]["completed"] == 2
    assert after["next"]["id"] == "schema"
    mermaid = run_cli("task", "graph", "--mermaid").stdout
    assert mermaid.startswith("flowchart LR\n")
    assert "n_api" not in mermaid  # completed work is left out


def test_a_reimport_after_work_keeps_the_work_and_changes_nothing(project_dir: Path) -> None:
    (project_dir / "tasklist.md").write_text(TASKLIST)
    run_cli("plan", "import", "tasklist.md")
    run_cli("task", "start", "schema")
    again = json.loads(run_cli("plan", "import", "tasklist.md", "--json").stdout)
    # the file still says schema is pending: the file is the truth for what it says
    assert again["updated"] == ["schema"]
    assert len(again["unchanged"]) == 5
    before = state_file(project_dir).read_bytes()
    third = json.loads(run_cli("plan", "import", "tasklist.md", "--json", "--dry-run").stdout)
    assert (third["added"], third["updated"]) == ([], [])
    assert state_file(project_dir).read_bytes() == before


BAD_INPUT: list[tuple[str, list[str], int, str]] = [
    ("unknown id", ["task", "start", "nope"], 3, "no task with id nope"),
    ("unknown id on update", ["task", "update", "nope", "--agent", "x"], 3, "no task with id"),
    ("invalid priority", ["task", "add", "X", "--priority", "urgent"], 2, "urgent"),
    ("invalid priority on update", ["task", "update", "a", "--priority", "top"], 2, "top"),
    ("empty title", ["task", "add", ""], 4, "title must not be empty"),
    ("blank title on update", ["task", "update", "a", "--title", "  "], 4, "title"),
    ("zero hours", ["task", "add", "X", "--hours", "0"], 4, "greater than 0"),
    ("negative hours", ["task", "update", "a", "--hours", "-1"], 4, "greater than 0"),
    ("malformed tasklist line", ["plan", "import", "bad.md"], 4, "bad.md:3: unknown checkbox"),
    ("bad metadata", ["plan", "import", "meta.md"], 4, "meta.md:1: invalid priority"),
    ("invalid JSON plan", ["plan", "import", "bad.json"], 4, "bad.json: invalid JSON"),
    ("not a Task Master file", ["plan", "import", "list.json"], 4, "not a Task Master file"),
    ("missing file", ["plan", "import", "missing.md"], 4, "cannot read the file"),
    ("unreadable file", ["plan", "import", "folder.md"], 4, "cannot read the file"),
    ("binary file", ["plan", "import", "binary.md"], 4, "not UTF-8"),
    ("cycle via update", ["task", "update", "a", "--depends", "b"], 4, "dependency cycle"),
    ("cycle via import", ["plan", "import", "cycle.md"], 4, "dependency cycle"),
    ("illegal transition", ["task", "complete", "a"], 4, "needs --force"),
    ("duplicate id", ["task", "add", "X", "--id", "a"], 4, "already exists"),
    ("unknown dependency", ["task", "add", "X", "-d", "ghost"], 4, "unknown task ghost"),
]


@pytest.mark.parametrize(
    ("args", "code", "needle"), [case[1:] for case in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_changes_nothing_on_disk(
    project_dir: Path, args: list[str], code: int, needle: str
) -> None:
    run_cli("task", "add", "A", "--id", "a")
    run_cli("task", "add", "B", "--id", "b", "--depends", "a")
    (project_dir / "bad.md").write_text("# Plan\n- [ ] Fine {id=fine}\n- [?] Odd\n")
    (project_dir / "meta.md").write_text("- [ ] X {id=x priority=urgent}\n")
    (project_dir / "bad.json").write_text('{"tasks": [')
    (project_dir / "list.json").write_text("[1, 2]")
    (project_dir / "folder.md").mkdir()
    (project_dir / "binary.md").write_bytes(b"- [ ] \xff\xfe\n")
    (project_dir / "cycle.md").write_text("- [ ] A {id=a after=b}\n- [ ] New {id=new}\n")
    before, saved = state_file(project_dir).read_bytes(), backups(project_dir)
    result = run_cli(*args, check=False)
    assert_clean_error(result, code, needle)
    assert state_file(project_dir).read_bytes() == before
    assert backups(project_dir) == saved


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_changes_nothing(project_dir: Path) -> None:
    secret = project_dir / "secret.md"
    secret.write_text("- [ ] A {id=a}\n")
    secret.chmod(0)
    before = state_file(project_dir).read_bytes()
    result = run_cli("plan", "import", "secret.md", check=False)
    assert_clean_error(result, 4, "cannot read the file: Permission denied")
    assert state_file(project_dir).read_bytes() == before


COMMANDS = [
    ["report"],
    ["task", "list"],
    ["task", "show", "api"],
    ["task", "ready"],
    ["task", "next"],
    ["task", "graph"],
    ["state", "backups"],
    ["task", "show", "nope"],  # an error, on stderr
]


def _planned(root: Path) -> None:
    (root / "tasklist.md").write_text(TASKLIST)
    run_cli("plan", "import", "tasklist.md")


def test_piped_output_has_no_ansi_codes(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _planned(project_dir)
    monkeypatch.delenv("NO_COLOR")  # not a terminal is enough
    monkeypatch.setenv("TERM", "xterm-256color")
    for args in COMMANDS:
        result = run_cli(*args, check=False)
        assert result.stdout or result.stderr
        assert ANSI not in result.stdout + result.stderr, args


def _on_a_terminal(root: Path, args: list[str], env: dict[str, str]) -> str:
    """Run with stdout on a pseudo-terminal; returns what it printed there."""
    leader, follower = pty.openpty()
    try:
        subprocess.run(
            [sys.executable, "-m", "coditect", *args],
            cwd=root,
            stdout=follower,
            stderr=subprocess.DEVNULL,
            env=env,
            check=True,
            timeout=60,
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal has no more to give
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_no_color_turns_colour_off_on_a_terminal(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _planned(project_dir)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    coloured = _on_a_terminal(project_dir, ["task", "graph"], env)
    assert ANSI in coloured  # the control: on a terminal, Rich styles the output
    plain = _on_a_terminal(project_dir, ["task", "graph"], {**env, "NO_COLOR": "1"})
    assert "Wave 1" in plain
    assert ANSI not in plain


def test_a_damaged_state_file_is_restored_with_a_warning(project_dir: Path) -> None:
    _planned(project_dir)
    path = state_file(project_dir)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # a torn write
    result = run_cli("task", "list", "--json")
    assert [t["id"] for t in json.loads(result.stdout)][:2] == ["brief", "api"]
    assert result.stderr.startswith("warning: the task state was damaged (checksum mismatch")
    assert "restored revision 2" in result.stderr
    assert "hint: Run `coditect state verify`" in result.stderr
    assert path.read_bytes() == good
    damaged = list((ProjectPaths(project_dir).state_dir / "damaged").iterdir())
    assert [p.read_bytes() for p in damaged] == [good[: len(good) // 2]]
    quiet = run_cli("task", "list", "--json")
    assert quiet.stderr == ""
    assert "state: ok — revision 2" in run_cli("state", "verify").stdout


def test_a_damaged_state_file_with_no_backup_exits_7(project_dir: Path) -> None:
    _planned(project_dir)
    state_file(project_dir).write_text("{}")
    for name in backups(project_dir):
        (ProjectPaths(project_dir).state_dir / "backups" / name).unlink()
    result = run_cli("report", check=False)
    assert_clean_error(result, 7, "no valid backup exists")
    assert state_file(project_dir).read_text() == "{}"


def test_an_unexpected_error_points_to_the_log(project_dir: Path, user_home: Path) -> None:
    lock = ProjectPaths(project_dir).state_dir / "lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    result = run_cli("task", "add", "X", check=False)
    assert result.returncode == 70
    log = user_home / "logs" / "coditect.log"
    assert result.stderr.splitlines()[0].startswith("error: unexpected error: IsADirectoryError")
    assert f"The details are in {log}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "coditect task add X" in log.read_text()
    debug = run_cli("--debug", "task", "add", "X", check=False)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1].startswith("IsADirectoryError")


def test_debug_shows_the_traceback_of_an_expected_error(project_dir: Path) -> None:
    plain = run_cli("task", "show", "nope", check=False)
    assert "Traceback" not in plain.stderr
    debug = run_cli("--debug", "task", "show", "nope", check=False)
    assert "Traceback (most recent call last)" in debug.stderr
    assert "TaskNotFoundError: no task with id nope" in debug.stderr

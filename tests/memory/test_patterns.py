"""Patterns: the extraction rules on their own, then on the real corpus through the real import."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from coditect.errors import ValidationError
from coditect.memory.extract import (
    command_category,
    command_signature,
    error_signature,
    find_decisions,
    result_status,
    workflow_step,
)
from coditect.memory.patterns import (
    EXTRACTOR_VERSION,
    PATTERN_TYPES,
    list_patterns,
    recent_decisions,
    refresh_patterns,
    wilson_lower,
)
from coditect.memory.store import MemoryStore
from coditect.memory.transcripts import discover
from tests.conftest import run_cli
from tests.memory.conftest import (
    REAL_PROJECTS,
    TRANSCRIPTS,
    assistant,
    bash,
    import_paths,
    text,
    tool_result,
    user,
    write_jsonl,
)

DEEP_MANIFEST = REAL_PROJECTS / "-src-deep-manifest"

# --- the rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "signature"),
    [
        ("pytest tests/x.py -k y", "pytest"),
        ("cd src && uv run pytest -x tests/", "pytest"),
        ("(source .venv/bin/activate && pytest -x)", "pytest"),
        ("python3 -m pytest -q", "pytest"),
        ("git -C ../repo log --oneline -3 2>/dev/null; echo '--'", "git log"),
        ("gh api --help 2>&1 | grep -A 5 pagination", "gh api"),
        ("FOO=1 python -m pip install -e .", "pip install"),
        ("npx vitest run src", "vitest"),
        ("ruff check src && pytest", "ruff check && pytest"),
        ("git add a.py && git add b.py && git commit -m x", "git add && git commit"),
        ("for d in a b; do git -C $d status; done", "git status"),
        ("git commit -m \"$(cat <<'EOF'\nfix: it\n\nbody\nEOF\n)\"", "git commit"),
        ("sudo timeout 60 npm run test -- --watch=false", "npm run test"),
        ("/usr/local/bin/python3.12 script.py --flag", "python"),
        ("echo hello", "echo"),
        ("grep -n 'unclosed quote", "grep"),
        ("", ""),
    ],
)
def test_command_signature_strips_paths_arguments_and_set_up(command: str, signature: str) -> None:
    assert command_signature(command) == signature


@pytest.mark.parametrize(
    ("signature", "category", "step"),
    [
        ("pytest", "test", "Bash(test)"),
        ("npm run test", "test", "Bash(test)"),
        ("cargo test", "test", "Bash(test)"),
        ("ruff check && pytest", "test", "Bash(test)"),
        ("ruff check", "lint", "Bash(lint)"),
        ("mypy", "lint", "Bash(lint)"),
        ("npm run build", "build", "Bash(build)"),
        ("uv sync", "install", "Bash(install)"),
        ("git commit", "git", "Bash(git)"),
        ("ls", "", "Bash"),
    ],
)
def test_commands_fall_into_categories(signature: str, category: str, step: str) -> None:
    assert command_category(signature) == category
    assert workflow_step("Bash", signature) == step


def test_tools_become_workflow_steps() -> None:
    assert [workflow_step(t) for t in ("Read", "Edit", "MultiEdit", "Write", "Grep", "Glob")] == [
        "Read",
        "Edit",
        "Edit",
        "Write",
        "Search",
        "Search",
    ]


PYTEST_OUTPUT = """============================= test session starts ==============================
platform linux -- Python 3.12.3, pytest-8.3.4
collected 12 items

tests/test_unit.py ....F.......                                          [100%]

=================================== FAILURES ===================================
E       AssertionError: assert 3 == 4
=========================== short test summary info ============================
FAILED tests/test_unit.py::test_count - AssertionError: assert 3 == 4
========================= 1 failed, 11 passed in 0.52s =========================
"""


def test_error_signature_keeps_what_went_wrong_and_masks_the_particulars() -> None:
    assert error_signature(PYTEST_OUTPUT) == "N failed, N passed in Ns"
    traceback = (
        'Traceback (most recent call last):\n  File "/home/me/app/main.py", line 3, in <module>\n'
        "ModuleNotFoundError: No module named 'requests'\n"
    )
    assert error_signature(traceback) == "ModuleNotFoundError: No module named …"
    assert error_signature("Exit code 127\n/bin/bash: line 1: pytest: command not found") == (
        "<path>: line N: pytest: command not found"
    )
    assert error_signature("Exit code 2\n") == "exit code 2"
    one = error_signature("<tool_use_error>String to replace not found in file.\nString: abc")
    assert one == "String to replace not found in file"


@pytest.mark.parametrize(
    ("is_error", "output", "status"),
    [
        (False, "All checks passed!", "ok"),
        (None, "Error: Exit code 1\nFAILED", "error"),  # an /export result: no flag
        (None, "Exit code 0\n", "ok"),
        (True, "Exit code 1\nsrc/a.py:3: error: Name 'x' is not defined", "error"),
        (
            True,
            "The user doesn't want to proceed with this tool use. The tool use was rejected",
            "rejected",
        ),
        (True, "please add transformer.js too first", "rejected"),  # the user's reply
        (True, "Shell dce0af is not running, so cannot be killed", "error"),
        (True, "File has not been read yet. Read it first before writing to it.", "error"),
    ],
)
def test_result_status(is_error: bool | None, output: str, status: str) -> None:
    assert result_status(is_error, output)[0] == status


def test_decisions_are_sentences_that_record_a_choice() -> None:
    prose = (
        "Now I'll modify the `action_export_selected` method to use cached session HTML files "
        "instead of regenerating them:\n"
        "Let's migrate to AudioWorklet for proper modern audio processing. "
        "Which would you prefer? Or shall I just go with Vite?\n"
        "Migrating to AudioWorklet would be a separate, larger task. "
        "This system message has a `content` field instead of a `message` field. "
        "The tests are failing because the mock is not updated.\n"
        "We decided to keep SQLite for the local store.\n"
        "```python\nuse_x = 1  # we decided to use x instead of y\n```"
    )
    found = find_decisions(prose)
    assert [(d.rule, d.sentence[:30]) for d in found] == [
        ("instead-of", "Now I'll modify the `action_ex"),
        ("switched", "Let's migrate to AudioWorklet "),
        ("decided", "We decided to keep SQLite for "),
    ]
    assert found[2].key == "we decided to keep sqlite for the local store"
    assert found[2].weight > found[0].weight > found[1].weight


def test_wilson_lower_bound_grows_with_support() -> None:
    assert wilson_lower(1, 1) == pytest.approx(0.2065, abs=1e-4)
    assert wilson_lower(9, 10) == pytest.approx(0.5958, abs=1e-4)
    assert wilson_lower(90, 100) == pytest.approx(0.8256, abs=1e-4)
    assert wilson_lower(0, 0) == 0.0


# --- the real corpus ------------------------------------------------------------------------


def _raw_calls(folder: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each tool call in the files once (by id), with its result: read straight from the
    JSONL, not through the import, to check the patterns against."""
    calls: dict[str, dict[str, Any]] = {}
    results: dict[str, dict[str, Any]] = {}
    for path in folder.rglob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            content = (orjson.loads(line).get("message") or {}).get("content")
            for block in content if isinstance(content, list) else []:
                if block.get("type") == "tool_use":
                    calls.setdefault(block["id"], block)
                elif block.get("type") == "tool_result":
                    results.setdefault(block["tool_use_id"], block)
    for tool_id, call in calls.items():
        yield call, results.get(tool_id)


def _patterns(store: MemoryStore, kind: str) -> dict[str, Any]:
    return {p.key: p for p in list_patterns(store, kind, limit=10_000)}


def test_corpus_commands_match_the_transcripts(corpus_store: MemoryStore) -> None:
    commands = _patterns(corpus_store, "commands")
    git_diffs = [
        result
        for call, result in _raw_calls(TRANSCRIPTS)
        if call["name"] == "Bash" and call["input"]["command"].startswith("git diff")
    ]
    assert commands["git diff"].frequency == len(git_diffs) == 11
    assert commands["git diff"].failures == 0
    pytests = [
        result
        for call, result in _raw_calls(TRANSCRIPTS)
        if call["name"] == "Bash"
        and re.search(r"\bpytest\b", call["input"]["command"].splitlines()[0])
        and "ruff" not in call["input"]["command"]
    ]
    pattern = commands["pytest"]
    assert pattern.frequency == len(pytests)
    assert pattern.failures == sum(bool(r and r.get("is_error")) for r in pytests) > 0
    assert pattern.detail["step"] == "Bash(test)"
    assert pattern.example == "(source .venv/bin/activate && pytest)"  # the latest success
    assert 0 < pattern.confidence < pattern.successes / pattern.frequency
    assert commands["ruff check && pytest"].successes == 1


def test_corpus_files_count_reads_and_edits(corpus_store: MemoryStore) -> None:
    path = "deep_manifest/deep_manifest.py"
    uses = [
        call["name"]
        for call, _ in _raw_calls(DEEP_MANIFEST)
        if call["name"] in ("Read", "Edit", "MultiEdit", "Write")
        and call["input"]["file_path"].endswith("/" + path)
    ]
    pattern = _patterns(corpus_store, "files")[path]  # relative to the session's project
    assert pattern.detail["reads"] == uses.count("Read") > 0
    assert pattern.detail["edits"] == uses.count("Edit") + uses.count("MultiEdit") > 0
    assert pattern.frequency == len(uses)


def test_corpus_errors_pair_with_their_fixes(corpus_store: MemoryStore) -> None:
    errors = _patterns(corpus_store, "errors")
    # deep-manifest: `pytest` → "command not found", then the venv's pytest passed.
    not_found = errors["pytest: <path>: line N: pytest: command not found"]
    assert not_found.successes == 1
    assert not_found.example == "ran `(source .venv/bin/activate && pytest)`"
    # coderabbit: `uv tool install .` failed until pyproject.toml was edited.
    ship = errors["uv tool install: ValueError: Unable to determine which files to ship"]
    assert ship.example == "edited pyproject.toml, then ran it again"
    read_first = errors["Edit: File has not been read yet. Read it first before writing to it"]
    assert read_first.frequency >= 2
    assert "read it first" in read_first.example
    assert all(p.successes + p.failures == p.frequency for p in errors.values())


def test_corpus_decisions_and_workflows(corpus_store: MemoryStore) -> None:
    decisions = list_patterns(corpus_store, "decisions", limit=500)
    labels = [p.label for p in decisions]
    assert "Let's migrate to AudioWorklet for proper modern audio processing." in labels
    assert not any(label.endswith("?") for label in labels)
    assert decisions == sorted(decisions, key=lambda p: p.last_seen or "", reverse=True)
    recent = recent_decisions(corpus_store, since="2025-10-01T00:00:00.000Z", limit=100)
    assert recent and all(d["ts"] > "2025-10-01" for d in recent)
    workflows = _patterns(corpus_store, "workflows")
    flow = workflows["Read → Edit → Bash(test)"]
    assert flow.frequency >= 2
    assert flow.detail["prefix"] == "Read → Edit"
    siblings = [w for w in workflows.values() if w.detail["prefix"] == "Read → Edit"]
    assert sum(w.frequency for w in siblings) <= flow.detail["prefix_count"]
    assert all(w.frequency >= 2 for w in workflows.values())


def test_terms_select_patterns_by_word_start(corpus_store: MemoryStore) -> None:
    found = list_patterns(corpus_store, "commands", terms=["pytest"], refresh=False)
    assert found and all("pytest" in (p.key + p.example).lower() for p in found)
    prefixes = list_patterns(corpus_store, "decisions", terms=["fix"], limit=100, refresh=False)
    assert all(re.search(r"(?i)\bfix", p.label) for p in prefixes)  # never "prefix"


def _table(store: MemoryStore) -> list[tuple[Any, ...]]:
    return store.conn.execute(
        "SELECT type, key, frequency, successes, failures, confidence, example FROM patterns "
        "ORDER BY type, key"
    ).fetchall()


def test_incremental_refresh_equals_a_full_one(corpus_store: MemoryStore, tmp_path: Path) -> None:
    """Half the corpus, a refresh, the other half in tiny batches (responses split across
    batches are merged into stored messages), a refresh: the same patterns as at once."""
    folders = sorted(p for p in REAL_PROJECTS.iterdir() if p.is_dir())
    with MemoryStore(tmp_path / "memory.db") as store:
        import_paths(store, *folders[:4])
        first = refresh_patterns(store)
        assert first.rebuilt and first.calls > 0
        import_paths(store, *folders[4:], TRANSCRIPTS / "edge_cases", batch_size=7)
        assert store.conn.execute("SELECT count(*) FROM pattern_dirty").fetchone()[0] > 0
        second = refresh_patterns(store)
        assert (
            0 < second.messages < store.conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        )
        assert _table(store) == _table(corpus_store)
        assert not refresh_patterns(store).rebuilt  # nothing new: nothing done
        refresh_patterns(store, rebuild=True)
        assert _table(store) == _table(corpus_store)


def test_forgetting_a_session_removes_what_it_taught(tmp_path: Path) -> None:
    with MemoryStore(tmp_path / "memory.db") as store:
        import_paths(store, DEEP_MANIFEST, REAL_PROJECTS / "-src-experiments-claude_p")
        refresh_patterns(store)
        assert "deep_manifest/deep_manifest.py" in _patterns(store, "files")
        store.forget("a7da6a22-facc-4fcd-8bab-f83c87862004")
        refresh_patterns(store)
        assert "deep_manifest/deep_manifest.py" not in _patterns(store, "files")
        assert not any("command not found" in k for k in _patterns(store, "errors"))
        left = store.conn.execute(
            "SELECT count(*) FROM pattern_calls WHERE session_id = ?",
            ("a7da6a22-facc-4fcd-8bab-f83c87862004",),
        ).fetchone()[0]
        assert left == 0
        counted = _table(store)
        refresh_patterns(store, rebuild=True)
        assert _table(store) == counted  # the incremental recount equals a full one


def _one_command(folder: Path, session: str, command: str) -> Path:
    path = folder / f"{session}.jsonl"
    write_jsonl(
        path,
        [
            user(f"u-{session}", "run it", session=session),
            assistant(
                f"a-{session}",
                f"m-{session}",
                f"r-{session}",
                bash(f"b-{session}", command),
                session=session,
            ),
            tool_result(f"t-{session}", f"b-{session}", "done", session=session),
        ],
    )
    return path


def test_ids_given_again_after_a_forget_are_read(tmp_path: Path) -> None:
    """SQLite gives the ids of deleted newest rows again: they must not look old."""
    with MemoryStore(tmp_path / "memory.db") as store:
        import_paths(store, _one_command(tmp_path, "s-a", "pytest -x"))
        import_paths(store, _one_command(tmp_path, "s-b", "make build"))
        refresh_patterns(store)
        newest = store.conn.execute("SELECT max(id) FROM messages").fetchone()[0]
        store.forget("s-b")
        refresh_patterns(store)
        assert set(_patterns(store, "commands")) == {"pytest"}
        import_paths(store, _one_command(tmp_path, "s-c", "cargo test"))
        assert store.conn.execute("SELECT max(id) FROM messages").fetchone()[0] == newest
        refresh_patterns(store)
        assert set(_patterns(store, "commands")) == {"pytest", "cargo test"}


def test_new_extraction_rules_read_everything_again(tmp_path: Path) -> None:
    with MemoryStore(tmp_path / "memory.db") as store:
        import_paths(store, DEEP_MANIFEST)
        refresh_patterns(store)
        before = _table(store)
        store.conn.execute(
            "UPDATE pattern_state SET value = ? WHERE name = 'version'", (EXTRACTOR_VERSION - 1,)
        )
        again = refresh_patterns(store)
        total = store.conn.execute("SELECT max(id) FROM messages").fetchone()[0]
        assert again.messages == total
        assert _table(store) == before


def test_a_failure_fixed_by_an_edit_in_a_written_session(tmp_path: Path) -> None:
    edit = {
        "type": "tool_use",
        "id": "e1",
        "name": "Edit",
        "input": {"file_path": "/work/shop/src/app.py", "old_string": "a", "new_string": "b"},
    }
    records = [
        user("u1", "make the tests pass"),
        assistant("a1", "m1", "r1", bash("b1", "uv run pytest tests/test_app.py -x")),
        tool_result("u2", "b1", "Exit code 1\n" + PYTEST_OUTPUT, error=True),
        assistant("a2", "m2", "r2", edit, ts="2026-03-01T10:00:06.000Z"),
        tool_result("u3", "e1", "The file was updated", ts="2026-03-01T10:00:07.000Z"),
        assistant(
            "a3",
            "m3",
            "r3",
            bash("b2", "uv run pytest tests/test_app.py -x"),
            ts="2026-03-01T10:00:08.000Z",
        ),
        tool_result("u4", "b2", "12 passed in 0.4s", ts="2026-03-01T10:00:09.000Z"),
        assistant(
            "a4",
            "m4",
            "r4",
            text("I decided to keep the fixture local because it is only used here."),
            ts="2026-03-01T10:00:10.000Z",
        ),
    ]
    write_jsonl(tmp_path / "s-1.jsonl", records)
    with MemoryStore(tmp_path / "memory.db") as store:
        import_paths(store, tmp_path / "s-1.jsonl")
        errors = _patterns(store, "errors")
        assert list(errors) == ["pytest: N failed, N passed in Ns"]
        assert errors["pytest: N failed, N passed in Ns"].example == (
            "edited src/app.py, then ran it again"
        )
        assert _patterns(store, "commands")["pytest"].failures == 1
        assert _patterns(store, "files")["src/app.py"].detail["edits"] == 1
        decision = list_patterns(store, "decisions")[0]
        assert decision.label.startswith("I decided to keep the fixture local")
        assert decision.confidence == 0.9


def test_export_calls_carry_their_own_results(tmp_path: Path) -> None:
    export = tmp_path / "session.txt"
    export.write_text(
        "> run the tests\n\n"
        "⏺ Bash(npm test)\n  ⎿  Error: Exit code 1\n     1 failing\n\n"
        "⏺ Bash(npm test -- --runInBand)\n  ⎿  4 passing\n"
    )
    with MemoryStore(tmp_path / "memory.db") as store:
        import_paths(store, export)
        assert [s.kind for s in discover([export])] == ["export"]
        command = _patterns(store, "commands")["npm test"]
        assert (command.frequency, command.successes, command.failures) == (2, 1, 1)
        assert _patterns(store, "errors")["npm test: N failing"].example == (
            "ran `npm test -- --runInBand`"
        )


def test_bad_requests_are_refused(store: MemoryStore) -> None:
    with pytest.raises(ValidationError, match="unknown pattern type"):
        list_patterns(store, "recipes")
    with pytest.raises(ValidationError, match="at least 1"):
        list_patterns(store, "commands", limit=0)
    assert list_patterns(store) == []
    assert set(PATTERN_TYPES) == {"commands", "files", "errors", "decisions", "workflows"}


# --- the command -----------------------------------------------------------------------------


def test_patterns_command(project_dir: Path) -> None:
    run_cli("memory", "import", str(DEEP_MANIFEST))
    data = orjson.loads(run_cli("memory", "patterns", "--type", "errors", "--json").stdout)
    assert data["refresh"]["rebuilt"] is True
    keys = [p["key"] for p in data["patterns"]]
    assert "pytest: <path>: line N: pytest: command not found" in keys
    assert {p["type"] for p in data["patterns"]} == {"errors"}
    every = orjson.loads(run_cli("memory", "patterns", "--limit", "2", "--json").stdout)
    assert every["refresh"]["rebuilt"] is False
    counts = {t: sum(p["type"] == t for p in every["patterns"]) for t in PATTERN_TYPES}
    assert max(counts.values()) == 2 and counts["commands"] == 2
    plain = run_cli("memory", "patterns", "--type", "commands").stdout
    assert plain.splitlines()[1].split()[:2] == ["command", "runs"]
    assert "pytest" in plain
    tables = run_cli("memory", "patterns", "--limit", "3").stdout.splitlines()
    titles = [line.strip() for line in tables if line.strip() in PATTERN_TYPES]
    assert titles == ["commands", "files", "errors", "workflows"]
    assert "decisions: none found" in tables  # this session records no choice in prose
    heads = [tables[tables.index(t) + 1].split()[0] for t in titles]
    assert heads == ["command", "file", "error", "workflow"]


def test_patterns_command_errors(project_dir: Path) -> None:
    missing = run_cli("memory", "patterns", check=False)
    assert missing.returncode == 3 and "coditect memory import" in missing.stderr
    run_cli("memory", "import", str(DEEP_MANIFEST))
    wrong = run_cli("memory", "patterns", "--type", "recipes", check=False)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    zero = run_cli("memory", "patterns", "--limit", "0", check=False)
    assert zero.returncode == 4 and "at least 1" in zero.stderr


def test_the_patterns_migration_is_applied_once(tmp_path: Path) -> None:
    with MemoryStore(tmp_path / "memory.db") as store:
        names = [r[0] for r in store.conn.execute("SELECT name FROM schema_migrations")]
    assert names[:2] == ["0001_initial", "0002_patterns"]
    with MemoryStore(tmp_path / "memory.db") as store:
        count = store.conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        store.conn.execute("SELECT count(*) FROM patterns").fetchone()
    assert count == len(names)

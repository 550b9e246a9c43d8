"""Full-text search, filters, safe queries, and browsing sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from coditect.errors import ValidationError
from coditect.memory.search import (
    MARK_END,
    MARK_START,
    conversation_lines,
    fts_query,
    list_sessions,
    parse_time,
    search,
    session_detail,
    tool_line,
)
from coditect.memory.store import MemoryStore
from tests.memory.conftest import (
    assistant,
    bash,
    import_paths,
    text,
    tool_result,
    user,
    write_jsonl,
)
from tests.memory.test_transcripts import EXPORT_V1

DEEP_MANIFEST = "a7da6a22-facc-4fcd-8bab-f83c87862004"


def test_user_text_is_quoted_for_fts() -> None:
    assert fts_query('npm test "exit code" pre*') == '"npm" "test" "exit code" "pre"*'
    assert fts_query('say "hi" AND (x OR y) -- NEAR:') == (
        '"say" "hi" "AND" "(x" "OR" "y)" "NEAR:"'
    )
    assert fts_query('a"b') == '"a""b"'
    with pytest.raises(ValidationError, match="nothing to search for"):
        fts_query(" -- && ( ) ")


@pytest.mark.parametrize(
    "query",
    ['"unclosed', "AND", "OR OR", "NEAR(", "col:value", "^start", "*", "a AND", "(", "x NOT"],
)
def test_fts_syntax_in_user_text_never_crashes(corpus_store: MemoryStore, query: str) -> None:
    try:
        hits = search(corpus_store, query)
    except ValidationError as exc:
        assert "nothing to search for" in exc.message
    else:
        assert isinstance(hits, list)


def test_raw_queries_pass_fts_syntax_and_report_errors_cleanly(corpus_store: MemoryStore) -> None:
    hits = search(corpus_store, "NEAR(pytest found, 3)", raw=True)
    assert hits and all("pytest" in h.snippet.lower() for h in hits)
    with pytest.raises(ValidationError, match="invalid full-text query"):
        search(corpus_store, '"unclosed', raw=True)


def test_the_best_match_comes_first_with_its_snippet_marked(corpus_store: MemoryStore) -> None:
    hits = search(corpus_store, "pytest command not found")
    assert hits[0].session_id == DEEP_MANIFEST
    assert hits[0].role == "tool"
    assert hits[0].tools == ["Bash"]
    assert f"{MARK_START}pytest{MARK_END}" in hits[0].snippet
    assert [h.rank for h in hits] == sorted(h.rank for h in hits)


@pytest.mark.parametrize(
    ("query", "raw"),
    [
        ("pytest command not found", False),
        ('"test session starts"', False),
        ("comment*", False),
        ("failing tests", False),
        ("NEAR(pytest found, 3)", True),
        ("text : sqlite OR webkit*", True),
    ],
)
def test_snippets_are_those_of_the_full_index(
    corpus_store: MemoryStore, query: str, raw: bool
) -> None:
    """Snippets come from a small index of the hits alone; they must be what FTS5's
    snippet() gives on the full index, twice in a row (the small index is refilled)."""
    match = query if raw else fts_query(query)
    for _ in range(2):
        hits = search(corpus_store, query, raw=raw, limit=10)
        assert hits
        for hit in hits:
            (expected,) = corpus_store.conn.execute(
                "SELECT snippet(messages_fts, 0, ?, ?, '…', 16) FROM messages_fts "
                "WHERE messages_fts MATCH ? AND rowid = ?",
                (MARK_START, MARK_END, match, hit.message_id),
            ).fetchone()
            assert hit.snippet == expected
            assert MARK_START in hit.snippet


def test_filters_narrow_the_results(corpus_store: MemoryStore) -> None:
    everything = search(corpus_store, "pytest", limit=200)
    assert {h.role for h in everything} >= {"user", "assistant", "tool"}
    only = search(corpus_store, "pytest", session=DEEP_MANIFEST[:8], role="assistant", limit=200)
    assert only and {(h.session_id, h.role) for h in only} == {(DEEP_MANIFEST, "assistant")}
    bash_calls = search(corpus_store, "pytest", tool="Bash", limit=200)
    assert bash_calls and all("Bash" in h.tools for h in bash_calls)
    assert len(bash_calls) < len(everything)
    window = search(
        corpus_store, "pytest", since="2025-11-29T00:00:00Z", until="2025-11-30T00:00:00Z"
    )
    assert window and all("2025-11-29" <= (h.ts or "") < "2025-11-30" for h in window)
    assert len(search(corpus_store, "pytest", limit=3)) == 3
    with pytest.raises(ValidationError, match="unknown role"):
        search(corpus_store, "pytest", role="robot")
    with pytest.raises(ValidationError, match="at least 1"):
        search(corpus_store, "pytest", limit=0)


def test_equal_ranks_come_newest_first(tmp_path: Path, store: MemoryStore) -> None:
    write_jsonl(
        tmp_path / "s.jsonl",
        [
            user("p1", "deploy the widget", ts="2026-01-01T00:00:00.000Z"),
            user("p2", "deploy the widget", ts="2026-03-01T00:00:00.000Z"),
            user("p3", "deploy the widget", ts="2026-02-01T00:00:00.000Z"),
        ],
    )
    import_paths(store, tmp_path)
    assert [h.ts for h in search(store, "widget")] == [
        "2026-03-01T00:00:00.000Z",
        "2026-02-01T00:00:00.000Z",
        "2026-01-01T00:00:00.000Z",
    ]


def test_only_the_newest_candidates_are_ranked(tmp_path: Path, store: MemoryStore) -> None:
    # The best match for "widget" (it says it three times) was imported first.
    write_jsonl(tmp_path / "old.jsonl", [user("p0", "widget widget widget", session="old")])
    import_paths(store, tmp_path / "old.jsonl")
    newer = [user(f"p{n}", f"the widget number {n}", session="new") for n in range(1, 6)]
    write_jsonl(tmp_path / "new.jsonl", newer)
    import_paths(store, tmp_path / "new.jsonl")

    assert search(store, "widget", limit=1)[0].session_id == "old"  # six candidates
    ranked = search(store, "widget", limit=2, candidates=3)
    assert [h.session_id for h in ranked] == ["new", "new"]
    assert search(store, "widget", session="old", candidates=3)[0].session_id == "old"
    filtered = search(store, "widget", role="user", limit=3, candidates=3)
    assert {h.snippet.split()[-1] for h in filtered} == {"3", "4", "5"}


def test_stemming_and_prefixes_find_word_forms(corpus_store: MemoryStore) -> None:
    assert search(corpus_store, "failing")  # porter: fail, fails, failed
    assert search(corpus_store, "getUser*")


def test_times_are_dates_moments_or_ages() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert parse_time("2026-03-01") == "2026-03-01T00:00:00.000Z"
    assert parse_time("2026-03-01", end=True) == "2026-03-02T00:00:00.000Z"
    assert parse_time("2026-03-01T14:30+02:00") == "2026-03-01T12:30:00.000Z"
    assert parse_time("12h", now=now) == "2026-03-10T00:00:00.000Z"
    assert parse_time("2w", now=now) == "2026-02-24T12:00:00.000Z"
    with pytest.raises(ValidationError, match="not a date"):
        parse_time("last tuesday")


def test_sessions_are_listed_most_recent_first(corpus_store: MemoryStore) -> None:
    sessions = list_sessions(corpus_store, limit=100)
    assert len(sessions) == 48
    stamps = [s["last_at"] for s in sessions if s["last_at"]]
    assert stamps == sorted(stamps, reverse=True)
    deep = next(s for s in sessions if s["id"] == DEEP_MANIFEST)
    assert deep["messages"] == 248
    assert deep["tokens"] == 3119 + 32270 + 216690 + 8629528
    assert deep["project"] == "/src/deep-manifest"
    assert len(list_sessions(corpus_store, limit=5)) == 5


def test_a_real_session_reads_as_a_conversation_with_folded_tool_calls(
    corpus_store: MemoryStore,
) -> None:
    detail = session_detail(corpus_store, DEEP_MANIFEST)
    lines = conversation_lines(detail)
    assert lines[0] == f"session {DEEP_MANIFEST}  (claude-code)"
    assert "▸ Bash: pytest (exit 127)" in lines
    assert "▸ Bash: (source .venv/bin/activate && pytest -x) (exit 1)" in lines
    assert any(line.startswith("── assistant · claude-") for line in lines)
    assert not any("tool_result" in line for line in lines)


def test_tool_lines_say_the_main_argument_and_the_outcome() -> None:
    call = {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "npm test\nx"}}
    assert tool_line(call, None) == "▸ Bash: npm test"
    failed = {"content": "Exit code 1\nboom", "is_error": True}
    assert tool_line(call, failed) == "▸ Bash: npm test (exit 1)"
    denied = {"content": "The user doesn't want to proceed", "is_error": True}
    assert tool_line(call, denied) == "▸ Bash: npm test (error)"
    read = {"type": "tool_use", "name": "Read", "input": {"file_path": "/src/app.py"}}
    assert tool_line(read, {"content": "1→ import os"}) == "▸ Read: /src/app.py"
    todo = {"type": "tool_use", "name": "TodoWrite", "input": {"todos": [{}, {}]}}
    assert tool_line(todo, None) == "▸ TodoWrite: 2 todos"


def test_an_imported_session_shows_its_calls_and_hides_sidechains_unless_asked(
    tmp_path: Path, store: MemoryStore
) -> None:
    write_jsonl(
        tmp_path / "s-1.jsonl",
        [
            user("p1", "run the tests"),
            assistant("a1", "msg_1", "req_1", text("Running them.")),
            assistant("a2", "msg_1", "req_1", bash("toolu_1", "npm test")),
            tool_result("r1", "toolu_1", "Exit code 1\n1 failing", error=True),
            assistant("a3", "msg_2", "req_2", text("A helper looked."), sidechain=True),
        ],
    )
    import_paths(store, tmp_path)
    lines = conversation_lines(session_detail(store, "s-1"))
    assert lines[3:] == [
        "",
        "── user · 2026-03-01 10:00:00",
        "run the tests",
        "",
        "── assistant · claude-sonnet-4-5-20250929 · 2026-03-01 10:00:01",
        "Running them.",
        "▸ Bash: npm test (exit 1)",
    ]
    with_agents = conversation_lines(session_detail(store, "s-1", sidechains=True))
    assert "A helper looked." in with_agents


def test_an_export_session_reads_back(tmp_path: Path, store: MemoryStore) -> None:
    (tmp_path / "e.txt").write_text(EXPORT_V1)
    import_paths(store, tmp_path)
    session = list_sessions(store)[0]
    assert session["source"] == "export"
    assert session["title"] == "/login"
    lines = conversation_lines(session_detail(store, session["id"]))
    assert "▸ Bash: npm test -- checkout (exit 1)" in lines
    assert "▸ Read: src/checkout.js" in lines
    assert "▸ Update Todos" in lines

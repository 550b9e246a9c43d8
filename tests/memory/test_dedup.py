"""Exact deduplication, checked against totals counted by hand on the real corpus.

The pinned numbers were counted with a separate script over the JSONL files (one
assistant message per distinct message.id + requestId in a session; one message per
distinct uuid otherwise; per response, the usage of the non-sidechain record with the
largest total) and spot-checked with jq; they do not come from this code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from coditect.memory.dedup import Usage, best_usage, chain_key, digest
from coditect.memory.store import MemoryStore
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
from tests.memory.test_transcripts import EXPORT_V1

# session: (messages by role, tokens by kind)
PINNED: dict[str, tuple[dict[str, int], dict[str, int]]] = {
    "7acd37a8-2745-4b58-a8a9-46164b22ad9e": (  # main file + 4 old-layout agent files
        {"user": 8, "assistant": 40, "tool": 71},
        {"input": 5482, "output": 21446, "cache_write": 184072, "cache_read": 1505468},
    ),
    "0d3a8e6f-290f-4105-a327-a2496e5e2a83": (  # hooks as system messages
        {"user": 14, "assistant": 15, "tool": 14, "system": 8},
        {"input": 138, "output": 5057, "cache_write": 85100, "cache_read": 348985},
    ),
    "ef958aa1-0e93-49f0-bb71-150f63befcd1": (  # new-layout subagents/, attachments
        {"user": 12, "assistant": 83, "tool": 117, "system": 2},
        {"input": 2546, "output": 53458, "cache_write": 398573, "cache_read": 2455695},
    ),
    "a7da6a22-facc-4fcd-8bab-f83c87862004": (  # summaries without a sessionId
        {"summary": 2, "user": 14, "assistant": 109, "tool": 123},
        {"input": 3119, "output": 32270, "cache_write": 216690, "cache_read": 8629528},
    ),
    "88a8d761-7b9a-4bf1-a8ca-c1febe6bf358": (  # edge case: sidechain interleaved
        {"assistant": 3, "tool": 2},
        {"input": 9, "output": 738, "cache_write": 164054, "cache_read": 141272},
    ),
}


def _roles(store: MemoryStore, session: str) -> dict[str, int]:
    rows = store.conn.execute(
        "SELECT role, count(*) FROM messages WHERE session_id = ? GROUP BY role", (session,)
    )
    return dict(rows.fetchall())


def _tokens(store: MemoryStore, session: str | None = None) -> dict[str, int]:
    row = store.conn.execute(
        "SELECT sum(input_tokens), sum(output_tokens), sum(cache_write_tokens), "
        "sum(cache_read_tokens) FROM usage" + (" WHERE session_id = ?" if session else ""),
        (session,) if session else (),
    ).fetchone()
    return dict(zip(("input", "output", "cache_write", "cache_read"), row, strict=True))


@pytest.mark.parametrize("session", sorted(PINNED))
def test_pinned_sessions_have_the_messages_and_tokens_counted_by_hand(
    corpus_store: MemoryStore, session: str
) -> None:
    roles, tokens = PINNED[session]
    assert _roles(corpus_store, session) == roles
    assert _tokens(corpus_store, session) == tokens


def test_the_whole_corpus_totals(corpus_store: MemoryStore) -> None:
    roles = dict(corpus_store.conn.execute("SELECT role, count(*) FROM messages GROUP BY role"))
    assert roles == {"assistant": 886, "user": 191, "tool": 907, "system": 121, "summary": 38}
    assert _tokens(corpus_store) == {
        "input": 60891,
        "output": 182126,
        "cache_write": 2629271,
        "cache_read": 37112203,
    }
    # 1,643 assistant records (1,634 + 9 in edge_cases) became 886 responses: 757 merged.
    # Duplicates: the prompt copied into 3 sessions (2) and 12 repeated uuid-less records
    # (permission-mode, last-prompt, queue-operation) identical within their session.
    assert corpus_store.counters() == {"merged": 757, "duplicates": 14}


def test_the_records_of_one_response_become_one_message_in_file_order(
    corpus_store: MemoryStore,
) -> None:
    key = digest(
        "a",
        "7acd37a8-2745-4b58-a8a9-46164b22ad9e",
        "msg_01KJZamND8Cemw6Le5jtXwwN",
        "req_011CVEMi5nBE35f14fPrP4xh",
    )
    content, parts = corpus_store.conn.execute(
        "SELECT content, parts FROM messages WHERE key = ?", (key,)
    ).fetchone()
    blocks = orjson.loads(content)
    assert [b["type"] for b in blocks] == ["thinking", "text", "tool_use", "tool_use", "tool_use"]
    assert [b["name"] for b in blocks[2:]] == ["Bash", "Bash", "Glob"]
    assert len(parts.split()) == 5


def test_a_streaming_snapshot_counts_once_with_its_final_output(corpus_store: MemoryStore) -> None:
    # Two records of msg_01HDXxNg5wW8UsNyf6XHSdqs say output_tokens 1, then 99.
    key = digest(
        "a",
        "07f2e15c-a38b-454b-9148-60edc06de401",
        "msg_01HDXxNg5wW8UsNyf6XHSdqs",
        "req_011CQGYLoLKfV2xz5YcEjq25",
    )
    row = corpus_store.conn.execute(
        "SELECT input_tokens, output_tokens, cache_write_tokens, cache_read_tokens "
        "FROM usage WHERE key = ?",
        (key,),
    ).fetchone()
    assert row == (4, 99, 476, 25004)


def test_a_prompt_copied_into_resumed_sessions_is_stored_once(corpus_store: MemoryStore) -> None:
    # The same record (uuid cc67b20e…) opens three session files.
    rows = corpus_store.conn.execute(
        "SELECT session_id FROM messages WHERE uuid = 'cc67b20e-4350-4a71-bc4f-8b64f2adb806'"
    ).fetchall()
    assert rows == [("71c9afe9-d9cc-4583-86b3-e62ba682b83a",)]


def test_importing_one_record_per_batch_gives_the_same_store(
    corpus_store: MemoryStore, store: MemoryStore
) -> None:
    report = import_paths(store, TRANSCRIPTS, batch_size=1)
    assert report.records == 3049
    assert (report.added, report.merged, report.duplicates) == (2143, 757, 14)
    assert report.added + report.merged + report.duplicates + report.other_records == 3049
    # the usage rows too: a response's day and model, wherever batches split it
    for table in ("messages", "usage"):
        query = f"SELECT * FROM {table} ORDER BY key"
        assert store.conn.execute(query).fetchall() == corpus_store.conn.execute(query).fetchall()


def test_usage_prefers_the_main_chain_then_the_larger_total() -> None:
    small = Usage(input=1, output=1)
    large = Usage(input=1, output=90)
    side = Usage(input=5, output=500, sidechain=True)
    assert best_usage(small, large) is large
    assert best_usage(side, small) is small
    assert best_usage(None, side) is side
    assert best_usage(None, None) is None


def _response(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    path = tmp_path / "p" / "s-1.jsonl"
    write_jsonl(path, records)
    return path


def test_a_sidechain_copy_of_a_response_does_not_count_its_usage(
    tmp_path: Path, store: MemoryStore
) -> None:
    main = {"input_tokens": 10, "output_tokens": 20, "cache_read_input_tokens": 0}
    side = {"input_tokens": 10, "output_tokens": 900, "cache_read_input_tokens": 0}
    path = _response(
        tmp_path,
        [
            assistant("u1", "msg_1", "req_1", text("part one"), usage=side, sidechain=True),
            assistant("u2", "msg_1", "req_1", text("part two"), usage=main),
        ],
    )
    import_paths(store, path)
    assert _tokens(store)["output"] == 20
    content = store.conn.execute("SELECT content FROM messages").fetchone()[0]
    assert [b["text"] for b in orjson.loads(content)] == ["part one", "part two"]


def test_a_response_cut_between_two_imports_is_completed_not_duplicated(
    tmp_path: Path, store: MemoryStore
) -> None:
    first = {"input_tokens": 3, "output_tokens": 1, "cache_read_input_tokens": 0}
    final = {"input_tokens": 3, "output_tokens": 77, "cache_read_input_tokens": 0}
    path = _response(
        tmp_path,
        [
            user("p1", "run the tests"),
            assistant("a1", "msg_9", "req_9", text("Running them."), usage=first),
        ],
    )
    import_paths(store, path)
    write_jsonl(
        path,
        [
            assistant("a2", "msg_9", "req_9", bash("toolu_1", "npm test"), usage=final),
            tool_result("r1", "toolu_1", "Exit code 1\n1 failing", error=True),
        ],
        mode="ab",
    )
    report = import_paths(store, path)
    assert (report.records, report.added, report.merged) == (2, 1, 1)
    rows = store.conn.execute("SELECT role, content, tools FROM messages ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["user", "assistant", "tool"]
    assert [b["type"] for b in orjson.loads(rows[1][1])] == ["text", "tool_use"]
    assert rows[1][2] == " Bash "
    assert rows[2][2] == " Bash "  # the result knows the tool it answers
    assert _tokens(store)["output"] == 77


def test_a_record_seen_twice_is_a_duplicate(tmp_path: Path, store: MemoryStore) -> None:
    record = user("p1", "hello")
    path = _response(tmp_path, [record, record])
    report = import_paths(store, path)
    assert (report.added, report.duplicates) == (1, 1)


def test_overlapping_exports_collapse_but_repeated_words_stay(
    tmp_path: Path, store: MemoryStore
) -> None:
    early = EXPORT_V1.split("⏺ Read(")[0]
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "early.txt").write_text(early)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "late.txt").write_text(EXPORT_V1 + "\n⏺ Done.\n\n> yes\n")
    first = import_paths(store, tmp_path / "a")
    second = import_paths(store, tmp_path / "b")
    assert (first.added, first.duplicates) == (4, 0)
    assert (second.added, second.duplicates) == (6, 4)
    sessions = store.conn.execute("SELECT DISTINCT session_id FROM messages").fetchall()
    assert len(sessions) == 1
    yes = store.conn.execute("SELECT count(*) FROM messages WHERE text = 'yes'").fetchone()
    assert yes == (2,)


def test_export_keys_chain_content_not_position() -> None:
    root = digest("export", "~/shop")
    blocks = [{"type": "text", "text": "yes"}]
    first = chain_key(root, "user", blocks)
    assert chain_key(root, "user", blocks) == first
    assert chain_key(first, "user", blocks) != first
    assert chain_key(root, "assistant", blocks) != first


def test_real_project_folders_import_without_problems(store: MemoryStore) -> None:
    report = import_paths(store, REAL_PROJECTS)
    assert report.problems == []
    assert report.records == 3031

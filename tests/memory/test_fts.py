"""The full-text index in shards: every message indexed once, in its shard, in step
with its text through merges, forgetting and pruning; search over shards finds what
one index finds."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from coditect.memory import fts
from coditect.memory.migrations import MIGRATIONS, migrate
from coditect.memory.search import search
from coditect.memory.store import MemoryStore
from tests.memory.conftest import (
    REAL_PROJECTS,
    TRANSCRIPTS,
    assistant,
    import_paths,
    text,
    user,
    write_jsonl,
)

QUERIES = ["pytest", "command not found", '"test session starts"', "CLAUDE.md", "commit*"]


def _sharded(path: Path, rows: int) -> MemoryStore:
    store = MemoryStore(path)
    store.fts_shard_rows = rows
    return store


def _keys(store: MemoryStore, ids: list[int]) -> set[bytes]:
    marks = ",".join("?" * len(ids))
    rows = store.conn.execute(f"SELECT key FROM messages WHERE id IN ({marks})", ids)
    return {row[0] for row in rows}


def _assert_index_is_the_text(store: MemoryStore) -> None:
    """Each shard indexes exactly the current text of the messages in its id range:
    every (term, message, position) it holds is what a fresh index of that text holds."""
    conn = store.conn
    indexed = 0
    for shard in fts.shards(conn):
        end = shard.end if shard.end is not None else 2**62
        conn.execute("DROP TABLE IF EXISTS temp.truth")
        conn.execute(
            f"CREATE VIRTUAL TABLE temp.truth USING fts5 (text, tokenize = '{fts.TOKENIZER}')"
        )
        conn.execute(
            "INSERT INTO temp.truth (rowid, text) SELECT id, text FROM messages "
            "WHERE id >= ? AND id < ?",
            (shard.first, end),
        )
        for name, schema, table in (("held", "main", shard.name), ("truth_terms", "temp", "truth")):
            conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
            conn.execute(
                f"CREATE VIRTUAL TABLE temp.{name} USING fts5vocab({schema}, {table}, instance)"
            )
        extra = conn.execute("SELECT * FROM held EXCEPT SELECT * FROM truth_terms").fetchall()
        missing = conn.execute("SELECT * FROM truth_terms EXCEPT SELECT * FROM held").fetchall()
        assert (extra[:3], missing[:3]) == ([], [])
        count, low, high = conn.execute(
            f"SELECT count(*), min(id), max(id) FROM {shard.name}_docsize"
        ).fetchone()
        assert count == 0 or (shard.first <= low and high < end)
        indexed += count
    assert indexed == conn.execute("SELECT count(*) FROM messages").fetchone()[0]


def test_the_index_splits_into_shards_of_consecutive_ids(tmp_path: Path) -> None:
    with _sharded(tmp_path / "memory.db", 300) as store:
        import_paths(store, TRANSCRIPTS, batch_size=100)
        shards = fts.shards(store.conn)
        assert len(shards) >= 4
        assert shards[-1] == fts.Shard("messages_fts", 1, shards[-2].first)
        assert shards[0].end is None
        for newer, older in itertools.pairwise(shards):
            assert older.end == newer.first
            assert newer.first - older.first >= 300  # a shard fills before the next starts
        _assert_index_is_the_text(store)
        with pytest.raises(ValueError, match="must start after"):
            fts.start_shard(store.conn, shards[0].first)


def test_search_over_shards_finds_what_one_index_finds(tmp_path: Path) -> None:
    with MemoryStore(tmp_path / "one.db") as one, _sharded(tmp_path / "many.db", 250) as many:
        import_paths(one, TRANSCRIPTS)
        import_paths(many, TRANSCRIPTS, batch_size=100)
        assert len(fts.shards(one.conn)) == 1 and len(fts.shards(many.conn)) > 3
        for query in QUERIES:
            for role in (None, "tool"):
                found = [
                    search(store, query, role=role, limit=10_000, candidates=10_000)
                    for store in (one, many)
                ]
                keys = [
                    _keys(store, [h.message_id for h in hits])
                    for store, hits in zip((one, many), found, strict=True)
                ]
                assert keys[0] and keys[0] == keys[1], query
                ranks = [h.rank for h in found[1]]
                assert ranks == sorted(ranks)


def test_only_the_newest_matches_are_ranked_across_shards(tmp_path: Path) -> None:
    with _sharded(tmp_path / "memory.db", 200) as store:
        import_paths(store, TRANSCRIPTS, batch_size=50)
        every = sorted(
            (
                row[0]
                for shard in fts.shards(store.conn)
                for row in store.conn.execute(
                    f"SELECT rowid FROM {shard.name} WHERE {shard.name} MATCH 'pytest'"
                )
            ),
            reverse=True,
        )
        newest = every[:40]
        assert newest[-1] < fts.shards(store.conn)[0].first  # the 40 span two shards or more
        hits = search(store, "pytest", limit=100, candidates=40)
        assert sorted((h.message_id for h in hits), reverse=True) == newest
        top = search(store, "pytest", limit=5, candidates=40)
        assert [h.message_id for h in top] == [h.message_id for h in hits[:5]]


def test_a_response_completed_after_its_shard_closed_is_reindexed_there(
    tmp_path: Path,
) -> None:
    """A response's later part, imported once newer shards exist, updates the message in
    the shard that holds it, and only there."""
    path = tmp_path / "s.jsonl"
    first = assistant("a-1", "msg_1", "req_1", text("the opening thought"))
    write_jsonl(path, [first])
    with _sharded(tmp_path / "memory.db", 1) as store:
        import_paths(store, path)
        write_jsonl(tmp_path / "other.jsonl", [user("u-9", "unrelated", session="s-2")])
        import_paths(store, tmp_path / "other.jsonl")
        assert len(fts.shards(store.conn)) == 2
        write_jsonl(path, [assistant("a-2", "msg_1", "req_1", text("a zebra"))], mode="ab")
        assert import_paths(store, path).merged == 1
        (hit,) = search(store, "zebra")
        assert hit.message_id == fts.shards(store.conn)[-1].first == 1
        assert search(store, "opening thought")[0].message_id == hit.message_id
        _assert_index_is_the_text(store)


def test_forgetting_and_pruning_reach_every_shard(tmp_path: Path) -> None:
    with _sharded(tmp_path / "memory.db", 40) as store:
        report = import_paths(store, REAL_PROJECTS, batch_size=10)
        assert report.merged > 0
        assert len(fts.shards(store.conn)) > 20
        _assert_index_is_the_text(store)
        sessions = [row[0] for row in store.conn.execute("SELECT id FROM sessions LIMIT 3")]
        for session in sessions:
            store.forget(session)
        _assert_index_is_the_text(store)
        left = store.conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        assert store.prune(0.0001)[0] > 0  # the sessions with times are older than this
        assert store.conn.execute("SELECT count(*) FROM messages").fetchone()[0] < left
        _assert_index_is_the_text(store)


def test_a_store_from_before_shards_keeps_its_index_as_the_first(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:3])
    conn.execute(
        "INSERT INTO messages (key, session_id, role, text, content, parts) "
        "VALUES (x'01', 's', 'user', 'an old sqlite question', '[]', '')"
    )
    conn.execute("INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages")
    conn.close()
    with _sharded(path, 1) as store:
        assert fts.shards(store.conn) == [fts.Shard("messages_fts", 1, None)]
        import_paths(store, REAL_PROJECTS / "-Users-dain-workspace-JSSoundRecorder")
        assert len(fts.shards(store.conn)) > 1
        hits = search(store, "old sqlite question")
        assert [h.session_id for h in hits] == ["s"]
        _assert_index_is_the_text(store)

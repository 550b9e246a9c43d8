"""The store: migrations, incremental and tolerant import, redaction, forget and prune."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import threading
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from coditect.memory.ingest import BATCH_BYTES
from coditect.memory.migrations import MIGRATIONS, migrate
from coditect.memory.search import search
from coditect.memory.store import Batch, Checkpointer, MemoryStore, WriteResult
from tests.memory.conftest import (
    REAL_PROJECTS,
    assistant,
    bash,
    import_paths,
    text,
    user,
    write_jsonl,
)

SESSION_FILE = (
    REAL_PROJECTS
    / "-Users-dain-workspace-JSSoundRecorder/7acd37a8-2745-4b58-a8a9-46164b22ad9e.jsonl"
)


def _count(store: MemoryStore, table: str) -> int:
    return int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_the_database_is_in_wal_mode_with_its_migrations_recorded(store: MemoryStore) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    names = [r[0] for r in store.conn.execute("SELECT name FROM schema_migrations")]
    assert names == [name for name, _ in MIGRATIONS]
    assert migrate(store.conn) == []  # applied once only
    reopened = MemoryStore(store.path)
    assert [r[0] for r in reopened.conn.execute("SELECT name FROM schema_migrations")] == names
    reopened.close()


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    broken = [("0001_ok", "CREATE TABLE a (x)"), ("0002_bad", "CREATE TABLE b (y); SELEC 1")]
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "a" in tables and "b" not in tables
    assert [r[0] for r in conn.execute("SELECT name FROM schema_migrations")] == ["0001_ok"]


def test_re_importing_unchanged_files_reads_nothing(tmp_path: Path, store: MemoryStore) -> None:
    first = import_paths(store, REAL_PROJECTS)
    again = import_paths(store, REAL_PROJECTS)
    assert first.files == 99 and first.records == 3031
    assert (again.files, again.unchanged, again.records, again.added) == (0, 99, 0, 0)


def test_an_appended_file_imports_only_the_new_lines(tmp_path: Path, store: MemoryStore) -> None:
    path = tmp_path / "copy.jsonl"
    lines = SESSION_FILE.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:100]))
    first = import_paths(store, path)
    with path.open("ab") as handle:
        handle.write(b"".join(lines[100:]))
    second = import_paths(store, path)
    assert (first.records, second.records) == (100, len(lines) - 100)
    assert second.duplicates == 0
    whole = MemoryStore(tmp_path / "whole.db")
    import_paths(whole, SESSION_FILE)
    query = "SELECT key, content FROM messages ORDER BY key"
    assert store.conn.execute(query).fetchall() == whole.conn.execute(query).fetchall()
    whole.close()


def test_a_cut_off_last_line_waits_for_its_end(tmp_path: Path, store: MemoryStore) -> None:
    path = tmp_path / "live.jsonl"
    line = orjson.dumps(user("p2", "second prompt")) + b"\n"
    write_jsonl(path, [user("p1", "first prompt")])
    with path.open("ab") as handle:
        handle.write(line[:40])
    first = import_paths(store, path)
    assert (first.records, first.added, first.truncated) == (2, 1, 1)
    assert [str(p) for p in first.problems] == [f"{path}:2: truncated: the last line is cut off"]
    with path.open("ab") as handle:
        handle.write(line[40:])
    second = import_paths(store, path)
    assert (second.records, second.added, second.truncated, second.problems) == (1, 1, 0, [])
    assert _count(store, "messages") == 2


def test_a_last_line_complete_but_for_its_newline_is_taken(
    tmp_path: Path, store: MemoryStore
) -> None:
    path = tmp_path / "live.jsonl"
    path.write_bytes(orjson.dumps(user("p1", "only prompt")))
    report = import_paths(store, path)
    assert (report.added, report.truncated) == (1, 0)
    with path.open("ab") as handle:
        handle.write(b"\n" + orjson.dumps(user("p2", "next")) + b"\n")
    assert import_paths(store, path).added == 1


def test_a_replaced_or_shortened_file_is_read_again(tmp_path: Path, store: MemoryStore) -> None:
    path = tmp_path / "s.jsonl"
    write_jsonl(path, [user("p1", "one"), user("p2", "two"), user("p3", "three")])
    import_paths(store, path)
    write_jsonl(path, [user("p9", "nine")])  # shorter: rewritten
    shorter = import_paths(store, path)
    assert (shorter.records, shorter.added) == (1, 1)
    replacement = tmp_path / "new.jsonl"
    write_jsonl(replacement, [user("p9", "nine"), user("p10", "ten")])
    os.replace(replacement, path)  # a new file in its place
    replaced = import_paths(store, path)
    assert (replaced.records, replaced.added, replaced.duplicates) == (2, 1, 1)


def test_bad_lines_and_unknown_types_are_reported_and_kept_going(
    tmp_path: Path, store: MemoryStore
) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_bytes(
        orjson.dumps(user("p1", "hello"))
        + b"\n{not json\n[1, 2]\n\n"
        + orjson.dumps({"type": "hologram", "sessionId": "s-1", "beam": "on"})
        + b"\n"
        + orjson.dumps(user("p2", "still here"))
        + b"\n"
    )
    report = import_paths(store, path)
    assert (report.records, report.added, report.malformed, report.unknown_types) == (5, 2, 2, 1)
    assert [(p.line, p.kind) for p in report.problems] == [
        (2, "malformed"),
        (3, "malformed"),
        (5, "unknown-type"),
    ]
    raw = store.conn.execute("SELECT type, raw FROM records").fetchone()
    assert raw[0] == "hologram"
    assert orjson.loads(raw[1])["beam"] == "on"


def test_secrets_never_reach_the_database_but_the_audit_trail_does(
    tmp_path: Path, store: MemoryStore
) -> None:
    secret = "AKIAIOSFODNN7EXAMPLE"
    path = tmp_path / "s.jsonl"
    write_jsonl(
        path,
        [
            user("p1", f"deploy with key {secret} please"),
            assistant("a1", "msg_1", "req_1", bash("toolu_1", f"./deploy --key {secret}")),
            {"type": "queue-operation", "sessionId": "s-1", "content": f"key {secret}"},
        ],
    )
    report = import_paths(store, path)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert report.redactions == 3
    assert secret.encode() not in store.path.read_bytes()
    assert search(store, "AKIAIOSFODNN7EXAMPLE") == []
    audit = store.conn.execute(
        'SELECT type, rule, path, "offset", length FROM redactions ORDER BY id'
    ).fetchall()
    assert audit[0] == ("AWS_KEY", "aws-access-key-id", "[0].text", 16, 20)
    assert {row[0] for row in audit} == {"AWS_KEY"}
    stored = store.conn.execute("SELECT text FROM messages WHERE role = 'user'").fetchone()[0]
    assert stored == "deploy with key [REDACTED:AWS_KEY] please"


def test_forgetting_a_session_removes_it_and_keeps_it_out(
    tmp_path: Path, store: MemoryStore
) -> None:
    path = tmp_path / "s.jsonl"
    write_jsonl(
        path,
        [
            user("p1", "refactor the invoice module"),
            assistant("a1", "msg_1", "req_1", text("Refactoring the invoice module.")),
        ],
    )
    import_paths(store, path)
    assert store.forget("s-1") == 2
    for table in ("messages", "usage", "sessions"):
        assert _count(store, table) == 0, table
    assert search(store, "invoice") == []
    write_jsonl(path, [user("p2", "and the invoice tests")], mode="ab")
    again = import_paths(store, path)
    assert (again.added, again.forgotten) == (0, 1)
    forced = import_paths(store, path, force=True)
    assert (forced.records, forced.added) == (3, 3)
    assert len(search(store, "invoice")) == 3


def test_prune_deletes_sessions_idle_longer_than_the_retention(
    tmp_path: Path, store: MemoryStore
) -> None:
    write_jsonl(
        tmp_path / "old.jsonl", [user("o1", "old", session="old", ts="2026-01-01T00:00:00Z")]
    )
    write_jsonl(
        tmp_path / "new.jsonl", [user("n1", "new", session="new", ts="2026-03-01T00:00:00Z")]
    )
    import_paths(store, tmp_path)
    now = datetime(2026, 3, 10, tzinfo=UTC)
    assert store.prune(30, now=now) == (1, 1)
    assert [r[0] for r in store.conn.execute("SELECT id FROM sessions")] == ["new"]
    assert store.prune(30, now=now) == (0, 0)


def test_retention_applies_after_import(tmp_path: Path, store: MemoryStore) -> None:
    write_jsonl(
        tmp_path / "old.jsonl", [user("o1", "old", session="old", ts="2020-01-01T00:00:00Z")]
    )
    write_jsonl(
        tmp_path / "now.jsonl", [user("n1", "new", session="now", ts=datetime.now(UTC).isoformat())]
    )
    report = import_paths(store, tmp_path, retention_days=30)
    assert report.pruned_sessions == 1
    assert [r[0] for r in store.conn.execute("SELECT id FROM sessions")] == ["now"]


def test_a_damaged_database_is_reported_not_crashed_on(tmp_path: Path) -> None:
    from coditect.errors import StateCorruptedError

    path = tmp_path / "memory.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateCorruptedError, match="cannot be opened"):
        MemoryStore(path)


def test_session_ids_resolve_from_a_unique_prefix(tmp_path: Path, store: MemoryStore) -> None:
    from coditect.errors import ConflictError, NotFoundError

    for session in ("abc-1", "abc-2", "xyz-1"):
        write_jsonl(tmp_path / f"{session}.jsonl", [user(f"u-{session}", "hi", session=session)])
    import_paths(store, tmp_path)
    assert store.resolve_session("xyz") == "xyz-1"
    assert store.resolve_session("abc-2") == "abc-2"
    with pytest.raises(ConflictError, match="several sessions"):
        store.resolve_session("abc")
    with pytest.raises(NotFoundError):
        store.resolve_session("nope")
    with pytest.raises(NotFoundError):
        store.resolve_session("%")


def test_a_corpus_folder_copied_elsewhere_adds_nothing(tmp_path: Path, store: MemoryStore) -> None:
    folder = REAL_PROJECTS / "-src-experiments-claude_p"
    import_paths(store, folder)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    report = import_paths(store, copy)
    assert report.records == 104
    assert report.added == 0 and report.merged == 0
    assert report.duplicates == 104


class _BatchSizes(MemoryStore):
    """A store that notes how many records each batch it writes holds."""

    sizes: list[int]

    def write(self, batch: Batch, counters: dict[str, int] | None = None) -> WriteResult:
        self.sizes.append(batch.size)
        return super().write(batch, counters)


def test_a_batch_of_large_records_is_written_once_it_holds_batch_bytes(tmp_path: Path) -> None:
    """However few records it holds, a batch is written when their lines reach
    BATCH_BYTES: large tool outputs must not pile up in memory until batch_size."""
    words = "word " * (BATCH_BYTES // 15 + 1)  # a line of just over a third of BATCH_BYTES
    records = [user(f"u-{n}", words, ts=f"2026-03-01T10:00:0{n}.000Z") for n in range(5)]
    write_jsonl(tmp_path / "big.jsonl", records)
    with _BatchSizes(tmp_path / "memory.db") as store:
        store.sizes = []
        report = import_paths(store, tmp_path / "big.jsonl")
        assert store.sizes == [3, 2]
        assert report.added == 5
        assert _count(store, "messages") == 5


def _write_records(store: MemoryStore, count: int, size: int) -> None:
    """``count`` transactions, one after the other, each writing a record of ``size`` bytes."""
    for _ in range(count):
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO records (key, session_id, type, ts, raw) "
                "VALUES (?, 's', 'x', NULL, ?)",
                (os.urandom(16), os.urandom(size // 2).hex()),
            )


def test_a_store_without_autocheckpoint_leaves_its_commits_in_the_wal(tmp_path: Path) -> None:
    """12 MB in 120 commits: a store that checkpoints starts its WAL over every 1,000
    pages (4 MB); one without autocheckpoint keeps every page in it."""
    with MemoryStore(tmp_path / "memory.db", autocheckpoint=False) as store:
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        _write_records(store, 120, 100_000)
        assert (tmp_path / "memory.db-wal").stat().st_size > 10_000_000
    with MemoryStore(tmp_path / "default.db") as store:
        _write_records(store, 120, 100_000)
        assert (tmp_path / "default.db-wal").stat().st_size < 6_000_000


def _write_in_a_worker(path: Path, lock: Any, count: int) -> None:
    """What an import's worker does to the WAL: commits that never checkpoint, with
    a little parsing between them."""
    with MemoryStore(path, lock, autocheckpoint=False) as store:
        for _ in range(count):
            _write_records(store, 1, 100_000)
            time.sleep(0.005)


@pytest.mark.parametrize("checkpoints", [False, True])
def test_the_checkpointer_keeps_the_wal_of_workers_short(tmp_path: Path, checkpoints: bool) -> None:
    """A worker process commits 100 kB 80 times, never checkpointing. Alone, its WAL
    ends up holding all 8 MB; with a Checkpointer beside it (in this process, as in an
    import), the WAL is copied into the database and started over again and again."""
    context = multiprocessing.get_context("spawn")
    lock = context.Lock()
    db = tmp_path / "memory.db"
    with MemoryStore(db) as store:  # migrated; kept open, so the WAL file stays
        worker = context.Process(target=_write_in_a_worker, args=(db, lock, 80))
        with Checkpointer(db, lock, interval=0.001, frames=100) if checkpoints else nullcontext():
            worker.start()
            worker.join(timeout=60)
        assert worker.exitcode == 0
        size = (tmp_path / "memory.db-wal").stat().st_size
        if checkpoints:
            assert size < 2_000_000
        else:
            assert size > 8_000_000
        assert _count(store, "records") == 80
        assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_checkpointer_stops_though_the_lock_is_never_given_back(tmp_path: Path) -> None:
    """A worker killed inside a transaction never releases the write lock: leaving the
    Checkpointer must not wait for it."""
    lock = threading.Lock()
    with MemoryStore(tmp_path / "memory.db", autocheckpoint=False) as store:
        _write_records(store, 10, 100_000)  # ~250 frames, more than the 100 allowed
        lock.acquire()  # held by a "dead writer"
        restarts: list[int] = []

        def checkpoint_a_while() -> None:
            with Checkpointer(store.path, lock, interval=0.01, frames=100) as checkpoints:
                time.sleep(0.1)  # it is waiting for the lock by now
            restarts.append(checkpoints.restarts)

        thread = threading.Thread(target=checkpoint_a_while, daemon=True)
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive(), "leaving the Checkpointer waited for the lock"
        assert restarts == [0]


def test_a_checkpointer_that_cannot_open_the_database_says_so(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError), Checkpointer(tmp_path, threading.Lock()):
        pass  # tmp_path is a folder, not a database

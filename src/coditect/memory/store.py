"""The memory store: one SQLite database in WAL mode at ``.coditect/memory.db``.

Writes come in batches (``write``): one transaction looks up which keys exist (one
query per few thousand keys, never one per record), inserts the new messages, merges
new parts into existing responses, and records the file offsets reached, so a crash
loses at most the batch in flight and the next import resumes after the last one.
Everything written has been redacted before it gets here.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from coditect.errors import ConflictError, NotFoundError, StateCorruptedError
from coditect.memory import fts
from coditect.memory.dedup import Message, Part, Usage, best_usage, render_text, tool_names
from coditect.memory.migrations import migrate

if TYPE_CHECKING:
    from coditect.memory.privacy import Finding
    from coditect.paths import ProjectPaths

__all__ = [
    "BackgroundWriter",
    "Batch",
    "Checkpointer",
    "FileState",
    "MemoryStore",
    "OtherRecord",
    "SessionInfo",
    "WriteResult",
]

_CHUNK = 2000
"""Keys per ``IN (...)`` lookup."""

_MESSAGE_COLUMNS = (
    "key, session_id, uuid, parent_uuid, role, ts, model, sidechain, agent_id, meta, tools, "
    "text, content, parts"
)
_USAGE_COLUMNS = (
    "input_tokens, output_tokens, cache_write_tokens, cache_write_1h_tokens, "
    "cache_read_tokens, sidechain"
)


@dataclass(slots=True)
class OtherRecord:
    """A record that is not a message (a snapshot, a queue operation, an unknown type),
    kept as it was after redaction."""

    key: bytes
    session_id: str | None
    type: str
    ts: str | None
    raw: bytes
    findings: list[Finding] = field(default_factory=list)


@dataclass(slots=True)
class SessionInfo:
    """What a batch learnt about one session."""

    source: str
    project: str = ""
    title: str = ""
    summary: str = ""
    version: str = ""
    git_branch: str = ""
    first_at: str | None = None
    last_at: str | None = None

    def seen(self, ts: str | None) -> None:
        if ts is None:
            return
        if self.first_at is None or ts < self.first_at:
            self.first_at = ts
        if self.last_at is None or ts > self.last_at:
            self.last_at = ts


@dataclass(frozen=True, slots=True)
class FileState:
    """How far a file was imported, and what identifies it (to see replacement)."""

    path_key: bytes
    path: str
    kind: str
    dev: int
    ino: int
    size: int
    """-1 while an import of the file is under way: the next import resumes it."""
    mtime_ns: int
    head_len: int
    head_hash: bytes
    offset: int
    lines: int


@dataclass(slots=True)
class Batch:
    """Messages (merged within the batch), other records, session facts, and the state
    each file it holds records of reached: written together, in one transaction."""

    messages: dict[bytes, Message] = field(default_factory=dict)
    records: dict[bytes, OtherRecord] = field(default_factory=dict)
    sessions: dict[str, SessionInfo] = field(default_factory=dict)
    files: dict[bytes, FileState] = field(default_factory=dict)
    duplicates: int = 0
    size: int = 0  # records
    bytes: int = 0  # of their lines

    def add(self, message: Message) -> None:
        self.size += 1
        present = self.messages.get(message.key)
        if present is None:
            self.messages[message.key] = message
        elif present.mergeable:
            self.duplicates += present.absorb(message)
        else:
            self.duplicates += 1

    def add_record(self, record: OtherRecord) -> None:
        self.size += 1
        if record.key in self.records:
            self.duplicates += 1
        else:
            self.records[record.key] = record


@dataclass(slots=True)
class WriteResult:
    added: int = 0
    merged: int = 0
    duplicates: int = 0
    records_added: int = 0
    redactions: int = 0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _usage_row(
    message: Message, usage: Usage | None, ts: str | None, model: str | None
) -> tuple[Any, ...] | None:
    if usage is None:
        return None
    return (
        message.key,
        message.session_id,
        ts,
        model,
        usage.input,
        usage.output,
        usage.cache_write,
        usage.cache_write_1h,
        usage.cache_read,
        int(usage.sidechain),
    )


def _finding_rows(
    session: str | None, key: bytes, findings: Iterable[Finding]
) -> list[tuple[Any, ...]]:
    return [(session, key, f.type, f.rule, f.path, f.offset, f.length) for f in findings]


class MemoryStore:
    """The memory database of one project (or any path, for tests and benchmarks)."""

    fts_shard_rows = fts.SHARD_ROWS
    """Message ids a full-text shard spans before a new one starts (smaller in tests)."""

    def __init__(
        self,
        path: Path,
        write_lock: AbstractContextManager[Any] | None = None,
        *,
        autocheckpoint: bool = True,
    ) -> None:
        """``write_lock``: what the processes writing together take around each write.
        ``autocheckpoint=False``: this connection's commits never copy the WAL into the
        database; a ``Checkpointer`` does."""
        self.path = path
        self._write_lock = write_lock if write_lock is not None else nullcontext()
        self._reader: sqlite3.Connection | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._configure()
            if not autocheckpoint:
                self.conn.execute("PRAGMA wal_autocheckpoint = 0")
            migrate(self.conn)
        except sqlite3.DatabaseError as exc:
            raise StateCorruptedError(
                f"the memory database {path} cannot be opened: {exc}",
                "Move the file away and import the transcripts again.",
            ) from exc

    @classmethod
    def for_project(cls, project: ProjectPaths) -> MemoryStore:
        return cls(project.dir / "memory.db")

    def _configure(self) -> None:
        for pragma in (
            "journal_mode = WAL",
            "synchronous = NORMAL",
            "journal_size_limit = 67108864",
            "busy_timeout = 30000",
            "temp_store = MEMORY",
            "cache_size = -65536",
            "foreign_keys = OFF",
        ):
            self.conn.execute(f"PRAGMA {pragma}")

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self.conn.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``), inside the
        ``write_lock`` the store was given: processes that write together hand the
        database over at once through it, where SQLite's busy handler sleeps and polls."""
        with self._write_lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # --- lookups -------------------------------------------------------------------

    def _existing(self, table: str, columns: str, keys: Sequence[bytes]) -> dict[bytes, Any]:
        found: dict[bytes, Any] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, {columns} FROM {table} WHERE key IN ({marks})"
            for row in self.conn.execute(query, chunk):
                found[row[0]] = row
        return found

    def file_state(self, path_key: bytes) -> FileState | None:
        """How far the file was imported (read on a connection of its own, so that the
        importer can ask while a ``BackgroundWriter`` writes)."""
        if self._reader is None:
            self._reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        row = self._reader.execute(
            "SELECT path_key, path, kind, dev, ino, size, mtime_ns, head_len, head_hash, "
            '"offset", lines FROM files WHERE path_key = ?',
            (path_key,),
        ).fetchone()
        return None if row is None else FileState(*row)

    def file_states(self) -> dict[bytes, FileState]:
        """How far every known file was imported, by path key (one query)."""
        rows = self.conn.execute(
            "SELECT path_key, path, kind, dev, ino, size, mtime_ns, head_len, head_hash, "
            '"offset", lines FROM files'
        )
        return {row[0]: FileState(*row) for row in rows}

    def forgotten(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT session_id FROM forgotten")}

    def counters(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT name, value FROM counters").fetchall())

    # --- writing -------------------------------------------------------------------

    def write(self, batch: Batch, counters: dict[str, int] | None = None) -> WriteResult:
        """Store ``batch`` in one transaction; duplicates of stored items are dropped."""
        result = WriteResult(duplicates=batch.duplicates)  # copies within the batch
        messages = list(batch.messages.values())
        # Rows are built before the transaction: while it runs, other writers wait.
        rows = {m.key: self._insert_row(m) for m in messages}
        with self.transaction():
            audit = self._write_messages(messages, rows, result)
            audit += self._write_records(list(batch.records.values()), result)
            self.conn.executemany(
                "INSERT INTO redactions (session_id, item_key, type, rule, path, "
                '"offset", length) VALUES (?, ?, ?, ?, ?, ?, ?)',
                audit,
            )
            result.redactions = len(audit)
            self._write_sessions(batch.sessions)
            for state in batch.files.values():
                self._write_file(state)
            totals = {"duplicates": result.duplicates, "merged": result.merged}
            for name, value in {**totals, **(counters or {})}.items():
                if value:
                    self.conn.execute(
                        "INSERT INTO counters (name, value) VALUES (?, ?) "
                        "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                        (name, value),
                    )
        return result

    def _write_messages(
        self, messages: list[Message], rows: dict[bytes, tuple[Any, ...]], result: WriteResult
    ) -> list[tuple[Any, ...]]:
        existing = self._existing(
            "messages", "id, parts, content, ts, model", [m.key for m in messages]
        )
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        usage: list[tuple[Any, ...] | None] = []
        audit: list[tuple[Any, ...]] = []
        merging = [m for m in messages if m.mergeable and m.key in existing]
        stored = self._existing("usage", _USAGE_COLUMNS, [m.key for m in merging])
        for message in messages:
            row = existing.get(message.key)
            if row is None:
                inserts.append(rows[message.key])
                usage.append(_usage_row(message, message.usage(), message.ts, message.model))
                result.merged += len(message.parts) - 1
                for part in message.parts:
                    audit += _finding_rows(message.session_id, message.key, part.findings)
            elif not message.mergeable:
                result.duplicates += len(message.parts)
            else:
                known = set(row[2].split())
                new = [part for part in message.parts if part.uuid not in known]
                result.duplicates += len(message.parts) - len(new)
                if new:
                    result.merged += len(new)
                    updates.append(self._merge(message, row, new))
                    # Its time and model are the stored message's, whichever batch holds
                    # the rest, so that where an import stopped changes nothing.
                    tokens = self._usage(stored.get(message.key), new)
                    usage.append(_usage_row(message, tokens, row[4], row[5]))
                    for part in new:
                        audit += _finding_rows(message.session_id, message.key, part.findings)
        if inserts:
            self._insert_messages(inserts)
        self.conn.executemany(
            "UPDATE messages SET content = ?, text = ?, tools = ?, parts = ? WHERE id = ?", updates
        )
        self.conn.executemany(
            f"INSERT OR REPLACE INTO usage (key, session_id, ts, model, {_USAGE_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row for row in usage if row is not None],
        )
        result.added += len(inserts)
        return audit

    def _insert_messages(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert message rows and index them for full-text search in one statement."""
        last = self.conn.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]
        self.conn.executemany(
            f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES ({','.join('?' * 14)})", rows
        )
        fts.index(self.conn, last, self.fts_shard_rows)

    @staticmethod
    def _insert_row(message: Message) -> tuple[Any, ...]:
        blocks = message.blocks()
        return (
            message.key,
            message.session_id,
            message.uuid,
            message.parent_uuid,
            message.role,
            message.ts,
            message.model,
            int(message.sidechain),
            message.agent_id,
            int(message.meta),
            tool_names(blocks, message.tool_names),
            render_text(blocks),
            orjson.dumps(blocks).decode(),
            " ".join(part.uuid for part in message.parts),
        )

    @staticmethod
    def _usage(stored: Any, new: list[Part]) -> Usage | None:
        """The response's usage once ``new`` parts join the ``stored`` usage row."""
        if stored is None:
            return best_usage(*(part.usage for part in new))
        _, tokens_in, tokens_out, write, write_1h, read, side = stored
        before = Usage(tokens_in, tokens_out, write, write_1h, read, sidechain=bool(side))
        return best_usage(before, *(part.usage for part in new))

    @staticmethod
    def _merge(message: Message, row: Any, new: list[Part]) -> tuple[Any, ...]:
        """The update that appends the ``new`` parts' blocks to the stored message ``row``."""
        blocks = orjson.loads(row[3]) + [block for part in new for block in part.blocks]
        return (
            orjson.dumps(blocks).decode(),
            render_text(blocks),
            tool_names(blocks, message.tool_names),
            " ".join([row[2], *(part.uuid for part in new)]).strip(),
            row[1],
        )

    def _write_records(
        self, records: list[OtherRecord], result: WriteResult
    ) -> list[tuple[Any, ...]]:
        existing = self._existing("records", "id", [r.key for r in records])
        new = [r for r in records if r.key not in existing]
        result.duplicates += len(records) - len(new)
        self.conn.executemany(
            "INSERT INTO records (key, session_id, type, ts, raw) VALUES (?, ?, ?, ?, ?)",
            [(r.key, r.session_id, r.type, r.ts, r.raw.decode()) for r in new],
        )
        result.records_added += len(new)
        return [row for r in new for row in _finding_rows(r.session_id, r.key, r.findings)]

    def _write_sessions(self, sessions: dict[str, SessionInfo]) -> None:
        now = _now()
        self.conn.executemany(
            "INSERT INTO sessions (id, source, project, title, summary, version, git_branch, "
            "first_at, last_at, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET "
            "project = iif(project = '', excluded.project, project), "
            "title = iif(title = '', excluded.title, title), "
            "summary = iif(excluded.summary = '', summary, excluded.summary), "
            "version = iif(excluded.version = '', version, excluded.version), "
            "git_branch = iif(excluded.git_branch = '', git_branch, excluded.git_branch), "
            "first_at = coalesce(min(first_at, excluded.first_at), first_at, excluded.first_at), "
            "last_at = coalesce(max(last_at, excluded.last_at), last_at, excluded.last_at), "
            "imported_at = excluded.imported_at",
            [
                (
                    sid,
                    s.source,
                    s.project,
                    s.title,
                    s.summary,
                    s.version,
                    s.git_branch,
                    s.first_at,
                    s.last_at,
                    now,
                )
                for sid, s in sessions.items()
            ],
        )

    def _write_file(self, state: FileState) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO files (path_key, path, kind, dev, ino, size, mtime_ns, "
            'head_len, head_hash, "offset", lines, imported_at) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                state.path_key,
                state.path,
                state.kind,
                state.dev,
                state.ino,
                state.size,
                state.mtime_ns,
                state.head_len,
                state.head_hash,
                state.offset,
                state.lines,
                _now(),
            ),
        )

    def unforget_all(self) -> int:
        with self.transaction():
            return self.conn.execute("DELETE FROM forgotten").rowcount

    # --- sessions ------------------------------------------------------------------

    def resolve_session(self, text: str) -> str:
        """The session whose id is ``text`` or starts with it."""
        if self.conn.execute("SELECT 1 FROM sessions WHERE id = ?", (text,)).fetchone():
            return text
        pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches: list[str] = [
            row[0]
            for row in self.conn.execute(
                "SELECT id FROM sessions WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 6",
                (pattern,),
            )
        ]
        if not matches or not text:
            raise NotFoundError(
                f"no session {text!r} in memory",
                "Run `coditect memory sessions` to see the sessions.",
            )
        if len(matches) > 1:
            raise ConflictError(
                f"{text!r} matches several sessions: {', '.join(matches[:5])}",
                "Give more of the session id.",
            )
        return matches[0]

    def _delete_sessions(self, sessions: list[str]) -> int:
        deleted = 0
        for start in range(0, len(sessions), 500):
            chunk = sessions[start : start + 500]
            marks = ",".join("?" * len(chunk))
            deleted += self.conn.execute(
                f"DELETE FROM messages WHERE session_id IN ({marks})", chunk
            ).rowcount
            for table in ("usage", "records", "redactions"):
                self.conn.execute(f"DELETE FROM {table} WHERE session_id IN ({marks})", chunk)
            self.conn.execute(f"DELETE FROM sessions WHERE id IN ({marks})", chunk)
        return deleted

    def forget(self, session: str) -> int:
        """Delete ``session`` and remember it as forgotten; return the messages deleted."""
        with self.transaction():
            deleted = self._delete_sessions([session])
            self.conn.execute(
                "INSERT OR REPLACE INTO forgotten (session_id, at) VALUES (?, ?)",
                (session, _now()),
            )
        return deleted

    def prune(self, older_than_days: float, now: datetime | None = None) -> tuple[int, int]:
        """Delete sessions whose last message is older than the cutoff: (sessions, messages)."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
        stamp = cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self.transaction():
            old = [
                row[0]
                for row in self.conn.execute("SELECT id FROM sessions WHERE last_at < ?", (stamp,))
            ]
            return len(old), self._delete_sessions(old)


class Lock(Protocol):
    """A lock that can be waited for with a timeout (threading's and multiprocessing's)."""

    def acquire(self, block: bool, timeout: float, /) -> bool: ...

    def release(self) -> None: ...


class Checkpointer:
    """Copies the WAL into the database, on a thread of its own, while other processes
    write with ``autocheckpoint=False``: a commit that checkpoints copies pages and waits
    for the disk (fsync) while it holds the write lock that the other writers wait for.

    Every ``interval`` seconds a PASSIVE checkpoint copies what has been committed, beside
    the writers. The WAL only starts over from its beginning when a writer finds every
    frame copied, which writers that follow each other closely never do; so once it
    holds more than ``frames`` frames, one more checkpoint runs under ``write_lock``
    (short: it copies only what came since the last) and the next writer starts the WAL
    over. An error is raised on leaving the ``with`` block, which also stops a wait for
    the lock (a writer that died holding it never gives it back)."""

    def __init__(
        self,
        path: Path,
        write_lock: Lock,
        *,
        interval: float = 0.1,
        frames: int = 8192,
    ) -> None:
        self._path = path
        self._write_lock = write_lock
        self._interval = interval
        self._frames = frames
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="memory-checkpoints", daemon=True)
        self.restarts = 0
        """Checkpoints under the lock: each let the next writer start the WAL over."""

    def __enter__(self) -> Checkpointer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc
            return
        try:
            last = 0  # the WAL's frames at the last checkpoint under the lock
            while not self._stop.wait(self._interval):
                _, log, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                # log == last: nothing written since; the next writer starts the WAL over
                if log > self._frames and log != last and self._under_lock(conn):
                    self.restarts += 1
                    last = log
        except BaseException as exc:
            self._error = exc
        finally:
            conn.close()

    def _under_lock(self, conn: sqlite3.Connection) -> bool:
        """One checkpoint under the write lock; False if stopped while waiting for it."""
        while not self._write_lock.acquire(True, self._interval):
            if self._stop.is_set():
                return False
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            self._write_lock.release()
        return True


class BackgroundWriter:
    """Writes batches on a thread of its own, so that reading, parsing and redacting (on
    the caller's thread) overlap with SQLite's work, which runs without the GIL. At most
    ``depth`` batches wait; an error in the writer is raised by the next ``put`` or by
    ``close``."""

    def __init__(
        self, store: MemoryStore, on_result: Callable[[WriteResult], None], depth: int = 1
    ) -> None:
        self._store = store
        self._on_result = on_result
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="memory-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._on_result(self._store.write(batch))
                except BaseException as exc:  # handed to the caller's thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def put(self, batch: Batch) -> None:
        self._raise()
        self._queue.put(batch)

    def close(self) -> None:
        """Wait for every batch to be written."""
        self._queue.put(None)
        self._thread.join()
        self._raise()

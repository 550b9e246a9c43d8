"""The memory store's schema, as named migrations applied in order and recorded in a table.

Each migration is ``(name, sql)``. ``migrate`` applies the ones not yet recorded in
``schema_migrations``, each in its own transaction together with its record, so a
failed migration leaves the database as it was and running ``migrate`` twice is a no-op.
New migrations are appended; an applied migration is never edited.

Keys are 16-byte BLAKE2b digests: a message's identity (``dedup.message_key``), a
record's, a file's path. Timestamps are ISO 8601 UTC text ending in ``Z``, which sorts.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from coditect.memory.pattern_schema import PATTERNS_MIGRATION

__all__ = ["MIGRATIONS", "migrate"]

_INITIAL = """
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,              -- 'claude-code' (JSONL) or 'export' (/export text)
    project     TEXT NOT NULL DEFAULT '',   -- the working folder, redacted
    title       TEXT NOT NULL DEFAULT '',   -- the first prompt, shortened
    summary     TEXT NOT NULL DEFAULT '',   -- Claude Code's own summary, when it wrote one
    version     TEXT NOT NULL DEFAULT '',
    git_branch  TEXT NOT NULL DEFAULT '',
    first_at    TEXT,
    last_at     TEXT,
    imported_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE messages (
    id                    INTEGER PRIMARY KEY,
    key                   BLOB NOT NULL UNIQUE,
    session_id            TEXT NOT NULL,
    uuid                  TEXT,
    parent_uuid           TEXT,
    role                  TEXT NOT NULL,     -- user, assistant, tool, system, summary
    ts                    TEXT,
    model                 TEXT,
    sidechain             INTEGER NOT NULL DEFAULT 0,
    agent_id              TEXT,
    meta                  INTEGER NOT NULL DEFAULT 0,
    tools                 TEXT NOT NULL DEFAULT '',  -- ' Bash Read ': tool names, space-framed
    text                  TEXT NOT NULL,             -- what full-text search indexes
    content               TEXT NOT NULL,             -- JSON array of content blocks, redacted
    parts                 TEXT NOT NULL DEFAULT ''   -- uuids of the records merged into it
);
CREATE INDEX messages_session ON messages (session_id, ts);
CREATE INDEX messages_ts ON messages (ts);

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE TABLE usage (                      -- one row per API response: tokens counted once
    key                   BLOB PRIMARY KEY,  -- the message's key
    session_id            TEXT NOT NULL,
    ts                    TEXT,
    model                 TEXT,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_write_tokens    INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    sidechain             INTEGER NOT NULL   -- the usage came from a sidechain record
) WITHOUT ROWID;
CREATE INDEX usage_session ON usage (session_id);

CREATE TABLE records (
    id         INTEGER PRIMARY KEY,
    key        BLOB NOT NULL UNIQUE,
    session_id TEXT,
    type       TEXT NOT NULL,
    ts         TEXT,
    raw        TEXT NOT NULL                  -- the record as JSON, redacted
);
CREATE INDEX records_session ON records (session_id);

CREATE TABLE redactions (
    id         INTEGER PRIMARY KEY,
    session_id TEXT,
    item_key   BLOB NOT NULL,                 -- the key of the message or record
    type       TEXT NOT NULL,
    rule       TEXT NOT NULL,
    path       TEXT NOT NULL,
    "offset"   INTEGER NOT NULL,
    length     INTEGER NOT NULL
);
CREATE INDEX redactions_session ON redactions (session_id);

CREATE TABLE files (
    path_key    BLOB PRIMARY KEY,
    path        TEXT NOT NULL,                -- redacted, for people to read
    kind        TEXT NOT NULL,                -- 'jsonl' or 'export'
    dev         INTEGER NOT NULL,
    ino         INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    head_len    INTEGER NOT NULL,
    head_hash   BLOB NOT NULL,
    "offset"    INTEGER NOT NULL,             -- bytes consumed: the end of the last whole line
    lines       INTEGER NOT NULL,             -- lines consumed
    imported_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE forgotten (
    session_id TEXT PRIMARY KEY,
    at         TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

_BULK_FTS = """
-- New messages are indexed by MemoryStore.write, one INSERT ... SELECT per batch:
-- a trigger per row cost three times as much at import (docs/benchmarks.md).
DROP TRIGGER messages_fts_insert;
"""

_FTS_SHARDS = """
-- The full-text index is split into shards of consecutive message ids (fts.py); the
-- index so far is the first.
CREATE TABLE fts_shards (
    name     TEXT PRIMARY KEY,             -- the FTS5 table
    first_id INTEGER NOT NULL UNIQUE       -- the lowest message id it holds
);
INSERT INTO fts_shards (name, first_id) VALUES ('messages_fts', 1);
"""

MIGRATIONS: list[tuple[str, str]] = [
    ("0001_initial", _INITIAL),
    ("0002_patterns", PATTERNS_MIGRATION),
    ("0003_bulk_fts_insert", _BULK_FTS),
    ("0004_fts_shards", _FTS_SHARDS),
]
"""Every migration, in the order it is applied."""


def _statements(sql: str) -> list[str]:
    """``sql`` split into whole statements (a trigger's body keeps its semicolons)."""
    statements: list[str] = []
    current = ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n;"):
                statements.append(current.strip())
            current = ""
    return statements


def migrate(conn: sqlite3.Connection, migrations: list[tuple[str, str]] = MIGRATIONS) -> list[str]:
    """Apply the ``migrations`` ``conn`` lacks; return their names. ``conn`` is in
    autocommit mode (``isolation_level=None``)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
    )
    applied: list[str] = []
    for name, sql in migrations:
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,))
            if done.fetchone() is None:
                for statement in _statements(sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, datetime.now(UTC).isoformat()),
                )
                applied.append(name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied

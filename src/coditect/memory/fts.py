"""The full-text index of messages, in shards of consecutive message ids.

FTS5's ``bm25()`` counts, on every query, every message that holds each searched term
or phrase (for its IDF), so one index over a million messages spends most of a query
on that count (docs/benchmarks.md#memory). The index is therefore split: once the
newest shard spans ``SHARD_ROWS`` message ids, the next batch of messages starts a new
one. A search ranks only the newest matches, which sit in one or two shards, and each
shard's BM25 counts only its own messages. Every shard is an external-content FTS5
table over ``messages`` with the same tokenizer; ``fts_shards`` lists them with the
first message id each holds, and each has triggers, limited to its ids, that keep it
up to date when a message is deleted or its text changes.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

__all__ = ["SHARD_ROWS", "TOKENIZER", "Shard", "index", "shards", "start_shard"]

SHARD_ROWS = 2**18
"""Message ids a shard spans before the next batch starts a new one."""
TOKENIZER = "porter unicode61 remove_diacritics 2"
"""Every shard's tokenizer (and the snippet index's), as in migration 0001."""


class Shard(NamedTuple):
    """One FTS5 table and the message ids it holds: ``first <= id < end``."""

    name: str
    first: int
    end: int | None  # None: the newest shard, open-ended


def shards(conn: sqlite3.Connection) -> list[Shard]:
    """Every shard, the newest first."""
    rows = conn.execute("SELECT name, first_id FROM fts_shards ORDER BY first_id DESC").fetchall()
    out: list[Shard] = []
    end: int | None = None
    for name, first in rows:
        out.append(Shard(name, first, end))
        end = first
    return out


def index(conn: sqlite3.Connection, after: int, shard_rows: int = SHARD_ROWS) -> None:
    """Index the messages with ids above ``after`` (just inserted, in the transaction
    ``conn`` is in), first starting a new shard if the newest one is full."""
    newest = shards(conn)[0]
    if after + 1 - newest.first >= shard_rows:
        start_shard(conn, after + 1)
    for shard in shards(conn):
        if shard.end is not None and shard.end <= after + 1:
            break  # this shard and the older ones hold only older ids
        bound = "" if shard.end is None else f" AND id < {shard.end:d}"
        conn.execute(
            f"INSERT INTO {shard.name} (rowid, text) SELECT id, text FROM messages "
            f"WHERE id > ? AND id >= ?{bound}",
            (after, shard.first),
        )


def start_shard(conn: sqlite3.Connection, first: int) -> Shard:
    """A new, empty newest shard for message ids from ``first`` on (in the caller's
    transaction); the previous newest shard's triggers stop below ``first``."""
    previous = shards(conn)[0]
    if first <= previous.first:
        raise ValueError(f"a new shard must start after {previous.first}, not at {first}")
    name = f"messages_fts_{first:d}"
    conn.execute(
        f"CREATE VIRTUAL TABLE {name} USING fts5 (text, content = 'messages', "
        f"content_rowid = 'id', tokenize = '{TOKENIZER}')"
    )
    conn.execute("INSERT INTO fts_shards (name, first_id) VALUES (?, ?)", (name, first))
    _triggers(conn, previous.name, previous.first, first)
    _triggers(conn, name, first, None)
    return Shard(name, first, None)


def _triggers(conn: sqlite3.Connection, name: str, first: int, end: int | None) -> None:
    when = f"old.id >= {first:d}" + ("" if end is None else f" AND old.id < {end:d}")
    delete = f"INSERT INTO {name} ({name}, rowid, text) VALUES ('delete', old.id, old.text);"
    for event, action, body in (
        ("delete", "DELETE", delete),
        (
            "update",
            "UPDATE OF text",
            delete + f" INSERT INTO {name} (rowid, text) VALUES (new.id, new.text);",
        ),
    ):
        conn.execute(f"DROP TRIGGER IF EXISTS {name}_{event}")
        conn.execute(
            f"CREATE TRIGGER {name}_{event} AFTER {action} ON messages WHEN {when} BEGIN {body} END"
        )

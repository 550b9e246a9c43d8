"""Patterns ("nested learning"): what the stored sessions show about how work gets done.

Five kinds, all found deterministically in the stored (redacted) messages:

``commands``   shell commands by signature (``pytest``, ``git commit``), with how often
               they succeeded; ``example`` is the latest successful command as written.
``files``      files by path (relative to the session's project), with reads, edits, writes.
``errors``     a failing call and what fixed it: a similar call that succeeded within the
               next few calls, and the files edited in between.
``decisions``  sentences of assistant prose that record a choice.
``workflows``  recurring 3-step sequences of tools (``Read → Edit → Bash(test)``).

Confidence, in [0, 1]: for commands and files the lower bound of the 95% Wilson interval
of the success rate (so it grows with support: 1 of 1 → 0.21, 9 of 10 → 0.60, 90 of 100
→ 0.83); for errors the same bound of the share of occurrences that were fixed; for
workflows the same bound of how often the first two steps went on to the third; for
decisions the strength of the rule that found the sentence (0.6 to 0.9).

``refresh_patterns`` brings the patterns up to date: it reads only the messages added
since the last refresh (plus those updated or deleted, which triggers note), in chunks of
``CHUNK`` messages, each in its own transaction, then recounts the ``patterns`` table
with SQL aggregation. Reading functions refresh first, so patterns never lag the store.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING, Any

import orjson

from coditect.errors import ValidationError
from coditect.memory.pattern_derive import Call, Derived, derive, sequence_events

if TYPE_CHECKING:
    from coditect.memory.store import MemoryStore

__all__ = [
    "PATTERN_TYPES",
    "Pattern",
    "RefreshReport",
    "list_patterns",
    "recent_decisions",
    "refresh_patterns",
    "wilson_lower",
]

PATTERN_TYPES = ("commands", "files", "errors", "decisions", "workflows")
EXTRACTOR_VERSION = 1
"""Raised when the extraction rules change: derived rows are then rebuilt from scratch."""
CHUNK = 20_000
"""Messages read per transaction on refresh."""
_ORDER = {
    "decisions": "last_seen DESC, frequency DESC, key",
    "errors": "frequency DESC, last_seen DESC, key",
}
_DEFAULT_ORDER = "frequency DESC, confidence DESC, key"


def wilson_lower(successes: float | None, total: float | None, z: float = 1.96) -> float:
    """The lower bound of the Wilson score interval of ``successes / total``."""
    if not total or successes is None:
        return 0.0
    p = successes / total
    denominator = 1 + z * z / total
    centre = p + z * z / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return round(max(0.0, (centre - margin) / denominator), 4)


@dataclass(frozen=True, slots=True)
class Pattern:
    """One pattern; ``detail`` holds what its type knows beyond the common fields."""

    type: str
    key: str
    label: str
    frequency: int
    sessions: int
    successes: int
    failures: int
    confidence: float
    first_seen: str | None
    last_seen: str | None
    example: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class RefreshReport:
    """What a refresh read and rebuilt."""

    messages: int = 0
    calls: int = 0
    sessions: int = 0
    rebuilt: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- refresh ---------------------------------------------------------------------------


def _state(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT value FROM pattern_state WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def _set_state(conn: sqlite3.Connection, name: str, value: int) -> None:
    conn.execute(
        "INSERT INTO pattern_state (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def _store(conn: sqlite3.Connection, derived: Derived) -> None:
    conn.executemany(
        "INSERT INTO pattern_calls (message_id, block, session_id, thread, ts, call_id, tool, "
        "kind, key, step, arg, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        derived.calls,
    )
    conn.executemany(
        "INSERT INTO pattern_results (message_id, call_id, status, error) VALUES (?, ?, ?, ?)",
        derived.results,
    )
    conn.executemany(
        "INSERT INTO pattern_events (session_id, message_id, type, key, label, ts, outcome, "
        "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        derived.events,
    )
    conn.executemany(
        "INSERT OR IGNORE INTO pattern_touched (session_id) VALUES (?)",
        [(s,) for s in derived.sessions],
    )
    if not _state(conn, "full"):
        keys = {(_TYPE_OF[c[7]], c[8]) for c in derived.calls if c[7] in _TYPE_OF}
        keys |= {(e[2], e[3]) for e in derived.events}
        conn.executemany("INSERT OR IGNORE INTO pattern_affected (type, key) VALUES (?, ?)", keys)


_TYPE_OF = {"command": "commands", "file": "files"}


def _mark(conn: sqlite3.Connection, table: str, where: str, params: Sequence[Any] = ()) -> None:
    """Note the patterns that rows of ``table`` matching ``where`` count in, before they
    change; nothing to note while every pattern is to be recounted anyway."""
    if _state(conn, "full"):
        return
    if table == "pattern_calls":
        select = (
            "SELECT iif(kind = 'command', 'commands', 'files'), key FROM pattern_calls "
            f"WHERE kind IN ('command', 'file') AND {where}"
        )
    else:
        select = f"SELECT type, key FROM pattern_events WHERE {where}"
    conn.execute(f"INSERT OR IGNORE INTO pattern_affected (type, key) {select}", params)


def _reset(conn: sqlite3.Connection) -> None:
    """Forget every derived row: the next steps read all messages again."""
    for table in (
        "pattern_calls",
        "pattern_results",
        "pattern_events",
        "pattern_dirty",
        "pattern_touched",
        "pattern_affected",
        "patterns",
    ):
        conn.execute(f"DELETE FROM {table}")
    _set_state(conn, "full", 1)
    _set_state(conn, "message_id", 0)
    _set_state(conn, "version", EXTRACTOR_VERSION)
    _set_state(conn, "stale", 1)


def _clean_dirty(conn: sqlite3.Connection, high: int, report: RefreshReport) -> None:
    """Re-read the messages updated or deleted since they were read."""
    where = "SELECT message_id FROM pattern_dirty WHERE message_id <= ?"
    conn.execute(
        "INSERT OR IGNORE INTO pattern_touched (session_id) "
        "SELECT DISTINCT session_id FROM pattern_dirty WHERE message_id <= ?",
        (high,),
    )
    _mark(conn, "pattern_calls", f"message_id IN ({where})", (high,))
    _mark(conn, "pattern_events", f"message_id IN ({where})", (high,))
    for table in ("pattern_calls", "pattern_results", "pattern_events"):
        conn.execute(f"DELETE FROM {table} WHERE message_id IN ({where})", (high,))
    derived = derive(conn, 0, high, dirty=True)
    _store(conn, derived)
    report.calls += len(derived.calls)
    report.messages += conn.execute("DELETE FROM pattern_dirty").rowcount


def _read_new(store: MemoryStore, report: RefreshReport) -> None:
    """Read the updated, deleted and new messages, a chunk per transaction; the mark is
    read again in each, so two processes refreshing at once never read a chunk twice."""
    conn = store.conn
    top_sql = "SELECT coalesce(max(id), 0) FROM messages"
    with store.transaction():
        if _state(conn, "version") != EXTRACTOR_VERSION:
            _reset(conn)
        mark = _state(conn, "message_id")
        if conn.execute("SELECT 1 FROM pattern_dirty LIMIT 1").fetchone():
            _clean_dirty(conn, mark, report)
            _set_state(conn, "stale", 1)
        top = conn.execute(top_sql).fetchone()[0]
        if top < mark:  # the newest messages were deleted: their ids will be given again
            _set_state(conn, "message_id", top)
    while True:
        with store.transaction():
            mark = _state(conn, "message_id")
            high = min(mark + CHUNK, conn.execute(top_sql).fetchone()[0])
            if high <= mark:
                return
            derived = derive(conn, mark, high)
            _store(conn, derived)
            report.calls += len(derived.calls)
            report.messages += conn.execute(
                "SELECT count(*) FROM messages WHERE id > ? AND id <= ?", (mark, high)
            ).fetchone()[0]
            _set_state(conn, "message_id", high)
            _set_state(conn, "stale", 1)


def _resolve(conn: sqlite3.Connection) -> None:
    """Give calls whose result came in another message that result's outcome (a result
    comes in the session of its call, so only touched sessions can have news)."""
    waiting = (
        "status = 'unknown' AND session_id IN (SELECT session_id FROM pattern_touched) "
        "AND call_id IN (SELECT call_id FROM pattern_results)"
    )
    _mark(conn, "pattern_calls", waiting)
    conn.execute(
        "UPDATE pattern_calls SET (status, error) = ("
        "  SELECT r.status, r.error FROM pattern_results AS r"
        "  WHERE r.call_id = pattern_calls.call_id ORDER BY r.id LIMIT 1) "
        "WHERE status = 'unknown' AND session_id IN (SELECT session_id FROM pattern_touched) "
        "AND call_id IN (SELECT call_id FROM pattern_results)"
    )


def _sequences(conn: sqlite3.Connection) -> int:
    """Recompute the error and workflow events of every touched session."""
    touched = "SELECT session_id FROM pattern_touched"
    mine = f"message_id IS NULL AND session_id IN ({touched})"
    _mark(conn, "pattern_events", mine)
    conn.execute(f"DELETE FROM pattern_events WHERE {mine}")
    rows = conn.execute(
        "SELECT session_id, thread, ts, tool, kind, key, step, arg, status, error "
        f"FROM pattern_calls WHERE session_id IN ({touched}) "
        "ORDER BY session_id, thread, coalesce(ts, ''), message_id, block"
    )
    calls = (Call(*row) for row in rows)
    events: list[tuple[Any, ...]] = []
    for _, thread in groupby(calls, key=lambda c: (c.session_id, c.thread)):
        events += sequence_events(list(thread))
    conn.executemany(
        "INSERT INTO pattern_events (session_id, message_id, type, key, label, ts, outcome, "
        "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        events,
    )
    _mark(conn, "pattern_events", mine)
    return conn.execute("DELETE FROM pattern_touched").rowcount


def refresh_patterns(store: MemoryStore, *, rebuild: bool = False) -> RefreshReport:
    """Bring the patterns up to date with the messages in ``store``; ``rebuild`` reads
    every message again."""
    started = time.perf_counter()
    report = RefreshReport()
    conn = store.conn
    if rebuild:
        with store.transaction():
            _reset(conn)
    _read_new(store, report)
    if _state(conn, "stale") or conn.execute("SELECT 1 FROM pattern_touched LIMIT 1").fetchone():
        with store.transaction():
            _resolve(conn)
            report.sessions = _sequences(conn)
            _aggregate(conn, full=bool(_state(conn, "full")))
            _set_state(conn, "stale", 0)
            _set_state(conn, "full", 0)
        report.rebuilt = True
    report.seconds = round(time.perf_counter() - started, 3)
    return report


# --- aggregation -------------------------------------------------------------------------

_INSERT = (
    "INSERT INTO patterns (type, key, label, frequency, sessions, successes, failures, "
    "confidence, first_seen, last_seen, example, detail) "
)
_AGGREGATES = (
    _INSERT
    + """
SELECT 'commands', key, key, count(*), count(DISTINCT session_id), sum(status = 'ok'),
    sum(status = 'error'), wilson(sum(status = 'ok'), sum(status IN ('ok', 'error'))),
    min(ts), max(ts),
    (SELECT x.arg FROM pattern_calls AS x WHERE x.kind = 'command' AND x.key = c.key
     ORDER BY x.status = 'ok' DESC, x.ts DESC, x.id DESC LIMIT 1),
    json_object('step', max(step), 'rejected', sum(status = 'rejected'),
                'unknown', sum(status = 'unknown'))
FROM pattern_calls AS c WHERE kind = 'command' AND key != '' {commands} GROUP BY key
""",
    _INSERT
    + """
SELECT 'files', key, key, count(*), count(DISTINCT session_id), sum(status = 'ok'),
    sum(status = 'error'), wilson(sum(status = 'ok'), sum(status IN ('ok', 'error'))),
    min(ts), max(ts), '',
    json_object('reads', sum(step = 'Read'), 'edits', sum(step = 'Edit'),
                'writes', sum(step = 'Write'))
FROM pattern_calls WHERE kind = 'file' AND key != '' {files} GROUP BY key
""",
    _INSERT
    + """
SELECT 'errors', key, key, count(*), count(DISTINCT session_id), CAST(sum(outcome) AS INTEGER),
    count(*) - CAST(sum(outcome) AS INTEGER), wilson(sum(outcome), count(*)), min(ts), max(ts),
    coalesce((SELECT x.detail FROM pattern_events AS x
              WHERE x.type = 'errors' AND x.key = e.key AND x.detail != ''
              GROUP BY x.detail ORDER BY count(*) DESC, max(x.ts) DESC LIMIT 1), ''),
    json_object('fixes', count(DISTINCT nullif(detail, '')))
FROM pattern_events AS e WHERE type = 'errors' {errors} GROUP BY key
""",
    _INSERT
    + """
SELECT 'decisions', key,
    (SELECT x.label FROM pattern_events AS x WHERE x.type = 'decisions' AND x.key = e.key
     ORDER BY x.ts DESC, x.id DESC LIMIT 1),
    count(*), count(DISTINCT session_id), 0, 0, max(outcome), min(ts), max(ts), '',
    json_object('rule', (SELECT x.detail FROM pattern_events AS x
                         WHERE x.type = 'decisions' AND x.key = e.key
                         ORDER BY x.outcome DESC LIMIT 1))
FROM pattern_events AS e WHERE type = 'decisions' {decisions} GROUP BY key
""",
    _INSERT
    + """
SELECT 'workflows', key, key, n, s, n, total - n, wilson(n, total), f, l, '',
    json_object('prefix', detail, 'prefix_count', total)
FROM (
    SELECT key, detail, n, s, f, l, sum(n) OVER (PARTITION BY detail) AS total
    FROM (SELECT key, detail, count(*) AS n, count(DISTINCT session_id) AS s,
                 min(ts) AS f, max(ts) AS l
          FROM pattern_events WHERE type = 'workflows' {workflows} GROUP BY key, detail)
)
WHERE n >= 2
""",
)


def _aggregate(conn: sqlite3.Connection, *, full: bool) -> None:
    """Recount the patterns: all of them, or those noted in ``pattern_affected`` (and,
    for workflows, every workflow sharing a prefix with one noted, as they share a total)."""
    conn.create_function("wilson", 2, wilson_lower, deterministic=True)
    filters = dict.fromkeys(PATTERN_TYPES, "")
    if full:
        conn.execute("DELETE FROM patterns")
    else:
        flows = conn.execute("SELECT key FROM pattern_affected WHERE type = 'workflows'")
        prefixes = {key.rpartition(" → ")[0] for (key,) in flows}
        conn.executemany(
            "INSERT OR IGNORE INTO pattern_affected (type, key) VALUES ('workflow-prefix', ?)",
            [(p,) for p in prefixes],
        )
        conn.execute(
            "DELETE FROM patterns WHERE type = 'workflows' AND json_extract(detail, '$.prefix') "
            "IN (SELECT key FROM pattern_affected WHERE type = 'workflow-prefix')"
        )
        for name in PATTERN_TYPES:
            chosen = f"(SELECT key FROM pattern_affected WHERE type = '{name}')"
            if name == "workflows":
                filters[name] = f"AND detail IN {chosen.replace(name, 'workflow-prefix')}"
                continue
            conn.execute(f"DELETE FROM patterns WHERE type = ? AND key IN {chosen}", (name,))
            filters[name] = f"AND key IN {chosen}"
    for statement in _AGGREGATES:
        conn.execute(statement.format(**filters))
    conn.execute("DELETE FROM pattern_affected")


# --- reading -----------------------------------------------------------------------------

_COLUMNS = (
    "type, key, label, frequency, sessions, successes, failures, confidence, first_seen, "
    "last_seen, example, detail"
)


_WORDS = "' ' || lower(key || ' ' || label || ' ' || example) || ' '"
for _punct in ("/", "`", "(", ")", "[", "]", "_", ".", ",", ":", ";", "''", '"', "=", "-"):
    _WORDS = f"replace({_WORDS}, '{_punct}', ' ')"
"""A pattern's text with punctuation as spaces: ``instr(_WORDS, ' term')`` finds words
that start with ``term`` ("fix" finds "fixed", not "prefix")."""


def _pattern(row: Sequence[Any]) -> Pattern:
    kind, key, label, frequency, sessions, successes, failures, confidence = row[:8]
    first, last, example, detail = row[8:12]
    return Pattern(
        kind,
        key,
        label,
        frequency,
        sessions,
        successes,
        failures,
        confidence,
        first,
        last,
        example,
        orjson.loads(detail),
    )


def _check(kind: str | None, limit: int) -> None:
    if kind is not None and kind not in PATTERN_TYPES:
        raise ValidationError(
            f"unknown pattern type {kind!r}", "Types: " + ", ".join(PATTERN_TYPES) + "."
        )
    if limit < 1:
        raise ValidationError(f"--limit must be at least 1, not {limit}")


def list_patterns(
    store: MemoryStore,
    kind: str | None = None,
    *,
    limit: int = 20,
    terms: Sequence[str] = (),
    refresh: bool = True,
) -> list[Pattern]:
    """The top ``limit`` patterns of ``kind`` (of each kind when None), refreshed first.
    With ``terms``, only patterns whose key, label or example holds one of them, those
    holding the most first."""
    _check(kind, limit)
    if refresh:
        refresh_patterns(store)
    found: list[Pattern] = []
    for name in [kind] if kind else PATTERN_TYPES:
        order = _ORDER.get(name, _DEFAULT_ORDER)
        params: list[Any] = [name]
        where = ""
        if terms:
            score = " + ".join(f"(instr({_WORDS}, ?) > 0)" for _ in terms)
            where, order = f" AND ({score}) > 0", f"({score}) DESC, {order}"
            params += [" " + t.lower() for t in terms] * 2
        rows = store.conn.execute(
            f"SELECT {_COLUMNS} FROM patterns WHERE type = ?{where} ORDER BY {order} LIMIT ?",
            [*params, limit],
        )
        found += [_pattern(row) for row in rows]
    return found


def recent_decisions(
    store: MemoryStore, *, since: str | None = None, limit: int = 10
) -> list[dict[str, Any]]:
    """Decisions made after ``since`` (an ISO timestamp; all when None), newest first."""
    refresh_patterns(store)
    rows = store.conn.execute(
        "SELECT label, session_id, ts, outcome, detail FROM pattern_events "
        "WHERE type = 'decisions' AND (? IS NULL OR ts > ?) ORDER BY ts DESC, id DESC LIMIT ?",
        (since, since, limit),
    )
    return [
        {"decision": r[0], "session": r[1], "ts": r[2], "confidence": r[3], "rule": r[4]}
        for r in rows
    ]

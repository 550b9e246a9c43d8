"""The tables behind patterns: migration ``0002_patterns`` of the memory store.

Derived rows are kept per message so that an import only costs what it adds:

* ``pattern_calls`` — one row per tool call (``tool_use`` block): the tool, its key (a
  command's signature, a file's path), its workflow step, and its outcome once the
  matching ``tool_result`` is seen (``ok``, ``error``, ``rejected``, ``unknown``);
* ``pattern_results`` — results whose call is in another message, matched by call id;
* ``pattern_events`` — one row per occurrence of a pattern found in a sequence of calls
  (an error and its fix, a workflow n-gram) or in one message (a decision);
* ``patterns`` — the aggregate that ``coditect memory patterns`` shows, rebuilt from the
  three tables above by SQL whenever they changed;
* ``pattern_dirty`` / ``pattern_touched`` / ``pattern_affected`` / ``pattern_state`` —
  the bookkeeping of the incremental refresh: messages updated or deleted since (filled
  by triggers on ``messages``), sessions whose sequences need another look, the patterns
  whose counts changed, and the highest message id already read.
"""

from __future__ import annotations

__all__ = ["PATTERNS_MIGRATION"]

PATTERNS_MIGRATION = """
CREATE TABLE pattern_calls (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL,
    block       INTEGER NOT NULL,            -- the block's index in the message
    session_id  TEXT NOT NULL,
    thread      TEXT NOT NULL,               -- '' for the main chain, else the agent id
    ts          TEXT,
    call_id     TEXT,
    tool        TEXT NOT NULL,
    kind        TEXT NOT NULL,               -- command, file, other
    key         TEXT NOT NULL,               -- signature, path, or the tool's name
    step        TEXT NOT NULL,               -- Read, Edit, Bash(test), ...
    arg         TEXT NOT NULL,               -- the command or path as written (clipped)
    status      TEXT NOT NULL DEFAULT 'unknown',
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pattern_calls_message ON pattern_calls (message_id);
CREATE INDEX pattern_calls_session ON pattern_calls (session_id, thread);
CREATE INDEX pattern_calls_key ON pattern_calls (kind, key);
CREATE INDEX pattern_calls_unresolved ON pattern_calls (call_id) WHERE status = 'unknown';

CREATE TABLE pattern_results (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL,
    call_id     TEXT NOT NULL,
    status      TEXT NOT NULL,
    error       TEXT NOT NULL
);
CREATE INDEX pattern_results_message ON pattern_results (message_id);
CREATE INDEX pattern_results_call ON pattern_results (call_id);

CREATE TABLE pattern_events (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL,
    message_id  INTEGER,                     -- decisions: their message; else NULL
    type        TEXT NOT NULL,               -- errors, workflows, decisions
    key         TEXT NOT NULL,
    label       TEXT NOT NULL,
    ts          TEXT,
    outcome     REAL,                        -- errors: 1 fixed, 0 not; decisions: weight
    detail      TEXT NOT NULL DEFAULT ''     -- the fix, the n-gram's prefix, the rule
);
CREATE INDEX pattern_events_session ON pattern_events (session_id);
CREATE INDEX pattern_events_message ON pattern_events (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX pattern_events_type ON pattern_events (type, key);
CREATE INDEX pattern_events_ts ON pattern_events (type, ts);

CREATE TABLE patterns (
    type        TEXT NOT NULL,               -- commands, files, errors, decisions, workflows
    key         TEXT NOT NULL,
    label       TEXT NOT NULL,
    frequency   INTEGER NOT NULL,
    sessions    INTEGER NOT NULL,
    successes   INTEGER NOT NULL,
    failures    INTEGER NOT NULL,
    confidence  REAL NOT NULL,
    first_seen  TEXT,
    last_seen   TEXT,
    example     TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '{}',  -- JSON: what else the type knows
    PRIMARY KEY (type, key)
) WITHOUT ROWID;
CREATE INDEX patterns_rank ON patterns (type, frequency DESC);

CREATE TABLE pattern_dirty (
    message_id  INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL
);
CREATE INDEX pattern_events_prefix ON pattern_events (detail) WHERE type = 'workflows';
CREATE TABLE pattern_affected (
    type        TEXT NOT NULL,               -- a pattern type, or 'workflow-prefix'
    key         TEXT NOT NULL,
    PRIMARY KEY (type, key)
) WITHOUT ROWID;
CREATE TABLE pattern_touched (
    session_id  TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE pattern_state (
    name        TEXT PRIMARY KEY,
    value       INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER pattern_messages_update AFTER UPDATE OF content ON messages BEGIN
    INSERT OR IGNORE INTO pattern_dirty (message_id, session_id) VALUES (new.id, new.session_id);
END;
CREATE TRIGGER pattern_messages_delete AFTER DELETE ON messages BEGIN
    INSERT OR IGNORE INTO pattern_dirty (message_id, session_id) VALUES (old.id, old.session_id);
END;
"""

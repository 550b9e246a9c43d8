"""Search and browsing: full-text search with BM25, the session list, one conversation.

``search`` ranks messages by BM25 over an FTS5 index (porter stemming, diacritics
folded), newest first among equal ranks, with snippets whose matches are framed by
``MARK_START`` and ``MARK_END``. What a person types is made safe: each word or
"quoted phrase" is quoted for FTS5 (so ``-``, ``:``, ``(`` or ``AND`` are plain text)
and all of them must match; ``word*`` matches a prefix. ``raw=True`` passes FTS5 query
syntax through (``NEAR``, ``OR``, column filters) and reports its errors cleanly.
"""

from __future__ import annotations

import re
import sqlite3
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from coditect.errors import ValidationError
from coditect.memory import fts
from coditect.memory.dedup import result_text

if TYPE_CHECKING:
    from coditect.memory.store import MemoryStore

__all__ = [
    "MARK_END",
    "MARK_START",
    "ROLES",
    "Hit",
    "conversation_lines",
    "fts_query",
    "list_sessions",
    "parse_time",
    "search",
    "session_detail",
    "tool_line",
]

MARK_START = "\x02"
MARK_END = "\x03"
ROLES = ("user", "assistant", "tool", "system", "summary")
_TERM = re.compile(r'"([^"]*)"|(\S+)')
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
RANK_WINDOW = 200
"""Matches FTS5 hands over, best first, to be ordered newest first among equal ranks."""
CANDIDATES = 2_000
"""At most this many matches are ranked: the most recently imported ones. BM25 costs
5–10 µs for every match it scores, so a word found in 5% of a million messages would
take ~100 ms to rank in full (besides, it counts every match of each term in the
shard it ranks in, for its IDF: ``fts``)."""


def fts_query(text: str) -> str:
    """``text`` as an FTS5 query in which every word and "phrase" must match, literally."""
    terms: list[str] = []
    for match in _TERM.finditer(text):
        phrase, word = match.group(1), match.group(2)
        term = phrase if phrase is not None else word
        prefix = phrase is None and len(term) > 1 and term.endswith("*")
        term = term[:-1] if prefix else term
        if not re.search(r"\w", term):
            continue  # only punctuation: nothing the index holds
        terms.append('"' + term.replace('"', '""') + '"' + ("*" if prefix else ""))
    if not terms:
        raise ValidationError(
            f"nothing to search for in {text!r}", "Give at least one word or number."
        )
    return " ".join(terms)


def parse_time(text: str, *, end: bool = False, now: datetime | None = None) -> str:
    """An ISO UTC timestamp from a date, a date and time, or an age (``30m``, ``12h``,
    ``7d``, ``2w`` ago). A bare date given as an ``end`` means the end of that day."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        delta = timedelta(**{_UNITS[relative.group(2)]: float(relative.group(1))})
        moment = (now or datetime.now(UTC)) - delta
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                f"{text!r} is not a date, a time or an age",
                "Write 2026-03-01, 2026-03-01T14:00, or an age such as 12h, 7d or 2w.",
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if end and len(value) == 10:
            moment += timedelta(days=1)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Hit:
    """One message that matched: where it is, and a snippet with the matches marked."""

    message_id: int
    session_id: str
    role: str
    ts: str | None
    model: str | None
    tools: list[str]
    snippet: str
    rank: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def search(
    store: MemoryStore,
    query: str,
    *,
    session: str | None = None,
    role: str | None = None,
    tool: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 20,
    raw: bool = False,
    candidates: int = CANDIDATES,
) -> list[Hit]:
    """The best ``limit`` messages for ``query``, BM25 first, then newest first, among
    the ``candidates`` most recently imported matches."""
    if limit < 1:
        raise ValidationError(f"--limit must be at least 1, not {limit}")
    if role is not None and role not in ROLES:
        raise ValidationError(f"unknown role {role!r}", "Roles: " + ", ".join(ROLES) + ".")
    match = query.strip() if raw else fts_query(query)
    where: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("m.session_id = ?", store.resolve_session(session) if session else None),
        ("m.role = ?", role),
        ("instr(m.tools, ?) > 0", f" {tool.replace(' ', '_')} " if tool else None),
        ("m.ts >= ?", since),
        ("m.ts < ?", until),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    try:
        rows = _ranked(store, match, where, params, limit=limit, candidates=candidates)
        snippets = _snippets(store, match, [row[0] for row in rows])
    except sqlite3.OperationalError as exc:
        if not raw:
            raise
        raise ValidationError(
            f"invalid full-text query {query!r}: {exc}",
            "Without --raw, words are searched as written; with it, see the FTS5 query syntax.",
        ) from exc
    return [
        Hit(
            row[0], row[1], row[2], row[3], row[4], row[5].split(), snippets.get(row[0], ""), row[6]
        )
        for row in rows
    ]


_COLUMNS = "m.id, m.session_id, m.role, m.ts, m.model, m.tools"


def _ranked(
    store: MemoryStore,
    match: str,
    where: list[str],
    params: list[Any],
    *,
    limit: int,
    candidates: int,
) -> list[Any]:
    """The best ``limit`` matches: (id, session, role, ts, model, tools, rank).

    Only the ``candidates`` newest matches (by row id, which grows with each import) are
    ranked, each by BM25 within its shard of the index (``fts``); the shards' best are
    merged. Without filters, FTS5 ranks on its own and only a window of the best
    matches is joined with ``messages`` to order equal ranks newest first (joining every
    match of a common word is what costs most); filters need the join for every
    candidate, so with filters the candidates are the newest matches that pass them."""
    rows: list[Any] = []
    for shard, oldest in _candidates(store, match, where, params, candidates):
        table = shard.name
        if where:
            sql = (
                f"SELECT {_COLUMNS}, f.rank FROM {table} f JOIN messages m ON m.id = f.rowid "
                f"WHERE {table} MATCH ? AND f.rowid >= ? AND {' AND '.join(where)} "
                "ORDER BY f.rank, m.ts DESC LIMIT ?"
            )
            rows += store.conn.execute(sql, [match, oldest, *params, limit]).fetchall()
        else:
            sql = (
                f"SELECT {_COLUMNS}, f.rank FROM (SELECT rowid, rank FROM {table} "
                f"WHERE {table} MATCH ? AND rowid >= ? ORDER BY rank, rowid DESC LIMIT ?) f "
                "JOIN messages m ON m.id = f.rowid ORDER BY f.rank, m.ts DESC LIMIT ?"
            )
            window = max(4 * limit, RANK_WINDOW)
            rows += store.conn.execute(sql, [match, oldest, window, limit]).fetchall()
    rows.sort(key=lambda row: row[3] or "", reverse=True)  # newest first (no time: last)
    rows.sort(key=lambda row: row[6])  # then by rank; sort is stable
    return rows[:limit]


def _candidates(
    store: MemoryStore, match: str, where: list[str], params: list[Any], candidates: int
) -> list[tuple[fts.Shard, int]]:
    """The shards that hold the ``candidates`` newest matches, newest first, each with
    the row id of the oldest of them it holds. FTS5 walks its index in row id order
    without ranking, which is cheap."""
    found: list[tuple[fts.Shard, int]] = []
    for shard in fts.shards(store.conn):
        table = shard.name
        if where:
            newest = (
                f"SELECT f.rowid AS id FROM {table} f JOIN messages m ON m.id = f.rowid "
                f"WHERE {table} MATCH ? AND {' AND '.join(where)} "
                "ORDER BY f.rowid DESC LIMIT ?"
            )
        else:
            newest = (
                f"SELECT rowid AS id FROM {table} WHERE {table} MATCH ? ORDER BY rowid DESC LIMIT ?"
            )
        count, oldest = store.conn.execute(
            f"SELECT count(*), min(id) FROM ({newest})", [match, *params, candidates]
        ).fetchone()
        if count:
            found.append((shard, oldest))
        candidates -= count
        if candidates <= 0:
            break
    return found


def _snippets(store: MemoryStore, match: str, ids: list[int]) -> dict[int, str]:
    """Snippets of the messages ``ids``, with the matches of ``match`` marked.

    FTS5's ``snippet()`` is run on a small index of only these messages, in the
    connection's temporary schema: in the full index each snippet seeks every term
    in every segment, which cost ten times as much (docs/benchmarks.md#memory). The
    texts and tokenizer are the same, so the snippets are too."""
    if not ids:
        return {}
    conn = store.conn
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS snippet_texts (id INTEGER PRIMARY KEY, text TEXT)"
    )
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.snippet_fts USING fts5 (text, "
        f"content = 'snippet_texts', content_rowid = 'id', tokenize = '{fts.TOKENIZER}')"
    )
    conn.execute("DELETE FROM snippet_texts")
    conn.execute("INSERT INTO snippet_fts (snippet_fts) VALUES ('delete-all')")
    conn.execute(
        "INSERT INTO snippet_texts (id, text) SELECT id, text FROM messages "
        f"WHERE id IN ({','.join('?' * len(ids))})",
        ids,
    )
    conn.execute("INSERT INTO snippet_fts (rowid, text) SELECT id, text FROM snippet_texts")
    rows = conn.execute(
        "SELECT rowid, snippet(snippet_fts, 0, ?, ?, '…', 16) FROM snippet_fts "
        "WHERE snippet_fts MATCH ?",
        (MARK_START, MARK_END, match),
    )
    return dict(rows.fetchall())


# --- browsing ---------------------------------------------------------------------


def list_sessions(store: MemoryStore, *, limit: int = 50) -> list[dict[str, Any]]:
    """The sessions, the most recently active first, with their message and token counts."""
    rows = store.conn.execute(
        "SELECT s.id, s.source, s.project, s.title, s.summary, s.first_at, s.last_at, "
        "(SELECT count(*) FROM messages m WHERE m.session_id = s.id), "
        "(SELECT coalesce(sum(input_tokens + output_tokens + cache_write_tokens "
        "+ cache_read_tokens), 0) FROM usage u WHERE u.session_id = s.id) "
        "FROM sessions s ORDER BY s.last_at IS NULL, s.last_at DESC, s.id LIMIT ?",
        (limit,),
    ).fetchall()
    names = ("id", "source", "project", "title", "summary", "first_at", "last_at")
    return [
        {**dict(zip(names, row[:7], strict=True)), "messages": row[7], "tokens": row[8]}
        for row in rows
    ]


def session_detail(
    store: MemoryStore, session: str, *, sidechains: bool = False, meta: bool = False
) -> dict[str, Any]:
    """One session and its messages in order (sub-agent and meta messages when asked)."""
    session = store.resolve_session(session)
    names = ("id", "source", "project", "title", "summary", "version", "git_branch")
    info = store.conn.execute(
        "SELECT id, source, project, title, summary, version, git_branch, first_at, last_at "
        "FROM sessions WHERE id = ?",
        (session,),
    ).fetchone()
    filters = "" if sidechains else " AND sidechain = 0"
    filters += "" if meta else " AND meta = 0"
    rows = store.conn.execute(
        "SELECT id, role, ts, model, sidechain, agent_id, content FROM messages "
        f"WHERE session_id = ?{filters} ORDER BY coalesce(ts, ''), id",
        (session,),
    ).fetchall()
    usage = store.conn.execute(
        "SELECT coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
        "coalesce(sum(cache_write_tokens), 0), coalesce(sum(cache_read_tokens), 0) "
        "FROM usage WHERE session_id = ?",
        (session,),
    ).fetchone()
    return {
        **dict(zip(names, info[:7], strict=True)),
        "first_at": info[7],
        "last_at": info[8],
        "tokens": dict(zip(("input", "output", "cache_write", "cache_read"), usage, strict=True)),
        "messages": [
            {
                "id": row[0],
                "role": row[1],
                "ts": row[2],
                "model": row[3],
                "sidechain": bool(row[4]),
                "agent_id": row[5],
                "content": orjson.loads(row[6]),
            }
            for row in rows
        ],
    }


_MAIN_ARGUMENT = {
    "Bash": "command",
    "Read": "file_path",
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
    "Glob": "pattern",
    "Grep": "pattern",
    "LS": "path",
    "WebFetch": "url",
    "WebSearch": "query",
    "Task": "description",
    "Agent": "description",
    "Skill": "skill",
    "TaskCreate": "subject",
}
_EXIT_CODE = re.compile(r"^(?:Error: )?Exit code (\d+)")


def _argument(name: str, arguments: Any) -> str:
    if not isinstance(arguments, dict):
        return ""
    value = arguments.get(_MAIN_ARGUMENT.get(name, "args"))
    if not isinstance(value, str):
        value = next((v for v in arguments.values() if isinstance(v, str)), "")
        if name == "TodoWrite" and isinstance(arguments.get("todos"), list):
            value = f"{len(arguments['todos'])} todos"
    line = value.strip().splitlines()[0] if value.strip() else ""
    return line if len(line) <= 100 else line[:99] + "…"


def tool_line(block: dict[str, Any], result: dict[str, Any] | None) -> str:
    """One tool call, folded with its outcome: ``▸ Bash: npm test (exit 1)``."""
    name = str(block.get("name", "?"))
    argument = _argument(name, block.get("input"))
    line = f"▸ {name}: {argument}" if argument else f"▸ {name}"
    if result is None:
        return line
    code = _EXIT_CODE.match(result_text(result.get("content")))
    if code:
        return f"{line} (exit {code.group(1)})"
    return f"{line} (error)" if result.get("is_error") is True else line


def _results(messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Tool results by the id of the call they answer, for ids called once (an export's
    calls share one id: each is answered inside its own message)."""
    calls: dict[str, int] = {}
    results: dict[str, dict[str, Any]] = {}
    for message in messages:
        for block in message["content"]:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use":
                calls[str(block.get("id"))] = calls.get(str(block.get("id")), 0) + 1
            elif block.get("type") == "tool_result":
                results.setdefault(str(block.get("tool_use_id")), block)
    return {key: block for key, block in results.items() if calls.get(key) == 1}


def _header(message: dict[str, Any]) -> str:
    parts = [message["role"]]
    if message.get("model"):
        parts.append(message["model"])
    if message.get("ts"):
        parts.append(message["ts"][:19].replace("T", " "))
    if message.get("sidechain"):
        parts.append(f"agent {message.get('agent_id') or ''}".strip())
    return "── " + " · ".join(parts)


def _block_lines(block: dict[str, Any], results: Mapping[str, dict[str, Any]]) -> list[str]:
    kind = block.get("type")
    if kind == "text" and isinstance(block.get("text"), str):
        return block["text"].strip().splitlines() or [""]
    if kind == "thinking":
        return [f"✻ thinking ({len(str(block.get('thinking', '')))} characters)"]
    if kind == "tool_use":
        return [tool_line(block, results.get(str(block.get("id"))))]
    if kind == "image":
        return ["[image]"]
    return []


def conversation_lines(detail: dict[str, Any]) -> list[str]:
    """``session_detail`` as a readable conversation, one line per tool call."""
    lines = [f"session {detail['id']}  ({detail['source']})"]
    if detail["project"]:
        lines.append(f"project {detail['project']}")
    lines.append(f"from {detail['first_at'] or '?'} to {detail['last_at'] or '?'}")
    answers = _results(detail["messages"])
    previous = None
    for message in detail["messages"]:
        blocks = [block for block in message["content"] if isinstance(block, dict)]
        local = {str(b.get("tool_use_id")): b for b in blocks if b.get("type") == "tool_result"}
        body = [
            line
            for block in blocks
            if block.get("type") != "tool_result"
            for line in _block_lines(block, ChainMap(local, answers))
        ]
        if not body:
            continue  # tool results are folded into their calls
        if message["role"] != previous or message["role"] in ("user", "summary"):
            lines += ["", _header(message)]
        previous = message["role"]
        lines += body
    return lines

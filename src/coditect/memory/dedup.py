"""Exact deduplication: what one message is, its key, and how records of one response merge.

Claude Code writes one API response as several JSONL records (one per content block),
each repeating the response's ``message.id``, ``requestId`` and usage. Here:

* an assistant message is keyed by ``(sessionId, message.id, requestId)``; its records
  become *parts* of one message, their content blocks kept in file order;
* any other record with a ``uuid`` (user prompts, tool results, system notes) is keyed
  by that uuid, so the copies a resumed session carries collapse into one;
* a message from an ``/export`` text file has no ids: its key is the hash of its
  redacted content chained to the previous message's key, so overlapping exports of one
  conversation collapse while a repeated "yes" at another point stays a new message;
* token usage belongs to the response, counted once: the non-sidechain record wins,
  then the one with the larger total (streaming snapshots repeat smaller totals).

Keys are 16-byte BLAKE2b digests. Everything here works on redacted content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import blake2b
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from coditect.memory.privacy import Finding

__all__ = [
    "Message",
    "Part",
    "Usage",
    "best_usage",
    "chain_key",
    "digest",
    "render_text",
    "tool_names",
    "utc_timestamp",
]

BLOCK_TEXT_LIMIT = 16_000
"""Characters of one content block that full-text search indexes (the store keeps all)."""
MESSAGE_TEXT_LIMIT = 64_000
"""Characters of one message that full-text search indexes."""


def digest(*parts: str) -> bytes:
    """A 16-byte key for ``parts`` (joined with NUL, so ("a", "bc") differs from ("ab", "c"))."""
    return blake2b("\0".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def canonical(value: Any) -> bytes:
    """The canonical JSON of ``value``: sorted keys, no spaces."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def chain_key(previous: bytes, role: str, blocks: list[dict[str, Any]]) -> bytes:
    """The content address of an exported message: its content chained to its predecessor."""
    hasher = blake2b(previous, digest_size=16)
    hasher.update(role.encode())
    hasher.update(b"\0")
    hasher.update(canonical(blocks))
    return hasher.digest()


def utc_timestamp(value: Any) -> str | None:
    """``value`` as ISO 8601 UTC text ending in ``Z`` (which sorts), or None."""
    if not isinstance(value, str) or not value:
        return None
    if value.endswith("Z") and len(value) >= 20 and value[10] == "T":
        return value  # what Claude Code writes: the fast path
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one API response."""

    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    sidechain: bool = False

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write + self.cache_read

    @classmethod
    def from_api(cls, usage: Any, sidechain: bool) -> Usage | None:
        if not isinstance(usage, dict):
            return None

        def count(value: Any) -> int:
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        creation = usage.get("cache_creation")
        one_hour = (
            count(creation.get("ephemeral_1h_input_tokens")) if isinstance(creation, dict) else 0
        )
        return cls(
            input=count(usage.get("input_tokens")),
            output=count(usage.get("output_tokens")),
            cache_write=count(usage.get("cache_creation_input_tokens")),
            cache_write_1h=one_hour,
            cache_read=count(usage.get("cache_read_input_tokens")),
            sidechain=sidechain,
        )


def best_usage(*candidates: Usage | None) -> Usage | None:
    """The usage a response counts: non-sidechain first, then the larger total."""
    present = [u for u in candidates if u is not None]
    if not present:
        return None
    return max(present, key=lambda u: (not u.sidechain, u.total))


@dataclass(slots=True)
class Part:
    """One record's share of a message: its content blocks, usage and redaction findings."""

    uuid: str
    blocks: list[dict[str, Any]]
    usage: Usage | None = None
    findings: list[Finding] = field(default_factory=list)


@dataclass(slots=True)
class Message:
    """A deduplicated message: one or more parts under one key."""

    key: bytes
    session_id: str
    role: str
    parts: list[Part]
    mergeable: bool = False
    """Parts of the same key add to it (assistant responses); otherwise a second copy is a
    duplicate."""
    uuid: str | None = None
    parent_uuid: str | None = None
    ts: str | None = None
    model: str | None = None
    sidechain: bool = False
    agent_id: str | None = None
    meta: bool = False
    tool_names: dict[str, str] = field(default_factory=dict)
    """Names of the tools whose results this message holds, by tool_use id (when known)."""

    def blocks(self) -> list[dict[str, Any]]:
        return [block for part in self.parts for block in part.blocks]

    def usage(self) -> Usage | None:
        return best_usage(*(part.usage for part in self.parts))

    def absorb(self, other: Message) -> int:
        """Add ``other``'s parts that this message lacks; return how many were duplicates."""
        known = {part.uuid for part in self.parts}
        duplicates = 0
        for part in other.parts:
            if part.uuid in known:
                duplicates += 1
            else:
                self.parts.append(part)
                known.add(part.uuid)
        self.tool_names.update(other.tool_names)
        if self.ts is None or (other.ts is not None and other.ts < self.ts):
            self.ts = other.ts
        self.model = self.model or other.model
        return duplicates


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)


def result_text(content: Any) -> str:
    """The text of a tool result's ``content`` (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)
        )
    return ""


def _block_text(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
    elif kind == "thinking":
        text = block.get("thinking")
    elif kind == "tool_use":
        values: list[str] = []
        _strings(block.get("input"), values)
        text = f"{block.get('name', '')}: " + "\n".join(values)
    elif kind == "tool_result":
        text = result_text(block.get("content"))
    else:
        return ""
    return text[:BLOCK_TEXT_LIMIT] if isinstance(text, str) else ""


def render_text(blocks: list[dict[str, Any]]) -> str:
    """What full-text search indexes for these blocks."""
    text = "\n".join(filter(None, (_block_text(b) for b in blocks if isinstance(b, dict))))
    return text[:MESSAGE_TEXT_LIMIT]


def tool_names(blocks: list[dict[str, Any]], results: dict[str, str]) -> str:
    """The tools these blocks call or answer, space-framed (`` Bash Read ``) for filtering."""
    names: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_use" and isinstance(block.get("name"), str):
            names.append(block["name"])
        elif block.get("type") == "tool_result":
            name = results.get(str(block.get("tool_use_id")))
            if name:
                names.append(name)
    unique = list(dict.fromkeys(n.replace(" ", "_") for n in names))
    return f" {' '.join(unique)} " if unique else ""

"""Fixtures for memory tests: the real corpus imported once, stores, record builders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from coditect.memory.ingest import Importer, ImportReport
from coditect.memory.privacy import Redactor
from coditect.memory.store import MemoryStore
from coditect.memory.transcripts import discover
from tests.conftest import CORPUS

TRANSCRIPTS = CORPUS / "claude-code"
REAL_PROJECTS = TRANSCRIPTS / "real_projects"


def import_paths(store: MemoryStore, *paths: Path, **options: Any) -> ImportReport:
    """Import ``paths`` into ``store`` with the default (team) redaction."""
    return Importer(store, Redactor(), **options).run(discover(list(paths)))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    with MemoryStore(tmp_path / "memory.db") as opened:
        yield opened


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryStore]:
    """The whole transcript corpus, imported once per module."""
    with MemoryStore(tmp_path_factory.mktemp("corpus") / "memory.db") as opened:
        import_paths(opened, TRANSCRIPTS)
        yield opened


def write_jsonl(path: Path, records: list[dict[str, Any]], *, mode: str = "wb") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode) as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\n")


def user(
    uuid: str,
    text: str,
    *,
    session: str = "s-1",
    ts: str = "2026-03-01T10:00:00.000Z",
    parent: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A user record as Claude Code writes it."""
    return {
        "parentUuid": parent,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/work/shop",
        "sessionId": session,
        "version": "2.0.55",
        "type": "user",
        "message": {"role": "user", "content": text},
        "uuid": uuid,
        "timestamp": ts,
        **extra,
    }


def tool_result(
    uuid: str,
    tool_id: str,
    output: str,
    *,
    error: bool = False,
    session: str = "s-1",
    ts: str = "2026-03-01T10:00:05.000Z",
) -> dict[str, Any]:
    content = [
        {"type": "tool_result", "tool_use_id": tool_id, "content": output, "is_error": error}
    ]
    return {
        **user(uuid, "", session=session, ts=ts),
        "message": {"role": "user", "content": content},
        "toolUseResult": {"stdout": output, "stderr": ""},
    }


def assistant(
    uuid: str,
    message_id: str,
    request: str,
    block: dict[str, Any],
    *,
    usage: dict[str, int] | None = None,
    session: str = "s-1",
    sidechain: bool = False,
    ts: str = "2026-03-01T10:00:01.000Z",
) -> dict[str, Any]:
    """One record of an assistant response (Claude Code writes one per content block)."""
    return {
        "parentUuid": None,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": "/work/shop",
        "sessionId": session,
        "version": "2.0.55",
        "type": "assistant",
        "requestId": request,
        "uuid": uuid,
        "timestamp": ts,
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [block],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage
            or {
                "input_tokens": 3,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 1000,
                "output_tokens": 50,
            },
        },
    }


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def bash(tool_id: str, command: str) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": tool_id,
        "name": "Bash",
        "input": {"command": command, "description": "Run it"},
    }

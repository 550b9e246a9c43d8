"""The state file format: a header line, an index line, then one line per task.

::

    {"checksum":"sha256:…","revision":42,"saved_at":"…","schema_version":2,"tasks":3}
    {"ids":[…],"status":[…],"deps":[…],"priority":[…],"hours":[…]}
    {"id":"a","title":…}
    …

The checksum is the SHA-256 of the header's canonical encoding without the checksum
(sorted keys, no whitespace), a newline, and every byte after the header line; so any
change to any line is detected. The index holds what the dependency graph needs, so a
load decodes it and not the tasks (see ``TaskTable``). Version 1 files (one JSON
document, written before November 2026) are still read; the next save writes version 2.
"""

from __future__ import annotations

from datetime import datetime
from hashlib import sha256
from typing import Any

import orjson

from coditect.errors import StateCorruptedError, ValidationError
from coditect.tasks.model import AgentTask
from coditect.tasks.table import TaskTable

__all__ = ["SCHEMA_VERSION", "decode_state", "encode_state", "encode_table", "load_table"]

SCHEMA_VERSION = 2
_HEAD = b'{"checksum":"sha256:'


def _seal(header: dict[str, Any], body: bytes) -> bytes:
    canonical = orjson.dumps(header, option=orjson.OPT_SORT_KEYS)
    digest = sha256(canonical + b"\n" + body).hexdigest().encode()
    return _HEAD + digest + b'",' + canonical[1:] + b"\n" + body


def _encode(index: dict[str, list[Any]], lines: list[bytes], revision: int, at: datetime) -> bytes:
    header = {
        "revision": revision,
        "saved_at": at.isoformat(),
        "schema_version": SCHEMA_VERSION,
        "tasks": len(lines),
    }
    return _seal(header, b"\n".join([orjson.dumps(index), *lines, b""]))


def encode_table(
    table: TaskTable, revision: int, saved_at: datetime, only_if_changed: bool = False
) -> bytes | None:
    """The state file of ``table``; None if ``only_if_changed`` and its tasks are as loaded."""
    index, lines, changed = table.encode()
    if only_if_changed and not changed:
        return None
    return _encode(index, lines, revision, saved_at)


def encode_state(tasks: list[dict[str, Any]], revision: int, saved_at: datetime) -> bytes:
    """The state file holding ``tasks``, given as task dicts in creation order."""
    table = TaskTable(AgentTask.from_trusted_dict(t) for t in tasks)
    return _encode(*table.encode()[:2], revision, saved_at)


def load_table(data: bytes, *, strict: bool = False) -> tuple[dict[str, Any], TaskTable]:
    """Verify a state file and return its header and its (lazily decoded) tasks;
    ``strict`` validates the tasks of a version 1 file as it reads them."""
    end = data.find(b"\n")
    try:
        header = orjson.loads(data[:end])
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or isinstance(header.get("tasks"), list):
        return _load_version_1(data, strict)  # or not a state file at all
    written = header.pop("checksum", None)
    digest = sha256(orjson.dumps(header, option=orjson.OPT_SORT_KEYS) + b"\n")
    digest.update(memoryview(data)[end + 1 :])
    if written != "sha256:" + digest.hexdigest():
        raise StateCorruptedError("checksum mismatch: the file was changed or damaged")
    header["checksum"] = written
    version = header.get("schema_version")
    if version != SCHEMA_VERSION:
        raise StateCorruptedError(
            f"schema version {version!r} is not {SCHEMA_VERSION}",
            "This state was written by another version of coditect; upgrade coditect.",
        )
    lines = data[end + 1 :].split(b"\n")
    if not isinstance(header.get("revision"), int) or header.get("tasks") != len(lines) - 2:
        raise StateCorruptedError("the header's revision or task count does not fit the file")
    try:
        return header, TaskTable.stored(orjson.loads(lines[0]), lines[1:-1])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise StateCorruptedError(f"the index is invalid: {exc!r}") from exc


def decode_state(data: bytes, *, strict: bool = False) -> tuple[dict[str, Any], list[AgentTask]]:
    """Verify a state file and decode every task; any damage raises StateCorruptedError.

    The checksum vouches for what this package wrote, so tasks are rebuilt without
    validating each field again; ``strict`` validates them all, and that the index
    agrees with them (``coditect state verify``).
    """
    header, table = load_table(data, strict=strict)
    if not strict or header["schema_version"] == 1:  # version 1: validated as read
        return header, list(table.values())
    try:
        tasks = [AgentTask.from_dict(orjson.loads(table.line(i))) for i in table]
    except (orjson.JSONDecodeError, ValidationError, AttributeError, TypeError) as exc:
        detail = exc.message if isinstance(exc, ValidationError) else repr(exc)
        raise StateCorruptedError(f"invalid task: {detail}") from exc
    if table.encode()[0] != TaskTable(tasks).encode()[0]:
        raise StateCorruptedError("the index does not match the tasks")
    return header, tasks


def _load_version_1(data: bytes, strict: bool) -> tuple[dict[str, Any], TaskTable]:
    """A version 1 file: one document, checksum over its canonical encoding. Its tasks
    are trusted as the checksum vouches for them, as version 1 loads did; names that
    later versions refuse (an agent with a space) must not make a good file "damaged"."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StateCorruptedError(f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise StateCorruptedError("not a state document")
    body = {k: v for k, v in document.items() if k != "checksum"}
    checksum = "sha256:" + sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    if document.get("checksum") != checksum:
        raise StateCorruptedError("checksum mismatch: the file was changed or damaged")
    if document.get("schema_version") != 1:
        raise StateCorruptedError(
            f"schema version {document.get('schema_version')!r} is not {SCHEMA_VERSION}",
            "This state was written by another version of coditect; upgrade coditect.",
        )
    raw = document.pop("tasks", None)
    if not isinstance(raw, list) or not isinstance(document.get("revision"), int):
        raise StateCorruptedError("the state has no task list or revision")
    build = AgentTask.from_dict if strict else AgentTask.from_trusted_dict
    try:
        tasks = [build(item) for item in raw]
    except (ValidationError, AttributeError, KeyError, TypeError, ValueError) as exc:
        detail = exc.message if isinstance(exc, ValidationError) else repr(exc)
        raise StateCorruptedError(f"invalid task: {detail}") from exc
    if len({t.id for t in tasks}) < len(tasks):
        raise StateCorruptedError("two tasks have the same id")
    document["tasks"] = len(tasks)
    return document, TaskTable(tasks)

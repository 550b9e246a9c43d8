"""Checkpoints: where a project stands, written down so it can be compared and restored.

``create_checkpoint`` writes three files to ``.coditect/checkpoints/``:

* ``<id>.json`` — git (branch, HEAD, dirty files), the task summary and every task's id,
  status and title, what changed since the previous checkpoint, the state file's
  checksum and revision, memory (totals, what came since, the import offset of every
  transcript file), the decisions made since, and the next ready tasks;
* ``<id>.md`` — the same for people;
* ``<id>.state.json`` — the task state file itself, byte for byte (so its checksum
  verifies), which ``restore_checkpoint`` saves back as a new revision.

The id is the UTC time and a slug of the description (``20261122T093000Z-login-works``);
checkpoints are ordered by the time recorded inside (milliseconds), then by id.
Restoring never loses the state it replaces: that state is in the rotating backups
(saved there first if it was not), and ``coditect state rollback`` brings it back.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from coditect.errors import ConflictError, NotFoundError, StateCorruptedError, ValidationError
from coditect.memory.checkpoint_git import commit_files, commits_between, git_state, require_repo
from coditect.memory.checkpoint_markdown import render_checkpoint

if TYPE_CHECKING:
    from coditect.paths import ProjectPaths
    from coditect.tasks.store import StateStore

__all__ = [
    "CreateResult",
    "checkpoint_dir",
    "create_checkpoint",
    "diff_checkpoints",
    "list_checkpoints",
    "load_checkpoint",
    "restore_checkpoint",
    "snapshot",
]

SCHEMA_VERSION = 1
NEXT_TASKS = 5
DECISIONS = 5
SLUG_LENGTH = 40
_ID = re.compile(r"^(\d{8}T\d{6}Z-[a-z0-9-]+)\.json$")


def checkpoint_dir(project: ProjectPaths) -> Path:
    return project.dir / "checkpoints"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _slug(description: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", description.lower()).strip("-")
    return slug[:SLUG_LENGTH].rstrip("-") or "checkpoint"


def _new_id(folder: Path, description: str, now: datetime) -> str:
    base = f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{_slug(description)}"
    ident, n = base, 1
    while (folder / f"{ident}.json").exists():
        n += 1
        ident = f"{base}-{n}"
    return ident


# --- reading checkpoints ---------------------------------------------------------------


def _ids(project: ProjectPaths) -> list[str]:
    """Checkpoint ids, oldest first: by the time recorded inside (ids have whole seconds,
    so two taken in one second sort by it), then by id."""
    folder = checkpoint_dir(project)
    if not folder.is_dir():
        return []
    found = [(m.group(1), p) for p in folder.iterdir() if (m := _ID.match(p.name))]
    return [ident for _, ident in sorted((_created(path), ident) for ident, path in found)]


def _created(path: Path) -> str:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return ""
    created = data.get("created_at") if isinstance(data, dict) else None
    return created if isinstance(created, str) else ""


def _read(project: ProjectPaths, ident: str) -> dict[str, Any]:
    path = checkpoint_dir(project) / f"{ident}.json"
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise StateCorruptedError(
            f"checkpoint {ident} cannot be read: {exc}", f"Look at {path}, or delete it."
        ) from exc
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise StateCorruptedError(f"checkpoint {ident} is not a checkpoint this version reads")
    return data


def resolve_id(project: ProjectPaths, text: str) -> str:
    """The checkpoint named ``text``: its id, the start of one, or ``latest``."""
    ids = _ids(project)
    if text == "latest" and ids:
        return ids[-1]
    if text in ids:
        return text
    matches = [i for i in ids if text and i.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ConflictError(
            f"{text!r} matches several checkpoints: {', '.join(matches[:5])}",
            "Give more of the id.",
        )
    raise NotFoundError(
        f"no checkpoint {text!r}", "Run `coditect checkpoint list` to see the checkpoints."
    )


def load_checkpoint(project: ProjectPaths, text: str) -> dict[str, Any]:
    return _read(project, resolve_id(project, text))


def list_checkpoints(project: ProjectPaths) -> list[dict[str, Any]]:
    """Every checkpoint, oldest first, in brief."""
    rows = []
    for ident in _ids(project):
        data = _read(project, ident)
        rows.append(
            {
                "id": ident,
                "created_at": data["created_at"],
                "description": data["description"],
                "branch": data["git"].get("branch"),
                "head": data["git"].get("head"),
                "tasks": data["summary"]["total"],
                "completion_percent": data["summary"]["completion_percent"],
                "revision": (data["state"] or {}).get("revision"),
            }
        )
    return rows


# --- taking a snapshot -------------------------------------------------------------------


def _task_rows(tasks: Any) -> list[dict[str, str]]:
    return [{"id": t.id, "status": t.status.value, "title": t.title} for t in tasks.values()]


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "total": report["total"],
        "by_status": report["by_status"],
        "completion_percent": report["completion_percent"],
        "estimated_hours": report["estimated_hours"],
        "remaining_hours": report["remaining_hours"],
        "critical_path": report["critical_path"],
        "blocked": len(report["blocked"]),
        "failed": len(report["failed"]),
    }


def _tasks(store: StateStore) -> tuple[dict[str, Any], bytes | None]:
    """The task part of a snapshot, and the state file's bytes (None if it has none)."""
    from coditect.tasks.statefile import load_table

    with store.locked():
        loaded = store.load()
        data = store.path.read_bytes() if store.path.exists() else None
    orchestrator = loaded.orchestrator
    state = None
    if data is not None:
        header, _ = load_table(data)
        state = {
            "checksum": header["checksum"],
            "revision": header["revision"],
            "tasks": len(orchestrator.tasks),
        }
    part = {
        "state": state,
        "summary": _summary(orchestrator.report().to_dict()),
        "tasks": _task_rows(orchestrator.tasks),
        "next": [
            {"id": t.id, "title": t.title, "priority": t.priority.value, "agent": t.agent}
            for t in orchestrator.ready()[:NEXT_TASKS]
        ],
    }
    return part, data


def _memory(project: ProjectPaths, since: str | None) -> tuple[dict[str, Any], list[Any]]:
    """Memory totals, what came after ``since``, the file offsets; and recent decisions."""
    from coditect.memory.patterns import recent_decisions
    from coditect.memory.store import MemoryStore

    path = project.dir / "memory.db"
    if not path.exists():
        return {"present": False}, []
    tokens = (
        "SELECT count(*), coalesce(sum(input_tokens + output_tokens + cache_write_tokens "
        "+ cache_read_tokens), 0) FROM usage"
    )
    with MemoryStore(path) as store:
        conn = store.conn
        part: dict[str, Any] = {"present": True, "since": since}
        part["totals"] = {
            "sessions": conn.execute("SELECT count(*) FROM sessions").fetchone()[0],
            "messages": conn.execute("SELECT count(*) FROM messages").fetchone()[0],
            "tokens": conn.execute(tokens).fetchone()[1],
        }
        after: tuple[str, ...] = () if since is None else (since,)
        responses, spent = conn.execute(
            tokens + (" WHERE ts > ?" if after else ""), after
        ).fetchone()
        part["new"] = {
            "sessions": conn.execute(
                "SELECT count(*) FROM sessions" + (" WHERE last_at > ?" if after else ""), after
            ).fetchone()[0],
            "messages": conn.execute(
                "SELECT count(*) FROM messages" + (" WHERE ts > ?" if after else ""), after
            ).fetchone()[0],
            "responses": responses,
            "tokens": spent,
        }
        part["offsets"] = dict(conn.execute('SELECT path, "offset" FROM files ORDER BY path'))
        try:
            decisions = recent_decisions(store, since=since, limit=DECISIONS)
        except sqlite3.OperationalError:  # an import holds the write lock
            decisions = []
    return part, decisions


def _changes(old: list[dict[str, str]] | None, new: list[dict[str, str]]) -> dict[str, Any]:
    before = {t["id"]: t for t in old or []}
    after = {t["id"]: t for t in new}
    return {
        "added": [t for i, t in after.items() if i not in before],
        "removed": [t for i, t in before.items() if i not in after],
        "status_changed": [
            {"id": i, "title": t["title"], "from": before[i]["status"], "to": t["status"]}
            for i, t in after.items()
            if i in before and before[i]["status"] != t["status"]
        ],
    }


def snapshot(
    project: ProjectPaths, store: StateStore, previous: dict[str, Any] | None, now: datetime
) -> tuple[dict[str, Any], bytes | None]:
    """Everything a checkpoint records, as of ``now``, and the state file's bytes."""
    tasks, data = _tasks(store)
    memory, decisions = _memory(project, previous["created_at"] if previous else None)
    snap = {
        "schema_version": SCHEMA_VERSION,
        "created_at": _stamp(now),
        "previous": previous["id"] if previous else None,
        "git": git_state(project.root).to_dict(),
        **tasks,
        "changes": _changes(previous["tasks"] if previous else None, tasks["tasks"]),
        "memory": memory,
        "decisions": decisions,
    }
    return snap, data


# --- creating ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateResult:
    checkpoint: dict[str, Any]
    files: list[Path]
    commit: str | None = None


def create_checkpoint(
    project: ProjectPaths,
    description: str,
    *,
    commit: bool = False,
    store: StateStore | None = None,
    now: datetime | None = None,
) -> CreateResult:
    """Write a checkpoint (and with ``commit``, commit its files and nothing else)."""
    from coditect.tasks.store import StateStore, atomic_write

    description = " ".join(description.split())
    if not description:
        raise ValidationError(
            "a checkpoint needs a description", 'Say what it marks: "login works".'
        )
    if commit:
        require_repo(project.root)
    store = store or StateStore(project.state_dir)
    now = now or datetime.now(UTC)
    ids = _ids(project)
    previous = _read(project, ids[-1]) if ids else None
    folder = checkpoint_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    ident = _new_id(folder, description, now)
    snap, data = snapshot(project, store, previous, now)
    checkpoint = {"id": ident, "description": description, **snap}
    if data is not None:
        checkpoint["state"]["file"] = f"{ident}.state.json"
    files = [folder / f"{ident}.json", folder / f"{ident}.md"]
    if data is not None:
        files.append(folder / f"{ident}.state.json")
        atomic_write(files[2], data)
    atomic_write(files[1], render_checkpoint(checkpoint).encode())
    atomic_write(files[0], orjson.dumps(checkpoint, option=orjson.OPT_INDENT_2) + b"\n")
    if not commit:
        return CreateResult(checkpoint, files)
    try:
        head = commit_files(project.root, files, f"checkpoint: {description}")
    except BaseException:
        for path in files:
            path.unlink(missing_ok=True)
        raise
    return CreateResult(checkpoint, files, head)


# --- comparing and restoring ----------------------------------------------------------------


def _pair(old: Any, new: Any) -> dict[str, Any]:
    return {"from": old, "to": new, "changed": old != new}


def diff_checkpoints(
    project: ProjectPaths,
    old_id: str,
    new_id: str | None = None,
    *,
    store: StateStore | None = None,
) -> dict[str, Any]:
    """What changed from one checkpoint to another, or to now when ``new_id`` is None."""
    from coditect.tasks.store import StateStore

    old = load_checkpoint(project, old_id)
    if new_id is not None:
        new = load_checkpoint(project, new_id)
    else:
        snap, _ = snapshot(project, store or StateStore(project.state_dir), old, datetime.now(UTC))
        new = {"id": "now", "description": "the project as it is now", **snap}
    heads = (old["git"].get("head"), new["git"].get("head"))
    commits = commits_between(project.root, *heads) if all(heads) and heads[0] != heads[1] else []
    old_memory, new_memory = old["memory"], new["memory"]
    memory: dict[str, Any] = {}
    if old_memory.get("present") or new_memory.get("present"):
        for name in ("sessions", "messages", "tokens"):
            memory[name] = _pair(
                old_memory.get("totals", {}).get(name), new_memory.get("totals", {}).get(name)
            )
        offsets = old_memory.get("offsets", {})
        memory["files_grown"] = sum(
            1 for path, end in new_memory.get("offsets", {}).items() if offsets.get(path) != end
        )
    return {
        "from": {"id": old["id"], "created_at": old["created_at"]},
        "to": {"id": new["id"], "created_at": new["created_at"]},
        "tasks": _changes(old["tasks"], new["tasks"]),
        "summary": {
            name: _pair(old["summary"][name], new["summary"][name])
            for name in ("total", "completion_percent", "by_status", "remaining_hours")
        },
        "git": {
            "branch": _pair(old["git"].get("branch"), new["git"].get("branch")),
            "head": _pair(*heads),
            "commits": commits,
            "dirty_files": _pair(len(old["git"]["dirty"]), len(new["git"]["dirty"])),
        },
        "state": {
            "revision": _pair(
                (old["state"] or {}).get("revision"), (new["state"] or {}).get("revision")
            ),
            "checksum": _pair(
                (old["state"] or {}).get("checksum"), (new["state"] or {}).get("checksum")
            ),
        },
        "memory": memory,
    }


def restore_checkpoint(
    project: ProjectPaths, text: str, *, store: StateStore | None = None
) -> dict[str, Any]:
    """Make the checkpoint's task state the current one, as a new revision; the state it
    replaces stays in the backups (it is saved there first when it is not)."""
    from coditect.tasks.orchestrator import Orchestrator
    from coditect.tasks.statefile import load_table
    from coditect.tasks.store import StateStore

    checkpoint = load_checkpoint(project, text)
    state = checkpoint["state"]
    if not state or not state.get("file"):
        raise NotFoundError(
            f"checkpoint {checkpoint['id']} holds no task state",
            "The project had no task state when it was taken; nothing to restore.",
        )
    path = checkpoint_dir(project) / state["file"]
    try:
        header, table = load_table(path.read_bytes())
    except OSError as exc:
        raise NotFoundError(
            f"the state of checkpoint {checkpoint['id']} is missing: {exc}"
        ) from exc
    if header["checksum"] != state["checksum"]:
        raise StateCorruptedError(
            f"{path.name} is not the state checkpoint {checkpoint['id']} recorded",
            "Its checksum differs from the one in the checkpoint; the file was replaced.",
        )
    store = store or StateStore(project.state_dir)
    with store.locked():
        current = store.load()
        saved_first = _back_up(store, current)
        revision = 1 + max(
            [current.revision + saved_first, *(b.revision or 0 for b in store.backups())]
        )
        store.save(Orchestrator(table), revision)
    return {
        "checkpoint": checkpoint["id"],
        "restored_revision": state["revision"],
        "revision": revision,
        "replaced_revision": current.revision + saved_first,
        "tasks": len(table),
        "backed_up_first": bool(saved_first),
    }


def _back_up(store: StateStore, current: Any) -> int:
    """Save the current state as a revision of its own unless the newest backup already
    holds it byte for byte; 1 if it was saved."""
    backups = store.backups()
    if not store.path.exists():
        return 0
    data = store.path.read_bytes()
    if backups and backups[0].path.read_bytes() == data:
        return 0
    store.save(current.orchestrator, current.revision + 1)
    return 1

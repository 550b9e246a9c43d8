"""Crash-safe task state: atomic writes, checksums, rotating backups, an inter-process lock.

The state lives in ``.coditect/state/tasks.json``, on one line::

    {"checksum":"sha256:…","revision":42,"saved_at":"…","schema_version":1,"tasks":[…]}

``checksum`` is the SHA-256 of the canonical encoding (sorted keys, no whitespace) of
the document without the checksum, so any change to its content is detected (layout
whitespace is not content). The file is written as exactly that encoding with the
checksum put first, so a load can hash the bytes as read.

A save writes the new document to ``backups/`` first and then replaces ``tasks.json``,
each file by temp file + fsync + ``os.replace`` + fsync of the folder. The newest valid
backup therefore always holds the last completed save, and a reader only ever sees a
whole file. When ``tasks.json`` fails to parse or to verify, the newest valid backup
is restored, the damaged file is moved to ``damaged/``, and the load says so.
"""

from __future__ import annotations

import gc
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from filelock import BaseFileLock

from coditect.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StateCorruptedError,
    ValidationError,
)
from coditect.tasks.model import AgentTask
from coditect.tasks.orchestrator import Orchestrator

__all__ = [
    "SCHEMA_VERSION",
    "Backup",
    "LoadResult",
    "StateStore",
    "decode_state",
    "encode_state",
]

SCHEMA_VERSION = 1
STATE_FILE = "tasks.json"
LOCK_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class LoadResult:
    """What a load found: the tasks, the revision, and any recovery it performed."""

    orchestrator: Orchestrator
    revision: int
    saved: list[dict[str, Any]] = field(default_factory=list)
    """The tasks as stored, so that a transaction can tell whether anything changed."""
    restored_from: Path | None = None
    damaged: Path | None = None
    problem: str = ""


@dataclass(frozen=True)
class Backup:
    path: Path
    revision: int | None
    saved_at: datetime | None
    tasks: int | None
    problem: str = ""

    @property
    def valid(self) -> bool:
        return not self.problem

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.path.name,
            "path": str(self.path),
            "revision": self.revision,
            "saved_at": self.saved_at.isoformat() if self.saved_at else None,
            "tasks": self.tasks,
            "valid": self.valid,
            "problem": self.problem,
        }


_HEAD = b'{"checksum":"sha256:'
_DIGEST_END = len(_HEAD) + 64


def _canonical(document: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace: one encoding for one content."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def _checksum(document: dict[str, Any]) -> str:
    body = {k: v for k, v in document.items() if k != "checksum"}
    return "sha256:" + sha256(_canonical(body)).hexdigest()


def encode_state(tasks: list[dict[str, Any]], revision: int, saved_at: datetime) -> bytes:
    """The bytes of a state file holding ``tasks`` (task dicts, in creation order).

    The file is the canonical encoding of the document with the checksum line put first
    (``checksum`` sorts first anyway), so a reader can verify the bytes as they are.
    """
    body = _canonical(
        {
            "schema_version": SCHEMA_VERSION,
            "revision": revision,
            "saved_at": saved_at.isoformat(),
            "tasks": tasks,
        }
    )
    digest = sha256(body).hexdigest().encode()
    return _HEAD + digest + b'",' + body[1:] + b"\n"


def _verified_as_written(data: bytes) -> bool:
    """Whether ``data`` is a file exactly as ``encode_state`` wrote it (the fast check)."""
    if not data.startswith(_HEAD) or not data.endswith(b"\n"):
        return False
    body = b"{" + data[_DIGEST_END + 2 : -1]
    return sha256(body).hexdigest().encode() == data[len(_HEAD) : _DIGEST_END]


def decode_state(data: bytes, *, strict: bool = False) -> tuple[dict[str, Any], list[AgentTask]]:
    """Parse and verify a state file; any damage raises StateCorruptedError.

    The checksum vouches for content this package wrote, so tasks are rebuilt without
    validating each field again; ``strict`` validates them all (``state verify``).
    """
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StateCorruptedError(f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise StateCorruptedError("not a state document")
    # A file re-formatted by hand (`jq .`) is still the same content: check the slow way.
    if not _verified_as_written(data) and document.get("checksum") != _checksum(document):
        raise StateCorruptedError("checksum mismatch: the file was changed or damaged")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise StateCorruptedError(
            f"schema version {version!r} is not {SCHEMA_VERSION}",
            "This state was written by another version of coditect; upgrade coditect.",
        )
    raw = document.get("tasks")
    if not isinstance(raw, list) or not isinstance(document.get("revision"), int):
        raise StateCorruptedError("the state has no task list or revision")
    build = AgentTask.from_dict if strict else AgentTask.from_trusted_dict
    try:
        tasks = [build(item) for item in raw]
    except (KeyError, AttributeError, TypeError, ValueError, ValidationError) as exc:
        detail = exc.message if isinstance(exc, ValidationError) else repr(exc)
        raise StateCorruptedError(f"invalid task: {detail}") from exc
    return document, tasks


def _decoded(data: bytes) -> LoadResult:
    with _gc_paused():
        document, tasks = decode_state(data)
        return LoadResult(Orchestrator(tasks), document["revision"], document["tasks"])


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Building thousands of objects triggers needless full collections; pause them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()
"""The mode a plain ``open()`` would give, rather than mkstemp's 0600."""
TEMP_SUFFIX = ".tmp"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a mix."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class StateStore:
    """The task state of one project on disk."""

    def __init__(self, state_dir: Path, *, keep_backups: int = 20) -> None:
        self.dir = state_dir
        self.path = state_dir / STATE_FILE
        self.backups_dir = state_dir / "backups"
        self.damaged_dir = state_dir / "damaged"
        self.keep_backups = keep_backups
        self._lock: BaseFileLock | None = None  # made on first use: reads need no lock

    # -- locking -------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the project's state lock (re-entrant within one store)."""
        from filelock import FileLock, Timeout

        if self._lock is None:
            self._lock = FileLock(self.dir / "lock", timeout=LOCK_TIMEOUT_SECONDS)
        try:
            with self._lock:
                yield
        except Timeout as exc:
            raise ConflictError(
                f"another coditect process has held {self._lock.lock_file} for "
                f"{LOCK_TIMEOUT_SECONDS:.0f}s",
                "Wait for it to finish, or stop it if it hangs.",
            ) from exc

    @contextmanager
    def transaction(self) -> Iterator[LoadResult]:
        """Lock, load, let the caller change the tasks, and save them when it returns,
        if they differ from what was loaded.

        An exception inside the block leaves the state file as it was.
        """
        with self.locked():
            loaded = self.load()
            # Bytes, not the dicts: loaded tasks share their lists with ``saved``.
            before = orjson.dumps(loaded.saved, option=orjson.OPT_SORT_KEYS)
            yield loaded
            with _gc_paused():
                tasks = [t.to_dict() for t in loaded.orchestrator.tasks.values()]
            if orjson.dumps(tasks, option=orjson.OPT_SORT_KEYS) != before:
                self._write(tasks, loaded.revision + 1)

    # -- loading -------------------------------------------------------------------------

    def load(self) -> LoadResult:
        """The current state, restoring the newest valid backup if the file is damaged."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            if not self._backup_paths():
                return LoadResult(Orchestrator(), 0)
            return self._recover("the state file is missing")
        except OSError as exc:
            raise InvalidInputError(
                f"cannot read {self.path}: {exc.strerror}",
                "Check that the file is readable by you, or restore it from "
                "`coditect state backups`.",
            ) from exc
        try:
            return _decoded(data)
        except StateCorruptedError as exc:
            return self._recover(exc.message)

    def _recover(self, problem: str) -> LoadResult:
        with self.locked():
            # Another process may have repaired the file while we waited for the lock.
            try:
                return _decoded(self.path.read_bytes())
            except (OSError, StateCorruptedError):
                pass
            for backup in reversed(self._backup_paths()):
                try:
                    data = backup.read_bytes()
                    loaded = _decoded(data)
                except (OSError, StateCorruptedError):
                    continue
                damaged = self._set_aside()
                atomic_write(self.path, data)
                return replace(loaded, restored_from=backup, damaged=damaged, problem=problem)
        raise StateCorruptedError(
            f"{self.path}: {problem}, and no valid backup exists in {self.backups_dir}"
        )

    def _set_aside(self) -> Path | None:
        if not self.path.exists():
            return None
        self.damaged_dir.mkdir(exist_ok=True)
        target = self.damaged_dir / f"{_stamp(datetime.now(UTC))}-{STATE_FILE}"
        os.replace(self.path, target)
        return target

    # -- saving --------------------------------------------------------------------------

    def save(self, orchestrator: Orchestrator, revision: int) -> Path:
        """Save durably; returns the backup written alongside."""
        with _gc_paused():
            tasks = [t.to_dict() for t in orchestrator.tasks.values()]
        return self._write(tasks, revision)

    def _write(self, tasks: list[dict[str, Any]], revision: int) -> Path:
        with self.locked():
            # Stamped under the lock, and after the newest backup even if the clock went
            # back, so backup names sort in save order and pruning keeps the newest.
            now = datetime.now(UTC)
            with _gc_paused():
                data = encode_state(tasks, revision, now)
            self.dir.mkdir(parents=True, exist_ok=True)
            self.backups_dir.mkdir(exist_ok=True)
            backup = self.backups_dir / f"{_stamp(self._after_newest(now))}-r{revision:06d}.json"
            atomic_write(backup, data)
            atomic_write(self.path, data)
            self._prune()
            self._remove_stale_temp_files()
        return backup

    def _backup_paths(self) -> list[Path]:
        """Backups, oldest first (names start with a sortable UTC timestamp); files of
        other names in the folder are not backups."""
        if not self.backups_dir.is_dir():
            return []
        return sorted(
            p for p in self.backups_dir.iterdir() if _BACKUP_NAME.fullmatch(p.name) and p.is_file()
        )

    def _after_newest(self, now: datetime) -> datetime:
        """``now``, or just after the newest backup's time if that is not earlier."""
        paths = self._backup_paths()
        if not paths:
            return now
        try:
            newest = datetime.strptime(paths[-1].name[:23], _STAMP).replace(tzinfo=UTC)
        except ValueError:  # not a name this store wrote
            return now
        return max(now, newest + timedelta(microseconds=1))

    def _remove_stale_temp_files(self) -> None:
        """Temp files left by a process killed mid-save; safe to remove under the lock."""
        for folder in (self.dir, self.backups_dir):
            for stale in folder.glob(f".*{TEMP_SUFFIX}"):
                stale.unlink(missing_ok=True)

    def _prune(self) -> None:
        paths = self._backup_paths()
        for old in paths[: max(0, len(paths) - self.keep_backups)]:
            old.unlink(missing_ok=True)

    # -- inspecting and repairing ----------------------------------------------------------

    def backups(self) -> list[Backup]:
        """Every backup, newest first, each verified."""
        return [self._inspect(p) for p in reversed(self._backup_paths())]

    def verify(self) -> Backup:
        """Verify the state file itself, without repairing it."""
        if not self.path.exists():
            return Backup(self.path, None, None, None, "missing")
        return self._inspect(self.path)

    def _inspect(self, path: Path) -> Backup:
        try:
            with _gc_paused():
                document, tasks = decode_state(path.read_bytes(), strict=True)
        except StateCorruptedError as exc:
            return Backup(path, None, None, None, exc.message)
        except OSError as exc:
            return Backup(path, None, None, None, exc.strerror or str(exc))
        saved = datetime.fromisoformat(document["saved_at"])
        return Backup(path, document["revision"], saved, len(tasks))

    def rollback(self, name: str | None = None) -> tuple[Backup, int]:
        """Make a backup the current state (as a new save, so a rollback can be undone).

        Without ``name``, goes back to the newest valid backup older than the current
        state. Returns the backup used and the new revision.
        """
        with self.locked():
            current = self.verify()
            candidates = self.backups()
            if name is not None:
                chosen = next((b for b in candidates if b.path.name == name), None)
                if chosen is None:
                    raise NotFoundError(
                        f"no backup named {name}", "Run `coditect state backups` to list them."
                    )
            else:
                older = [
                    b
                    for b in candidates
                    if b.valid
                    and (current.revision is None or (b.revision or 0) < current.revision)
                ]
                if not older:
                    raise NotFoundError("no earlier valid backup to roll back to")
                chosen = older[0]
            if not chosen.valid:
                raise StateCorruptedError(f"backup {chosen.path.name} is damaged: {chosen.problem}")
            _, tasks = decode_state(chosen.path.read_bytes())
            revision = max(current.revision or 0, *(b.revision or 0 for b in candidates)) + 1
            self.save(Orchestrator(tasks), revision)
        return chosen, revision


_STAMP = "%Y%m%dT%H%M%S.%fZ"
_BACKUP_NAME = re.compile(r"\d{8}T\d{6}\.\d{6}Z-r\d+\.json")


def _stamp(moment: datetime) -> str:
    return moment.strftime(_STAMP)

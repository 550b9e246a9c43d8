"""Crash-safe task state: atomic writes, checksums, rotating backups, an inter-process lock.

The state lives in ``.coditect/state/tasks.json`` (its format: ``statefile``). A save
writes the new file to ``backups/`` first and then replaces ``tasks.json``, each by temp
file + fsync + ``os.replace`` + fsync of the folder. The newest valid backup therefore
always holds the last completed save, and a reader only ever sees a whole file. When
``tasks.json`` fails to parse or to verify, the newest valid backup is restored, the
damaged file is moved to ``damaged/``, and the load says so.
"""

from __future__ import annotations

import gc
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from filelock import BaseFileLock

from coditect.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StateCorruptedError,
)
from coditect.tasks.orchestrator import Orchestrator
from coditect.tasks.statefile import decode_state, encode_table, load_table

__all__ = ["Backup", "LoadResult", "StateStore", "atomic_write"]

STATE_FILE = "tasks.json"
LOCK_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class LoadResult:
    """What a load found: the tasks, the revision, and any recovery it performed."""

    orchestrator: Orchestrator
    revision: int
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


def _decoded(data: bytes) -> LoadResult:
    with _gc_paused():
        header, table = load_table(data)
    return LoadResult(Orchestrator(table), header["revision"])


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
            yield loaded
            self._write(loaded.orchestrator, loaded.revision + 1, only_if_changed=True)

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
        backup = self._write(orchestrator, revision)
        assert backup is not None
        return backup

    def _write(
        self, orchestrator: Orchestrator, revision: int, *, only_if_changed: bool = False
    ) -> Path | None:
        with self.locked():
            # Stamped under the lock, and after the newest backup even if the clock went
            # back, so backup names sort in save order and pruning keeps the newest.
            now = datetime.now(UTC)
            with _gc_paused():
                data = encode_table(orchestrator.tasks, revision, now, only_if_changed)
            if data is None:
                return None
            self.dir.mkdir(parents=True, exist_ok=True)
            self.backups_dir.mkdir(exist_ok=True)
            backup = self.backups_dir / f"{_stamp(self._after_newest(now))}-r{revision:06d}.json"
            atomic_write(backup, data)
            # Pruning first frees the oldest backup's pages for the next write: twice
            # as fast where the page cache is at its limit (a container).
            self._prune()
            atomic_write(self.path, data)
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
            _, table = load_table(chosen.path.read_bytes())
            revision = max(current.revision or 0, *(b.revision or 0 for b in candidates)) + 1
            self.save(Orchestrator(table), revision)
        return chosen, revision


_STAMP = "%Y%m%dT%H%M%S.%fZ"
_BACKUP_NAME = re.compile(r"\d{8}T\d{6}\.\d{6}Z-r\d+\.json")


def _stamp(moment: datetime) -> str:
    return moment.strftime(_STAMP)

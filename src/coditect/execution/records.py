"""Run records: ``.coditect/runs/<run-id>/`` — the events of a run, its lease, its summary.

A run folder holds:

- ``events.jsonl``: one JSON object per line, appended and flushed as things happen;
- ``lease.json``: who runs it (pid, host) and a heartbeat the run refreshes every few
  seconds while it is alive; removed when the run ends cleanly;
- ``tasks/<task-id>/``: the logs of each task's executions;
- ``summary.json``: written once, when the run ends (also after Ctrl-C or a budget).

A run that left no summary and whose lease is dead (its process is gone, or its heartbeat
is older than ``STALE_AFTER_SECONDS``) crashed; the next run takes its tasks back.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from coditect.errors import NotFoundError, ValidationError

__all__ = [
    "HEARTBEAT_SECONDS",
    "STALE_AFTER_SECONDS",
    "Lease",
    "RunRecord",
    "RunStatus",
    "is_run_id",
    "lease_problem",
    "list_runs",
    "new_run_id",
    "read_events",
    "run_details",
]

HEARTBEAT_SECONDS = 5.0
"""How often a live run refreshes its lease."""
STALE_AFTER_SECONDS = 60.0
"""A lease not refreshed for this long belongs to a dead run (a hung or frozen machine)."""

_ALPHABET = "abcdefghjkmnpqrstvwxyz0123456789"


def new_run_id(now: datetime | None = None) -> str:
    """``r-20261122T101500Z-4kq9``: sortable by start time, and two machines starting a run
    in the same second still get different ids (20 random bits)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(4))
    return f"r-{moment.strftime('%Y%m%dT%H%M%SZ')}-{suffix}"


def is_run_id(text: str) -> bool:
    return (
        len(text) == 23
        and text.startswith("r-")
        and text[2:10].isdigit()
        and text[10] == "T"
        and text[17:19] == "Z-"
        and all(c in _ALPHABET for c in text[19:])
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _write_json(path: Path, data: Any) -> None:
    """Replace ``path`` whole (temp file + rename): readers never see half a file."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    os.replace(temp, path)


@dataclass(frozen=True)
class Lease:
    """Who holds a run, and when it last said it was alive."""

    run_id: str
    pid: int
    host: str
    started_at: datetime
    heartbeat_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "pid": self.pid,
            "host": self.host,
            "started_at": self.started_at.isoformat(),
            "heartbeat_at": self.heartbeat_at.isoformat(),
        }

    @classmethod
    def read(cls, path: Path) -> Lease | None:
        """The lease in ``path``; None when it is missing or unreadable."""
        try:
            data = orjson.loads(path.read_bytes())
            return cls(
                run_id=data["run_id"],
                pid=int(data["pid"]),
                host=data["host"],
                started_at=datetime.fromisoformat(data["started_at"]),
                heartbeat_at=datetime.fromisoformat(data["heartbeat_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _process_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs on this machine (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: it exists
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS): the signal said it exists
    return stat.rpartition(")")[2].split()[0] == "Z"


def lease_problem(
    lease: Lease | None, *, stale_after: float = STALE_AFTER_SECONDS, now: datetime | None = None
) -> str:
    """Why the run holding ``lease`` is dead, or "" while it is alive."""
    if lease is None:
        return "it left no lease"
    if lease.host == socket.gethostname() and lease.pid != os.getpid() and _process_gone(lease.pid):
        return f"its process {lease.pid} is gone"
    age = ((now or datetime.now(UTC)) - lease.heartbeat_at).total_seconds()
    if age > stale_after:
        return f"its last heartbeat was {age:.0f}s ago"
    return ""


class RunRecord:
    """The folder of one run, written by the process that runs it."""

    def __init__(self, runs_dir: Path, run_id: str, *, heartbeat: float = HEARTBEAT_SECONDS):
        self.run_id = run_id
        self.dir = runs_dir / run_id
        self.events_path = self.dir / "events.jsonl"
        self.lease_path = self.dir / "lease.json"
        self.summary_path = self.dir / "summary.json"
        self._heartbeat_seconds = heartbeat
        self._events: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = datetime.now(UTC)

    def open(self) -> RunRecord:
        """Create the folder, take the lease and start the heartbeat."""
        (self.dir / "tasks").mkdir(parents=True, exist_ok=True)
        self._events = self.events_path.open("ab")
        self._beat()
        self._thread = threading.Thread(
            target=self._heartbeat_loop, name=f"heartbeat-{self.run_id}", daemon=True
        )
        self._thread.start()
        return self

    def _beat(self) -> None:
        lease = Lease(
            self.run_id, os.getpid(), socket.gethostname(), self._started_at, datetime.now(UTC)
        )
        _write_json(self.lease_path, lease.to_dict())

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self._heartbeat_seconds):
            with contextlib.suppress(OSError):  # a full disk must not kill the run
                self._beat()

    def task_dir(self, task_id: str) -> Path:
        """Where the executions of ``task_id`` write their logs (made by the worker that
        runs it: a ``mkdir`` costs the main thread more than it seems)."""
        return self.dir / "tasks" / task_id

    def event(self, kind: str, **fields: Any) -> None:
        """Append one event, flushed at once so a crash loses at most the line in flight."""
        line = orjson.dumps({"at": _now(), "event": kind, **fields}) + b"\n"
        with self._lock:
            if self._events is not None:
                self._events.write(line)
                self._events.flush()

    def close(self, summary: dict[str, Any]) -> None:
        """Write the summary, stop the heartbeat and release the lease."""
        _write_json(self.summary_path, summary)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._events is not None:
                self._events.close()
                self._events = None
        self.lease_path.unlink(missing_ok=True)


# -- reading runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunStatus:
    """One run, as ``coditect runs list`` shows it."""

    run_id: str
    state: str
    """completed, failed, budget_exceeded, interrupted, incomplete, running or crashed."""
    started_at: str | None
    duration_s: float | None
    tasks: int
    completed: int
    failed: int
    cost_usd: float
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "state": self.state,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "tasks": self.tasks,
            "completed": self.completed,
            "failed": self.failed,
            "cost_usd": self.cost_usd,
            "tokens": self.tokens,
        }


def read_events(run_dir: Path) -> Iterator[dict[str, Any]]:
    """The events of a run; a line cut short by a crash is skipped."""
    try:
        data = (run_dir / "events.jsonl").read_bytes()
    except FileNotFoundError:
        return
    for line in data.splitlines():
        with contextlib.suppress(orjson.JSONDecodeError):
            event = orjson.loads(line)
            if isinstance(event, dict):
                yield event


def _summary(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = orjson.loads((run_dir / "summary.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _from_events(run_dir: Path) -> dict[str, Any]:
    """What can be said of a run without a summary: it is running, or it crashed."""
    problem = lease_problem(Lease.read(run_dir / "lease.json"))
    started: str | None = None
    tasks: dict[str, str] = {}
    tokens, cost = 0, 0.0
    for event in read_events(run_dir):
        kind = event.get("event")
        if kind == "run_started":
            started = event.get("at")
        elif kind == "task_started":
            tasks.setdefault(str(event.get("task")), "in_progress")
        elif kind == "task_finished":
            tasks[str(event.get("task"))] = str(event.get("status"))
            tokens += int(event.get("tokens") or 0)
            cost += float(event.get("cost_usd") or 0.0)
    return {
        "run_id": run_dir.name,
        "outcome": "crashed" if problem else "running",
        "reason": f"the run died: {problem}" if problem else "",
        "started_at": started,
        "duration_s": None,
        "totals": {
            "tasks": len(tasks),
            "completed": sum(s == "completed" for s in tasks.values()),
            "failed": sum(s == "failed" for s in tasks.values()),
            "tokens": tokens,
            "cost_usd": round(cost, 6),
        },
        "tasks": [{"id": task_id, "status": status} for task_id, status in tasks.items()],
    }


def run_details(runs_dir: Path, run_id: str) -> dict[str, Any]:
    """The summary of a run, or what its events say when it has none (running, crashed)."""
    if not is_run_id(run_id):
        raise ValidationError(
            f"{run_id!r} is not a run id",
            "Run ids look like r-20261122T101500Z-4kq9; `coditect runs list` shows them.",
        )
    run_dir = runs_dir / run_id
    if not run_dir.is_dir():
        raise NotFoundError(f"no run {run_id}", "Run `coditect runs list` to see the runs.")
    return _summary(run_dir) or _from_events(run_dir)


def list_runs(runs_dir: Path) -> list[RunStatus]:
    """Every run of the project, newest first."""
    if not runs_dir.is_dir():
        return []
    rows = []
    for run_dir in sorted(runs_dir.iterdir(), reverse=True):
        if not (run_dir.is_dir() and is_run_id(run_dir.name)):
            continue
        data = _summary(run_dir) or _from_events(run_dir)
        totals = data.get("totals") or {}
        rows.append(
            RunStatus(
                run_id=run_dir.name,
                state=str(data.get("outcome")),
                started_at=data.get("started_at"),
                duration_s=data.get("duration_s"),
                tasks=int(totals.get("tasks") or 0),
                completed=int(totals.get("completed") or 0),
                failed=int(totals.get("failed") or 0),
                cost_usd=float(totals.get("cost_usd") or 0.0),
                tokens=int(totals.get("tokens") or 0),
            )
        )
    return rows

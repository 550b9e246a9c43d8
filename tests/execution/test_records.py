"""Run records: ids, leases and their liveness, events, listing runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from coditect.errors import NotFoundError, ValidationError
from coditect.execution.records import (
    Lease,
    RunRecord,
    is_run_id,
    lease_problem,
    list_runs,
    new_run_id,
    read_events,
    run_details,
)


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def lease(pid: int, *, age: float = 0.0, host: str | None = None) -> Lease:
    now = datetime.now(UTC)
    return Lease(
        "r-20260101T000000Z-abcd",
        pid,
        host or socket.gethostname(),
        now - timedelta(seconds=age),
        now - timedelta(seconds=age),
    )


def test_run_ids_sort_by_time_and_differ() -> None:
    early = new_run_id(datetime(2026, 11, 22, 10, 15, tzinfo=UTC))
    late = new_run_id(datetime(2026, 11, 22, 10, 16, tzinfo=UTC))
    assert early.startswith("r-20261122T101500Z-")
    assert early < late
    assert is_run_id(early)
    assert len({new_run_id() for _ in range(200)}) > 190
    for bad in ("r-2026", "x-20261122T101500Z-abcd", "r-20261122T101500Z-ABCD", "../etc"):
        assert not is_run_id(bad)


def test_a_lease_is_alive_while_its_process_runs_and_beats() -> None:
    assert lease_problem(lease(os.getppid())) == ""


def test_a_lease_whose_process_is_gone_is_dead() -> None:
    pid = dead_pid()
    assert lease_problem(lease(pid)) == f"its process {pid} is gone"


def test_a_zombie_counts_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        assert lease_problem(lease(child.pid)) == f"its process {child.pid} is gone"
    finally:
        child.wait()


def test_a_stale_heartbeat_is_dead_even_if_the_pid_exists() -> None:
    """The pid may have been reused; on another host it cannot be checked at all."""
    assert lease_problem(lease(os.getppid(), age=120), stale_after=60).startswith(
        "its last heartbeat was 120s ago"
    )
    assert lease_problem(lease(dead_pid(), host="elsewhere"), stale_after=60) == ""
    assert lease_problem(None) == "it left no lease"


def test_a_record_writes_events_as_they_happen_and_beats(tmp_path: Path) -> None:
    record = RunRecord(tmp_path, new_run_id(), heartbeat=0.05).open()
    record.event("run_started", tasks=2)
    record.event("task_started", task="a")
    # Flushed: another process reading now sees both lines.
    assert [e["event"] for e in read_events(record.dir)] == ["run_started", "task_started"]
    first = Lease.read(record.lease_path)
    assert first is not None and first.pid == os.getpid()
    time.sleep(0.3)
    second = Lease.read(record.lease_path)
    assert second is not None and second.heartbeat_at > first.heartbeat_at
    assert record.task_dir("a") == record.dir / "tasks" / "a"
    record.close({"run_id": record.run_id, "outcome": "completed"})
    assert not record.lease_path.exists()
    assert orjson.loads(record.summary_path.read_bytes())["outcome"] == "completed"


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_bytes(b'{"event": "a"}\n{"event": "b"}\n{"eve')
    assert [e["event"] for e in read_events(tmp_path)] == ["a", "b"]


def test_listing_runs_finished_running_and_crashed(tmp_path: Path) -> None:
    finished = RunRecord(tmp_path, "r-20260101T000000Z-aaaa").open()
    summary = {
        "run_id": finished.run_id,
        "outcome": "completed",
        "started_at": "2026-01-01T00:00:00+00:00",
        "duration_s": 1.5,
        "totals": {"tasks": 2, "completed": 2, "failed": 0, "tokens": 10, "cost_usd": 0.5},
    }
    finished.close(summary)
    running = RunRecord(tmp_path, "r-20260102T000000Z-bbbb").open()
    running.event("run_started")
    running.event("task_started", task="x")
    crashed = tmp_path / "r-20260103T000000Z-cccc"
    crashed.mkdir()
    (crashed / "lease.json").write_bytes(orjson.dumps(lease(dead_pid()).to_dict()))
    (crashed / "events.jsonl").write_bytes(
        b'{"at": "2026-01-03T00:00:00+00:00", "event": "run_started"}\n'
        b'{"event": "task_started", "task": "y"}\n'
        b'{"event": "task_finished", "task": "y", "status": "completed", "tokens": 3}\n'
        b'{"event": "task_started", "task": "z"}\n'
    )
    (tmp_path / "not-a-run").mkdir()
    try:
        rows = {r.run_id: r for r in list_runs(tmp_path)}
        assert list(rows) == [crashed.name, running.run_id, finished.run_id]  # newest first
        assert rows[finished.run_id].state == "completed"
        assert rows[finished.run_id].cost_usd == 0.5
        assert rows[running.run_id].state == "running"
        assert (rows[crashed.name].state, rows[crashed.name].tasks) == ("crashed", 2)
        assert (rows[crashed.name].completed, rows[crashed.name].tokens) == (1, 3)
        details = run_details(tmp_path, crashed.name)
        assert details["reason"].startswith("the run died: its process")
    finally:
        running.close({"run_id": running.run_id, "outcome": "completed"})


def test_run_details_of_a_bad_or_unknown_id(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is not a run id"):
        run_details(tmp_path, "../../etc")
    with pytest.raises(NotFoundError):
        run_details(tmp_path, "r-20260101T000000Z-aaaa")

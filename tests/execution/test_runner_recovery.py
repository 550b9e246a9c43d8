"""Recovery: tasks left in progress by dead runs come back; live runs and people keep theirs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from coditect.errors import StateCorruptedError
from coditect.execution.fake import FakeExecutor
from coditect.execution.records import Lease, RunRecord, new_run_id
from coditect.execution.runner import RunOptions
from coditect.paths import ProjectPaths
from coditect.tasks.model import AgentTask, Status
from tests.execution.runner_support import events_of, fake_task, make_project, make_runner, tasks_of

DEAD_RUN = "r-20260101T000000Z-dead"


def held(task: AgentTask, run_id: str | None) -> AgentTask:
    """``task`` as a run (or a person, for None) left it: in progress."""
    task.record(Status.IN_PROGRESS, "started")
    task.run_id = run_id
    return task


def write_lease(paths: ProjectPaths, run_id: str, pid: int, age: float = 0.0) -> None:
    folder = paths.dir / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    moment = datetime.now(UTC) - timedelta(seconds=age)
    lease = Lease(run_id, pid, socket.gethostname(), moment, moment)
    (folder / "lease.json").write_bytes(orjson.dumps(lease.to_dict()))


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_tasks_of_a_dead_run_come_back_and_completed_ones_stay_done(tmp_path: Path) -> None:
    done = fake_task("done")
    done.record(Status.IN_PROGRESS)
    done.record(Status.COMPLETED)
    tasks = [done, held(fake_task("a", "done"), DEAD_RUN), fake_task("b", "a")]
    paths, store = make_project(tmp_path, tasks)
    pid = dead_pid()
    write_lease(paths, DEAD_RUN, pid)
    fake = FakeExecutor()
    summary = make_runner(paths, store, fake).run()
    assert fake.calls == ["a", "b"]
    assert summary.outcome == "completed"
    a = tasks_of(store)["a"]
    reason = f"its process {pid} is gone"
    notes = [h.note for h in a.history]
    assert f"recovered: run {DEAD_RUN} died ({reason})" in notes
    assert summary.data["recovered"] == [{"task": "a", "run": DEAD_RUN, "reason": reason}]
    recovered = [e for e in events_of(paths, summary.run_id) if e["event"] == "task_recovered"]
    assert [e["task"] for e in recovered] == ["a"]


def test_a_run_that_left_no_lease_is_dead(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [held(fake_task("a"), "r-20260101T000000Z-gone")])
    summary = make_runner(paths, store).run()
    assert summary.data["recovered"][0]["reason"] == "it left no lease"
    assert tasks_of(store)["a"].status is Status.COMPLETED


def test_a_stale_heartbeat_means_a_dead_run_even_if_the_pid_lives(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [held(fake_task("a"), DEAD_RUN)])
    write_lease(paths, DEAD_RUN, os.getppid(), age=30)
    options = RunOptions(stale_after=10)
    summary = make_runner(paths, store, options=options).run()
    assert summary.data["recovered"][0]["reason"].startswith("its last heartbeat was 30s ago")


def test_tasks_started_by_hand_are_left_alone(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [held(fake_task("mine"), None), fake_task("b")])
    fake = FakeExecutor()
    summary = make_runner(paths, store, fake).run()
    assert fake.calls == ["b"]
    mine = tasks_of(store)["mine"]
    assert (mine.status, mine.run_id) == (Status.IN_PROGRESS, None)
    assert summary.data["left_alone"] == ["mine"]
    assert summary.outcome == "incomplete"
    events = events_of(paths, summary.run_id)
    assert any(e["event"] == "left_alone" and e["tasks"] == ["mine"] for e in events)


def test_a_live_run_keeps_its_tasks_and_this_run_waits_for_them(tmp_path: Path) -> None:
    """The other run's lease is fresh: its task is not taken; once it completes, the
    dependent runs here."""
    other = RunRecord(tmp_path / ".coditect" / "runs", new_run_id(), heartbeat=0.1)
    paths, store = make_project(tmp_path, [held(fake_task("a"), other.run_id), fake_task("b", "a")])
    other.open()
    fake = FakeExecutor()
    runner = make_runner(paths, store, fake, options=RunOptions(poll=0.05))
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        time.sleep(0.6)
        assert thread.is_alive()
        assert fake.calls == []
        assert tasks_of(store)["a"].run_id == other.run_id
        with store.transaction() as loaded:  # the other run finishes its task
            loaded.orchestrator.complete("a")
            loaded.orchestrator.update("a", run_id=None)
        thread.join(timeout=10)
    finally:
        other.close({"run_id": other.run_id, "outcome": "completed"})
    assert not thread.is_alive()
    assert fake.calls == ["b"]
    assert runner.recovered == []


def test_a_live_run_s_unrelated_task_does_not_keep_this_run_waiting(tmp_path: Path) -> None:
    other = RunRecord(tmp_path / ".coditect" / "runs", new_run_id())
    tasks = [held(fake_task("theirs"), other.run_id), fake_task("mine")]
    paths, store = make_project(tmp_path, tasks)
    other.open()
    try:
        summary = make_runner(paths, store, options=RunOptions(until="mine")).run()
    finally:
        other.close({"run_id": other.run_id, "outcome": "completed"})
    assert summary.outcome == "completed"
    assert tasks_of(store)["theirs"].status is Status.IN_PROGRESS


def test_a_run_stopped_by_an_error_leaves_its_tasks_for_the_next_run(tmp_path: Path) -> None:
    """A failure of the run itself (here: the state is damaged beyond repair while it
    runs) ends the run with an error summary and no lease, so that the next run takes
    its tasks back."""
    paths, store = make_project(tmp_path, [fake_task("a", sleep=0.5), fake_task("b", "a")])
    runner = make_runner(paths, store)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            runner.run()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while tasks_of(store)["a"].status is not Status.IN_PROGRESS:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    good = store.path.read_bytes()
    shutil.rmtree(paths.state_dir / "backups")
    store.path.write_bytes(b"{ damaged")
    thread.join(timeout=20)
    assert failures and isinstance(failures[0], StateCorruptedError)
    run_dir = paths.dir / "runs" / runner.run_id
    assert orjson.loads((run_dir / "summary.json").read_bytes())["outcome"] == "error"
    assert not (run_dir / "lease.json").exists()
    store.path.write_bytes(good)  # what `coditect state rollback` would bring back
    assert tasks_of(store)["a"].run_id == runner.run_id
    fake = FakeExecutor()
    again = make_runner(paths, store, fake).run()
    assert again.outcome == "completed"
    assert again.data["recovered"] == [
        {"task": "a", "run": runner.run_id, "reason": "it left no lease"}
    ]
    assert fake.calls == ["a", "b"]

"""The runner's proof, through the real CLI: a 30-task plan, the runner killed with
SIGKILL part-way, a second run that finishes the work, every task done exactly once.

What "exactly once" can honestly mean after ``kill -9``: the runner records a task as
completed only after its command has ended, so a task can have done its work and still
be in progress in the state when the runner dies. Such a task runs again. The runner's
guarantee is therefore: a completed task never runs again, a task in flight at the
crash runs again (at least once), and nothing else does. Tasks make that safe by being
idempotent, as these are: each appends its id only if it is not there yet
(docs/running.md, "Recovery").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.execution.helpers import wait_gone

pytestmark = pytest.mark.slow

TASKS = 30


def command(number: int) -> str:
    """Log the start (not idempotent: shows re-runs), work, then append the id once."""
    return (
        f"echo $$ >> pids.log; echo {number} >> started.log; sleep 0.2; "
        f"grep -qx {number} out.txt 2>/dev/null || echo {number} >> out.txt"
    )


def plan() -> dict[str, object]:
    """Six chains of five tasks; the last task of each chain also needs the first chain's
    head, and the final task needs every chain's end."""
    tasks = []
    for number in range(1, TASKS + 1):
        deps = [number - 1] if (number - 1) % 5 else []
        if number % 5 == 0 and number > 5:
            deps.append(1)
        if number == TASKS:
            deps += list(range(5, TASKS, 5))
        tasks.append(
            {
                "id": number,
                "title": f"Step {number}",
                "status": "pending",
                "dependencies": deps,
                "coditect": {"commands": [command(number)]},
            }
        )
    return {"master": {"tasks": tasks}}


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def state_rows(root: Path) -> dict[str, dict[str, object]]:
    listed = json.loads(run_cli("task", "list", "--json", cwd=root).stdout)
    return {row["id"]: row for row in listed}


def test_a_run_killed_part_way_is_finished_by_the_next_one(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    run_cli("init", cwd=root)
    (root / "tasks.json").write_text(json.dumps(plan()))
    run_cli("plan", "import", "tasks.json", cwd=root)

    runner = subprocess.Popen(
        [sys.executable, "-m", "coditect", "run", "--parallel", "4"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(lines(root / "out.txt")) < 8:
        assert runner.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    # The commands in flight are process groups of their own: they finish by themselves.
    assert wait_gone([int(p) for p in lines(root / "pids.log")], timeout=10) == []

    rows = state_rows(root)
    [dead_run] = [p.name for p in (root / ".coditect" / "runs").iterdir()]
    in_flight = {i for i, row in rows.items() if row["status"] == "in_progress"}
    done_before = {i for i, row in rows.items() if row["status"] == "completed"}
    assert in_flight, "the kill should catch tasks in progress"
    assert all(rows[i]["run_id"] == dead_run for i in in_flight)
    assert 0 < len(done_before) < TASKS

    second = run_cli("run", "--json", cwd=root)
    summary = json.loads(second.stdout)
    assert summary["outcome"] == "completed"
    assert {row["task"] for row in summary["recovered"]} == in_flight
    assert all(row["run"] == dead_run for row in summary["recovered"])
    rerun = {row["id"] for row in summary["tasks"]}
    assert rerun.isdisjoint(done_before)  # a completed task never runs again
    assert rerun == set(rows) - done_before

    ids = [str(n) for n in range(1, TASKS + 1)]
    out = lines(root / "out.txt")
    assert sorted(out, key=int) == ids  # every task's work is there, exactly once
    starts = Counter(lines(root / "started.log"))
    assert set(starts) == set(ids)
    assert {i for i, n in starts.items() if n > 1} <= in_flight  # only those ran twice

    report = json.loads(run_cli("report", "--json", cwd=root).stdout)
    assert report["completion_percent"] == 100.0
    assert report["by_status"] == {"completed": TASKS}
    runs = json.loads(run_cli("runs", "list", "--json", cwd=root).stdout)
    assert [r["state"] for r in runs] == ["completed", "crashed"]

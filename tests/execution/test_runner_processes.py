"""The runner as real ``coditect run`` processes: two at once on one project, Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from coditect.paths import ProjectPaths
from coditect.tasks.model import AgentTask, Status
from coditect.tasks.store import StateStore
from tests.execution.helpers import alive, kill_quietly, wait_gone
from tests.execution.runner_support import tasks_of

pytestmark = pytest.mark.slow


def start_run(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "coditect", "run", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def add_tasks(store: StateStore, tasks: list[AgentTask]) -> None:
    with store.transaction() as loaded:
        loaded.orchestrator.put(tasks)


def runs_of(root: Path) -> list[Path]:
    runs = ProjectPaths(root).dir / "runs"
    return sorted(runs.iterdir()) if runs.exists() else []


def events(run_dir: Path) -> list[dict[str, object]]:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.endswith(b"}")]


def started(root: Path) -> list[str]:
    return [
        str(e["task"]) for run in runs_of(root) for e in events(run) if e["event"] == "task_started"
    ]


def wait_until(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_two_runs_at_once_share_the_work_and_never_run_a_task_twice(
    project_dir: Path, store: StateStore
) -> None:
    ids = [f"t{i:02d}" for i in range(16)]
    tasks = [
        AgentTask(
            id=task_id,
            title=task_id,
            # Every fourth task depends on the one before: chains that cross the two runs.
            dependencies=[ids[i - 1]] if i % 4 else [],
            commands=[f"echo {task_id} >> out.txt; sleep 0.3"],
        )
        for i, task_id in enumerate(ids)
    ]
    add_tasks(store, tasks)
    first = start_run(project_dir, "--parallel", "2")
    wait_until(lambda: len(runs_of(project_dir)) == 1 and started(project_dir))
    second = start_run(project_dir, "--parallel", "2")
    outs = [p.communicate(timeout=120) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    lines = (project_dir / "out.txt").read_text().split()
    assert sorted(lines) == ids  # every task ran, none twice
    runs = runs_of(project_dir)
    assert len(runs) == 2
    by_run = [[e["task"] for e in events(run) if e["event"] == "task_started"] for run in runs]
    assert all(by_run), "both runs did some of the work"
    assert sorted(by_run[0] + by_run[1]) == ids
    assert all(t.status is Status.COMPLETED and t.run_id is None for t in tasks_of(store).values())


def test_ctrl_c_stops_the_running_tasks_and_puts_them_back(
    project_dir: Path, store: StateStore
) -> None:
    tasks = [
        AgentTask(id=f"s{i}", title=f"sleeper {i}", commands=[f"echo $$ > s{i}.pid; exec sleep 60"])
        for i in range(2)
    ]
    tasks.append(AgentTask(id="after", title="after", dependencies=["s0"], commands=["true"]))
    add_tasks(store, tasks)
    run = start_run(project_dir, "--parallel", "2")
    wait_until(lambda: all((project_dir / f"s{i}.pid").exists() for i in range(2)))
    wait_until(lambda: all((project_dir / f"s{i}.pid").read_text().strip() for i in range(2)))
    pids = [int((project_dir / f"s{i}.pid").read_text()) for i in range(2)]
    began = time.monotonic()
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=30)
    assert time.monotonic() - began < 10
    assert run.returncode == 130, (out, err)
    assert err.startswith("error: interrupted")
    assert "interrupted: stopping 2 running tasks" in out
    assert wait_gone(pids) == []
    for task in tasks_of(store).values():
        assert (task.status, task.run_id) == (Status.PENDING, None)
    s0 = tasks_of(store)["s0"]
    assert s0.history[-1].note == "interrupted (Ctrl-C)"
    [run_dir] = runs_of(project_dir)
    summary = orjson.loads((run_dir / "summary.json").read_bytes())
    assert summary["outcome"] == "interrupted"
    assert not (run_dir / "lease.json").exists()


def test_a_second_ctrl_c_quits_at_once_and_the_next_run_takes_over(
    project_dir: Path, store: StateStore
) -> None:
    # The command ignores SIGTERM, so stopping it cleanly takes the 2 s grace period.
    command = "echo $$ > slow.pid; trap '' TERM; for i in $(seq 100); do sleep 0.1; done"
    add_tasks(store, [AgentTask(id="slow", title="slow", commands=[command])])
    run = start_run(project_dir)
    pid_file = project_dir / "slow.pid"
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip())
    pid = int(pid_file.read_text())
    try:
        run.send_signal(signal.SIGINT)
        time.sleep(0.3)
        began = time.monotonic()
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=10)
        assert time.monotonic() - began < 1.9  # a clean stop would take the 2 s grace
        assert run.returncode == 130
        assert "stopped at once" in err
        [run_dir] = runs_of(project_dir)
        assert (run_dir / "lease.json").exists()  # not released: the run is dead
        assert not (run_dir / "summary.json").exists()
        slow = tasks_of(store)["slow"]
        assert (slow.status, slow.run_id) == (Status.IN_PROGRESS, run_dir.name)
    finally:
        kill_quietly([pid] if alive(pid) else [])
    pid_file.unlink()
    (project_dir / "quick").write_text("")
    with store.transaction() as loaded:
        loaded.orchestrator.update("slow", commands=["echo done > slow.out"])
    again = subprocess.run(
        [sys.executable, "-m", "coditect", "run"],
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0, again
    assert f"took back slow from run {run_dir.name}" in again.stdout
    assert tasks_of(store)["slow"].status is Status.COMPLETED
    assert (project_dir / "slow.out").read_text() == "done\n"

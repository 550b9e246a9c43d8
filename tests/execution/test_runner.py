"""The runner on the fake executor: scheduling, retries, the acceptance gate, what it
records in the tasks and in the run record."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest

from coditect.agents.registry import Registry, parse_agent
from coditect.config import Config, RunSettings
from coditect.errors import AgentNotFoundError, ConflictError, TaskNotFoundError, WorkFailedError
from coditect.execution.base import ExecutionResult, ExecutionStatus, Job
from coditect.execution.fake import FakeExecutor
from coditect.execution.runner import Runner, RunOptions
from coditect.execution.summary import outcome_error
from coditect.tasks.model import AgentTask, Phase, Status
from tests.execution.runner_support import (
    events_of,
    fake_task,
    make_project,
    make_runner,
    tasks_of,
)

# -- scheduling ------------------------------------------------------------------------------


def test_every_task_runs_once_after_its_dependencies(tmp_path: Path) -> None:
    tasks = [fake_task("a"), fake_task("b", "a"), fake_task("c", "a"), fake_task("d", "b", "c")]
    tasks += [fake_task(f"x{i}", "d", sleep=0.01) for i in range(10)]
    tasks.append(fake_task("z", *(f"x{i}" for i in range(10))))
    paths, store = make_project(tmp_path, tasks)
    fake = FakeExecutor()
    summary = make_runner(paths, store, fake, parallel=3).run()

    assert summary.outcome == "completed"
    assert sorted(fake.calls) == sorted(t.id for t in tasks)
    done = tasks_of(store)
    for task in done.values():
        assert task.status is Status.COMPLETED
        assert task.run_id is None
        assert task.output == f"fake output of {task.id}"
        for dep in task.dependencies:
            assert done[dep].completed_at <= task.started_at  # type: ignore[operator]
    assert summary.data["totals"]["completed"] == len(tasks)
    assert outcome_error(summary, None) is None


def test_a_long_task_does_not_hold_back_an_unrelated_chain(tmp_path: Path) -> None:
    """No wave barrier: b and c (waves 2 and 3) finish while 'long' (wave 1) still runs."""
    tasks = [
        fake_task("long", sleep=1.5),
        fake_task("a", sleep=0.05),
        fake_task("b", "a", sleep=0.05),
        fake_task("c", "b", sleep=0.05),
    ]
    paths, store = make_project(tmp_path, tasks)
    make_runner(paths, store, parallel=2).run()
    done = tasks_of(store)
    assert done["c"].completed_at < done["long"].completed_at  # type: ignore[operator]


def test_never_more_than_parallel_tasks_at_once(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [fake_task(f"t{i}", sleep=0.1) for i in range(9)])
    fake = FakeExecutor()
    make_runner(paths, store, fake, parallel=3).run()
    assert fake.peak == 3
    assert len(fake.calls) == 9


def test_completed_tasks_are_never_run_again(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [fake_task("a"), fake_task("b", "a")])
    make_runner(paths, store).run()
    fake = FakeExecutor()
    summary = make_runner(paths, store, fake).run()
    assert fake.calls == []
    assert (summary.outcome, summary.data["reason"]) == ("completed", "nothing to do")


# -- scope -----------------------------------------------------------------------------------


def scoped(tmp_path: Path, **options: object) -> tuple[list[str], dict[str, AgentTask]]:
    tasks = [
        fake_task("a"),
        fake_task("b", "a"),
        fake_task("c", "b"),
        fake_task("other"),
        AgentTask(id="test", title="test it", phase=Phase.TESTING, metadata={"fake": {}}),
    ]
    paths, store = make_project(tmp_path, tasks)
    fake = FakeExecutor()
    make_runner(paths, store, fake, RunOptions(**options)).run()  # type: ignore[arg-type]
    return sorted(fake.calls), tasks_of(store)


def test_until_runs_the_task_and_what_it_depends_on(tmp_path: Path) -> None:
    calls, done = scoped(tmp_path, until="b")
    assert calls == ["a", "b"]
    assert done["c"].status is Status.PENDING


def test_phase_runs_only_that_phase(tmp_path: Path) -> None:
    assert scoped(tmp_path, phase=Phase.TESTING)[0] == ["test"]


def test_only_runs_just_the_named_tasks(tmp_path: Path) -> None:
    assert scoped(tmp_path, only=("a", "b"))[0] == ["a", "b"]


def test_only_refuses_a_dependency_that_is_neither_done_nor_named(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [fake_task("a"), fake_task("b", "a")])
    before = store.path.read_bytes()
    with pytest.raises(ConflictError, match="b depends on a, which is pending"):
        make_runner(paths, store, options=RunOptions(only=("b",))).run()
    assert store.path.read_bytes() == before
    assert not (paths.dir / "runs").exists()


def test_an_unknown_task_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [fake_task("a")])
    with pytest.raises(TaskNotFoundError):
        make_runner(paths, store, options=RunOptions(until="nope")).run()
    assert not (paths.dir / "runs").exists()


def test_an_unknown_agent_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    task = AgentTask(id="a", title="a", agent="nobody", metadata={"fake": {}})
    paths, store = make_project(tmp_path, [task])
    with pytest.raises(AgentNotFoundError, match="nobody"):
        make_runner(paths, store).run()
    assert tasks_of(store)["a"].status is Status.PENDING
    assert not (paths.dir / "runs").exists()


# -- retries and the acceptance gate ----------------------------------------------------------


def test_a_failed_attempt_is_retried_after_the_backoff(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [fake_task("a", fail_times=2), fake_task("b", "a")])
    fake = FakeExecutor()
    summary = make_runner(paths, store, fake, max_retries=2, retry_backoff=0.2).run()
    assert fake.calls == ["a", "a", "a", "b"]
    a = tasks_of(store)["a"]
    assert (a.status, a.attempts) == (Status.COMPLETED, 3)
    path = [(h.from_status, h.to_status) for h in a.history]
    assert path.count((Status.IN_PROGRESS, Status.FAILED)) == 2
    assert path.count((Status.FAILED, Status.PENDING)) == 2
    starts = [h.at for h in a.history if h.to_status is Status.IN_PROGRESS]
    # Backoff doubles: 0.2 s before the first retry, 0.4 s before the second.
    assert (starts[1] - starts[0]).total_seconds() >= 0.2
    assert (starts[2] - starts[1]).total_seconds() >= 0.4
    assert summary.data["totals"]["retries"] == 2
    finished = [e for e in events_of(paths, summary.run_id) if e["event"] == "task_finished"]
    assert [e["status"] for e in finished] == ["retrying", "retrying", "completed", "completed"]


def test_a_task_that_keeps_failing_fails_and_its_dependents_do_not_run(tmp_path: Path) -> None:
    tasks = [fake_task("a", fail=True, error="boom"), fake_task("b", "a"), fake_task("free")]
    paths, store = make_project(tmp_path, tasks)
    fake = FakeExecutor()
    summary = make_runner(paths, store, fake, max_retries=1).run()
    assert sorted(fake.calls) == ["a", "a", "free"]
    done = tasks_of(store)
    assert (done["a"].status, done["a"].error, done["a"].run_id) == (Status.FAILED, "boom", None)
    assert done["b"].status is Status.PENDING
    assert summary.outcome == "failed"
    assert {r["id"]: r["why"] for r in summary.data["not_done"]} == {
        "a": "failed: boom",
        "b": "waits for a (failed)",
    }
    error = outcome_error(summary, None)
    assert isinstance(error, WorkFailedError)
    assert error.message == "1 task failed: a"


def test_a_task_s_own_max_retries_wins_over_the_setting(tmp_path: Path) -> None:
    task = fake_task("a", fail_times=3)
    task.max_retries = 3
    paths, store = make_project(tmp_path, [task])
    fake = FakeExecutor()
    assert make_runner(paths, store, fake, max_retries=0).run().outcome == "completed"
    assert fake.calls == ["a"] * 4


def test_a_failing_acceptance_command_fails_the_attempt(tmp_path: Path) -> None:
    """The executor succeeds both times; the check passes only once the file exists."""
    task = AgentTask(
        id="a",
        title="make the flag",
        commands=["if [ -f seen ]; then touch done.txt; else touch seen; fi"],
        acceptance="test -f done.txt || { echo 'done.txt is missing' >&2; exit 7; }",
    )
    paths, store = make_project(tmp_path, [task])
    runner = make_runner(paths, store, max_retries=1)
    summary = runner.run()
    assert summary.outcome == "completed"
    a = tasks_of(store)["a"]
    assert a.attempts == 2
    failure = next(h.note for h in a.history if h.to_status is Status.FAILED)
    assert failure == (
        "the acceptance command `test -f done.txt || { echo 'done.txt is missing' >&2; exit 7; }` "
        "exited with 7:\ndone.txt is missing"
    )
    log = (paths.dir / "runs" / summary.run_id / "tasks" / "a" / "stderr.log").read_text()
    assert log.count("==> acceptance $ test -f done.txt") == 2


def test_the_acceptance_gate_with_no_retries_left_fails_the_task(tmp_path: Path) -> None:
    task = AgentTask(id="a", title="a", acceptance="false", metadata={"fake": {"tokens": 5}})
    paths, store = make_project(tmp_path, [task])
    summary = make_runner(paths, store, max_retries=0).run()
    a = tasks_of(store)["a"]
    assert a.status is Status.FAILED
    assert a.error == "the acceptance command `false` exited with 1"
    assert a.tokens == 5  # the execution's tokens were spent all the same
    assert summary.outcome == "failed"


# -- what the run records ---------------------------------------------------------------------


def test_results_are_recorded_in_the_task(tmp_path: Path) -> None:
    spec = {"tokens": 120, "input_tokens": 30, "cost_usd": 0.25, "session_id": "s-1"}
    task = fake_task("a", output="x" * 40_000, **spec)
    task.tokens, task.cost_usd = 1000, 1.0  # from an earlier run: added to, not replaced
    paths, store = make_project(tmp_path, [task])
    summary = make_runner(paths, store).run()
    a = tasks_of(store)["a"]
    assert (a.tokens, a.cost_usd, a.session_id, a.run_id) == (1150, 1.25, "s-1", None)
    assert len(a.output) < 17_000
    assert "characters cut; the whole text is in" in a.output
    assert a.history[-1].note == f"run {summary.run_id}"
    assert summary.data["totals"]["tokens"] == 150
    assert summary.data["totals"]["cost_usd"] == 0.25


def test_the_prompt_carries_the_outputs_of_the_dependencies(tmp_path: Path) -> None:
    seen: dict[str, Job] = {}

    class Recording(FakeExecutor):
        def execute(self, job: Job) -> ExecutionResult:
            seen[job.task.id] = job
            return super().execute(job)

    tasks = [fake_task("a", output="the schema is users(id, name)"), fake_task("b", "a")]
    paths, store = make_project(tmp_path, tasks)
    make_runner(paths, store, Recording()).run()
    job = seen["b"]
    assert "# Task b: task b" in job.prompt
    assert "### a: task a\n\nthe schema is users(id, name)" in job.prompt
    assert job.task.run_id is not None  # the job's copy says which run holds the task
    assert job.log_dir == paths.dir / "runs" / job.task.run_id / "tasks" / "b"
    assert job.workdir == paths.root


def test_a_task_waiting_for_a_person_stays_in_progress_without_a_run(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [fake_task("a", status="waiting"), fake_task("b", "a")])
    summary = make_runner(paths, store).run()
    a = tasks_of(store)["a"]
    assert (a.status, a.run_id) == (Status.IN_PROGRESS, None)
    assert summary.outcome == "incomplete"
    assert summary.data["not_done"][0]["why"].startswith("in progress, started by hand")


def test_an_executor_that_raises_fails_the_task_not_the_run(tmp_path: Path) -> None:
    class Broken:
        name = "broken"

        def execute(self, job: Job) -> ExecutionResult:
            raise RuntimeError("bug in the executor")

    paths, store = make_project(
        tmp_path, [AgentTask(id="a", title="a", executor="broken"), fake_task("b")]
    )
    runner = make_runner(paths, store, max_retries=0)
    runner.executors["broken"] = Broken()
    summary = runner.run()
    done = tasks_of(store)
    assert done["b"].status is Status.COMPLETED
    assert done["a"].error is not None
    assert done["a"].error.startswith("the broken executor crashed: RuntimeError: bug in")
    assert (paths.dir / "runs" / summary.run_id / "tasks" / "a" / "error.log").exists()


def test_the_run_record(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [fake_task("a"), fake_task("b", "a", fail=True)])
    summary = make_runner(paths, store, max_retries=0).run()
    run_dir = paths.dir / "runs" / summary.run_id
    events = events_of(paths, summary.run_id)
    assert events[0]["event"] == "run_started"
    assert events[0]["tasks"] == 2
    assert events[-1] == {**events[-1], "event": "run_finished", "outcome": "failed"}
    kinds = [(e["event"], e.get("task")) for e in events[1:-1]]
    assert kinds == [
        ("task_started", "a"),
        ("task_finished", "a"),
        ("task_started", "b"),
        ("task_finished", "b"),
    ]
    assert not (run_dir / "lease.json").exists()  # released at the end
    saved = orjson.loads((run_dir / "summary.json").read_bytes())
    assert saved == summary.to_dict()
    assert [t["id"] for t in saved["tasks"]] == ["a", "b"]
    assert (run_dir / "tasks" / "a" / "attempt-1.json").exists()


def test_a_task_changed_by_hand_during_its_attempt_keeps_the_change(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [fake_task("a", sleep=1.0, tokens=7)])
    runner = make_runner(paths, store)
    thread = threading.Thread(target=runner.run)
    thread.start()
    deadline = time.monotonic() + 10
    while tasks_of(store)["a"].status is not Status.IN_PROGRESS:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with store.transaction() as loaded:
        loaded.orchestrator.cancel("a", note="not needed after all")
    thread.join()
    a = tasks_of(store)["a"]
    assert (a.status, a.tokens) == (Status.CANCELLED, 7)
    assert runner.tallies["a"].status == "changed elsewhere (cancelled)"


# -- agents ------------------------------------------------------------------------------------

AGENT = """\
---
name: tester
description: Writes and runs tests.
capabilities: testing, pytest, test coverage
executor: fake
---
You write tests.
"""


def test_a_task_without_an_agent_is_assigned_one_by_the_dispatcher(tmp_path: Path) -> None:
    agents_dir = tmp_path / ".coditect" / "agents"
    task = AgentTask(id="t", title="Write pytest tests for the parser", metadata={"fake": {}})
    paths, store = make_project(tmp_path, [task])
    agents_dir.mkdir()
    (agents_dir / "tester.md").write_text(AGENT)
    seen: list[Job] = []

    class Recording(FakeExecutor):
        def execute(self, job: Job) -> ExecutionResult:
            seen.append(job)
            return super().execute(job)

    config = Config(run=RunSettings(executor="claude-code"))
    runner = Runner(paths, config, store, executors={"fake": Recording()})
    summary = runner.run()
    assert summary.outcome == "completed"
    assert tasks_of(store)["t"].agent == "tester"
    assigned = [e for e in events_of(paths, summary.run_id) if e["event"] == "agent_assigned"]
    assert assigned[0]["agent"] == "tester"
    assert "pytest" in assigned[0]["why"]
    assert seen[0].system_prompt == "You write tests.\n"
    assert "You are working as the `tester` agent." in seen[0].prompt


def test_the_executor_comes_from_the_task_then_the_agent_then_commands(tmp_path: Path) -> None:
    registry = Registry()
    registry.agents["fast"] = parse_agent(AGENT.replace("tester", "fast"), "fast.md")
    used: dict[str, str] = {}

    class Named(FakeExecutor):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def execute(self, job: Job) -> ExecutionResult:
            used[job.task.id] = self.name
            return ExecutionResult(ExecutionStatus.SUCCEEDED)

    tasks = [
        AgentTask(id="own", title="own", executor="x", agent="fast"),
        AgentTask(id="agent", title="agent", agent="fast"),
        AgentTask(id="cmds", title="cmds", commands=["true"]),
        AgentTask(id="cmds-agent", title="cmds and agent", commands=["true"], agent="fast"),
        AgentTask(id="plain", title="plain"),
    ]
    paths, store = make_project(tmp_path, tasks)
    names = ("x", "fake", "script", "default")
    config = Config(run=RunSettings(executor="default"))
    runner = Runner(paths, config, store, agents=registry, executors={n: Named(n) for n in names})
    assert runner.run().outcome == "completed"
    assert used == {
        "own": "x",
        "agent": "fake",
        "cmds": "script",
        "cmds-agent": "fake",
        "plain": "default",
    }


def test_a_task_added_during_the_run_is_picked_up_or_refused(tmp_path: Path) -> None:
    """A plain run covers tasks added while it goes on; one whose executor does not exist
    fails without running, and the rest carry on."""
    paths, store = make_project(tmp_path, [fake_task("first", sleep=0.6)])
    fake = FakeExecutor()
    runner = make_runner(paths, store, fake, options=RunOptions(poll=0.05))
    thread = threading.Thread(target=runner.run)
    thread.start()
    deadline = time.monotonic() + 10
    while tasks_of(store)["first"].status is not Status.IN_PROGRESS:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with store.transaction() as loaded:
        loaded.orchestrator.add(fake_task("late"))
        loaded.orchestrator.add(AgentTask(id="odd", title="odd", executor="nope"))
    thread.join(timeout=20)
    done = tasks_of(store)
    assert sorted(fake.calls) == ["first", "late"]
    assert done["late"].status is Status.COMPLETED
    assert done["odd"].status is Status.FAILED
    assert done["odd"].error is not None
    assert done["odd"].error.startswith("cannot start: no executor called 'nope'")
    assert runner.tallies["odd"].status == "failed"


def test_an_acceptance_command_that_hangs_times_out(tmp_path: Path) -> None:
    task = AgentTask(id="a", title="a", acceptance="sleep 30", metadata={"fake": {}})
    paths, store = make_project(tmp_path, [task])
    began = time.monotonic()
    make_runner(paths, store, max_retries=0, timeout=0.5).run()
    assert time.monotonic() - began < 10
    assert tasks_of(store)["a"].error == "the acceptance command timed out after 0.5 s"


def test_a_dry_run_lists_what_it_would_take_back_from_a_dead_run(tmp_path: Path) -> None:
    held = fake_task("held")
    held.record(Status.IN_PROGRESS)
    held.run_id = "r-20260101T000000Z-gone"
    paths, store = make_project(tmp_path, [held, fake_task("next", "held")])
    before = store.path.read_bytes()
    plan = make_runner(paths, store).plan()
    assert [(r["id"], r["recovered"]) for r in plan["tasks"]] == [
        ("next", False),
        ("held", True),
    ]
    assert plan["waves"] == [["held"], ["next"]]
    assert store.path.read_bytes() == before
    assert not (paths.dir / "runs").exists()

"""Budgets: the tracker on its own, then runs that stop at each budget."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from coditect.config import RunSettings
from coditect.errors import BudgetExceededError, ExitCode
from coditect.execution.budget import Budget, BudgetBreach, BudgetTracker
from coditect.execution.fake import FakeExecutor
from coditect.execution.summary import outcome_error
from coditect.tasks.model import Status
from tests.execution.runner_support import events_of, fake_task, make_project, make_runner, tasks_of


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_no_limit_is_never_reached() -> None:
    tracker = BudgetTracker(Budget(), Clock())
    tracker.spend(cost_usd=1e9, tokens=10**12)
    for _ in range(1000):
        tracker.fail()
    assert tracker.breach() is None
    assert tracker.seconds_left() is None


@pytest.mark.parametrize(
    ("budget", "spend", "name", "message"),
    [
        (
            Budget(max_cost_usd=1.0),
            {"cost_usd": 1.0},
            "cost",
            "the run reached its cost budget: spent $1.0000 of $1",
        ),
        (
            Budget(max_tokens=5000),
            {"tokens": 5001},
            "tokens",
            "the run reached its token budget: used 5,001 of 5,000",
        ),
    ],
)
def test_spending_up_to_the_limit_reaches_it(
    budget: Budget, spend: dict[str, float], name: str, message: str
) -> None:
    tracker = BudgetTracker(budget, Clock())
    tracker.spend(**{k: v * 0.5 for k, v in spend.items()})  # type: ignore[arg-type]
    assert tracker.breach() is None
    tracker.spend(**{k: v - v * 0.5 for k, v in spend.items()})  # type: ignore[arg-type]
    breach = tracker.breach()
    assert breach is not None
    assert (breach.budget, breach.message, breach.cancels_running) == (name, message, False)


def test_time_and_failures() -> None:
    clock = Clock()
    tracker = BudgetTracker(Budget(max_wall_seconds=60, max_failures=2), clock)
    clock.now += 59.5
    assert tracker.breach() is None
    assert tracker.seconds_left() == pytest.approx(0.5)
    tracker.fail()
    tracker.fail()
    breach = tracker.breach()
    assert breach is not None and breach.budget == "failures"
    assert breach.message == "the run reached its failure budget: 2 of 2 failed"
    tracker.failures = 0
    clock.now += 1
    breach = tracker.breach()
    assert breach is not None and breach.budget == "time" and breach.cancels_running
    assert tracker.seconds_left() == 0.0


def test_the_error_names_the_budget_and_the_flag() -> None:
    error = BudgetBreach("tokens", 100, 130).error()
    assert isinstance(error, BudgetExceededError)
    assert error.exit_code is ExitCode.WORK_FAILED
    assert "--max-tokens" in error.hint


def test_from_settings() -> None:
    settings = RunSettings(max_cost_usd=2.5, max_tokens=10, max_wall_seconds=3.0, max_failures=4)
    assert Budget.from_settings(settings) == Budget(2.5, 10, 3.0, 4)


# -- runs that stop at a budget ------------------------------------------------------------


def test_a_run_stops_starting_tasks_at_its_cost_budget(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [fake_task(f"t{i}", cost_usd=0.4) for i in range(6)])
    fake = FakeExecutor()
    runner = make_runner(paths, store, fake, parallel=1, max_cost_usd=1.0)
    summary = runner.run()
    assert len(fake.calls) == 3  # 0.4, 0.8, then 1.2 reaches 1.0
    assert summary.outcome == "budget_exceeded"
    assert summary.data["budget"] == {"budget": "cost", "limit": 1.0, "spent": pytest.approx(1.2)}
    statuses = [t.status for t in tasks_of(store).values()]
    assert statuses.count(Status.COMPLETED) == 3
    assert statuses.count(Status.PENDING) == 3
    assert runner.breach is not None
    error = outcome_error(summary, runner.breach.error())
    assert isinstance(error, BudgetExceededError)
    assert error.message == "the run reached its cost budget: spent $1.2000 of $1"
    events = [e["event"] for e in events_of(paths, summary.run_id)]
    assert "budget_reached" in events


def test_running_tasks_finish_when_the_token_budget_is_reached(tmp_path: Path) -> None:
    tasks = [fake_task("quick", tokens=100), fake_task("slow", sleep=0.5, tokens=100)]
    tasks += [fake_task(f"later{i}", "quick") for i in range(3)]
    paths, store = make_project(tmp_path, tasks)
    summary = make_runner(paths, store, parallel=2, max_tokens=50).run()
    done = tasks_of(store)
    assert done["slow"].status is Status.COMPLETED  # it was running: it finished
    assert all(done[f"later{i}"].status is Status.PENDING for i in range(3))
    assert summary.data["totals"]["tokens"] == 200


def test_the_failure_budget(tmp_path: Path) -> None:
    tasks = [fake_task(f"bad{i}", fail=True) for i in range(3)] + [fake_task("good")]
    paths, store = make_project(tmp_path, tasks)
    fake = FakeExecutor()
    summary = make_runner(paths, store, fake, parallel=1, max_retries=0, max_failures=2).run()
    assert summary.outcome == "budget_exceeded"
    assert summary.data["totals"]["failed"] == 2
    assert len(fake.calls) == 2


def test_the_time_budget_stops_running_tasks_and_puts_them_back(tmp_path: Path) -> None:
    paths, store = make_project(tmp_path, [fake_task(f"t{i}", sleep=30) for i in range(2)])
    began = time.monotonic()
    summary = make_runner(paths, store, parallel=2, max_wall_seconds=0.5).run()
    assert time.monotonic() - began < 10
    assert summary.outcome == "budget_exceeded"
    for task in tasks_of(store).values():
        assert (task.status, task.run_id) == (Status.PENDING, None)
        assert task.history[-1].note.startswith("stopped: the run reached its time budget")
    assert summary.data["totals"]["stopped"] == 2

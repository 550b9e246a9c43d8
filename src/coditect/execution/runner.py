"""The runner: carries a project's task graph to completion, in parallel, resumably, within
budgets (docs/running.md).

The main thread owns the task state. Each turn of its loop takes the results of the
attempts that finished, and in ONE short state transaction records them and starts as
many ready tasks as there are free workers; worker threads (a pool of ``[run] parallel``)
only execute jobs. A task starts as soon as its own dependencies are completed: there
are no waves to wait for. Results that arrive together share a transaction, which keeps
the cost of the state writes per task small on large graphs.

While it runs, a run holds a lease (``.coditect/runs/<run-id>/lease.json``) refreshed by
a heartbeat, and marks the tasks it started with its ``run_id``. A run that finds tasks
in progress under a dead run's id puts them back to pending; tasks of live runs and
tasks started by hand are left alone.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from coditect.errors import CoditectError
from coditect.execution.attempt import Attempt, carry_out
from coditect.execution.base import ExecutionResult, ExecutionStatus, Executor, Job, get_executor
from coditect.execution.budget import Budget, BudgetBreach, BudgetTracker
from coditect.execution.interrupts import Interrupts
from coditect.execution.progress import Progress, SilentProgress, TaskLine
from coditect.execution.prompt import build_prompt, clip
from coditect.execution.records import HEARTBEAT_SECONDS, STALE_AFTER_SECONDS, RunRecord, new_run_id
from coditect.execution.scheduling import (
    ERROR_CHARS,
    AgentLookup,
    Assigner,
    Recovery,
    Scope,
    choose,
    default_agents,
    recover,
    select_scope,
    settle,
    waits_for_live_runs,
)
from coditect.execution.summary import (
    RunSummary,
    TaskTally,
    outcome_of,
    run_options,
    unfinished,
)
from coditect.execution.worktrees import Worktrees, edits_code
from coditect.tasks.model import AgentTask, Phase, Status

if TYPE_CHECKING:
    from coditect.config import Config
    from coditect.paths import ProjectPaths
    from coditect.tasks.orchestrator import Orchestrator
    from coditect.tasks.store import StateStore

__all__ = ["RunOptions", "Runner"]

_COALESCE_MAX = 0.05
"""The longest a finished result waits for others to share its transaction."""
_TICK = 0.25
"""The longest the main loop sleeps: how quickly it notices Ctrl-C and the time budget."""

Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class RunOptions:
    """What a run covers and how it watches other runs (parallelism and budgets come
    from ``Config.run``)."""

    only: tuple[str, ...] = ()
    until: str | None = None
    phase: Phase | None = None
    worktrees: bool = False
    stale_after: float = STALE_AFTER_SECONDS
    heartbeat: float = HEARTBEAT_SECONDS
    poll: float = 1.0
    """How often a run looks at the state for changes it did not make itself."""


class Runner:
    """One run of a project's tasks. ``run()`` once; ``plan()`` for ``--dry-run``."""

    def __init__(
        self,
        project: ProjectPaths,
        config: Config,
        store: StateStore,
        options: RunOptions | None = None,
        *,
        progress: Progress | None = None,
        agents: AgentLookup | None = None,
        assign: Assigner | None = None,
        context: Callable[[AgentTask], Sequence[str]] | None = None,
        executors: Mapping[str, Executor] | None = None,
    ) -> None:
        self.project = project
        self.config = config
        self.settings = config.run
        self.store = store
        self.options = options or RunOptions()
        self.progress: Progress = progress or SilentProgress()
        self.agents = agents
        self.assign = assign
        self.context = context
        """Extra context for a task's prompt (memory's relevant excerpts)."""
        self.runs_dir = project.dir / "runs"
        self.run_id = new_run_id()
        self.scope = Scope()
        self.tracker = BudgetTracker(Budget.from_settings(config.run))
        self.breach: BudgetBreach | None = None
        self.executors: dict[str, Executor] = dict(executors or {})
        """Executors by name, built on first use; ``executors`` gives some ready-made."""
        self.running: dict[str, Attempt] = {}
        self.futures: dict[Future[ExecutionResult], str] = {}
        self.lines: dict[tuple[str, int], TaskLine] = {}
        """What the progress display shows of each attempt, by task and attempt number."""
        self.tallies: dict[str, TaskTally] = {}
        self.attempts: Counter[str] = Counter()
        self.not_before: dict[str, float] = {}
        self.gave_up: set[str] = set()
        self.recovered: list[dict[str, str]] = []
        self.by_hand: list[str] = []
        self.live: dict[str, list[str]] = {}
        self.waiting_on_others = False
        self.transaction_s = 0.0
        self.stopping = False
        self.cancel_reason = ""
        self.interrupted = False
        self.interrupts = Interrupts()
        self.todo = 0
        self.worktrees: Worktrees | None = None
        self.record: RunRecord | None = None
        self.started_at = datetime.now(UTC)

    # -- before anything runs --------------------------------------------------------------

    def _prepare(self, orchestrator: Orchestrator) -> list[str]:
        """Choose the scope and check that every pending task in it can run: its agent
        exists and its executor can be built. Raises before anything is written."""
        self.scope = select_scope(
            orchestrator, only=self.options.only, until=self.options.until, phase=self.options.phase
        )
        if self.agents is None:
            self.agents, self.assign = default_agents(self.project, self.assign)
        todo = [
            task_id
            for task_id, node in orchestrator.tasks.nodes.items()
            if task_id in self.scope and node.status is Status.PENDING
        ]
        for task_id in todo:
            choice = choose(
                orchestrator.tasks[task_id], self.agents, self.settings.executor, self.assign
            )
            self._executor(choice.executor)
        return todo

    def _executor(self, name: str) -> Executor:
        if name not in self.executors:
            self.executors[name] = get_executor(name, self.config)
        return self.executors[name]

    def plan(self) -> dict[str, Any]:
        """What ``run()`` would do, without doing or writing anything (``--dry-run``)."""
        from coditect.execution.planning import dry_run_plan

        orchestrator = self.store.load().orchestrator
        todo = self._prepare(orchestrator)
        if self.options.worktrees:  # the same checks as a run (they only read)
            Worktrees(self.project.root, self.project.dir / "worktrees")
        return dry_run_plan(self, orchestrator, todo)

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> RunSummary:
        """Run the scope's tasks to completion (or to a budget, a failure, Ctrl-C).

        Raises only for problems found before anything starts (an unknown task or agent,
        an executor that cannot be built) or for a failure of the state itself; how the
        tasks went is in the summary (``RunSummary.outcome``).
        """
        orchestrator = self.store.load().orchestrator
        self.todo = len(self._prepare(orchestrator))
        if self.options.worktrees:
            self.worktrees = Worktrees(self.project.root, self.project.dir / "worktrees")
        self.record = RunRecord(self.runs_dir, self.run_id, heartbeat=self.options.heartbeat)
        self.record.open()
        self.started_at = datetime.now(UTC)
        self.record.event("run_started", run_id=self.run_id, pid=os.getpid(), **run_options(self))
        self.progress.begin(self.run_id, self.todo)
        pool = ThreadPoolExecutor(self.settings.parallel, thread_name_prefix="coditect-task")
        try:
            with self.interrupts.installed():
                self._loop(pool)
        except BaseException as exc:
            self._abandon(exc)
            pool.shutdown(wait=True)
            self.progress.end()
            with contextlib.suppress(Exception):
                self._close(error=exc)
            raise
        pool.shutdown(wait=True)
        self.progress.end()
        return self._close()

    def _loop(self, pool: ThreadPoolExecutor) -> None:
        next_poll = 0.0
        while True:
            self._check_signals()
            self._check_budget()
            finished = self._collect()
            if finished and self.futures and not self.stopping:
                finished += self._coalesce()
            now = time.monotonic()
            free = not self.stopping and len(self.running) - len(finished) < self.settings.parallel
            backoff_due = any(when <= now for when in self.not_before.values())
            poll = now >= next_poll
            if finished or (free and (poll or backoff_due)):
                launches = self._transact(finished, poll=poll)
                if poll:
                    next_poll = now + self.options.poll
                self._launch(pool, launches)
                if not self.running and not launches and self._nothing_to_wait_for():
                    return
            elif not self.running and self.stopping:
                return
            self._pause(next_poll)

    def _nothing_to_wait_for(self) -> bool:
        if self.stopping:
            return True
        return not self.not_before and not self.waiting_on_others

    def _pause(self, next_poll: float) -> None:
        now = time.monotonic()
        timeout = min(_TICK, max(0.0, next_poll - now))
        if self.not_before:
            timeout = min(timeout, max(0.0, min(self.not_before.values()) - now))
        left = self.tracker.seconds_left()
        if left is not None:
            timeout = min(timeout, left)
        if self.futures:
            wait(self.futures, timeout=timeout, return_when=FIRST_COMPLETED)
        elif timeout > 0:
            time.sleep(timeout)

    def _coalesce(self) -> list[tuple[str, ExecutionResult]]:
        """More results, for up to about as long as a transaction takes: results that
        arrive together then share one transaction (a short-task run gains twice the
        throughput; a long-task run waits a few milliseconds)."""
        wait(
            self.futures, timeout=min(self.transaction_s, _COALESCE_MAX), return_when=ALL_COMPLETED
        )
        return self._collect()

    def _collect(self) -> list[tuple[str, ExecutionResult]]:
        done = [f for f in self.futures if f.done()]
        results = []
        for future in done:
            task_id = self.futures.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # carry_out turns failures into results; defensive
                result = ExecutionResult(
                    ExecutionStatus.FAILED, error=f"{type(exc).__name__}: {exc}"
                )
            results.append((task_id, result))
        return results

    # -- one transaction: record what finished, start what can start -------------------------

    def _transact(
        self, finished: list[tuple[str, ExecutionResult]], *, poll: bool
    ) -> list[Attempt]:
        events: list[Event] = []
        began = time.monotonic()
        with self.store.transaction() as loaded:
            orchestrator = loaded.orchestrator
            if loaded.restored_from is not None:
                events.append(("state_restored", {"from": str(loaded.restored_from)}))
            for task_id, result in finished:
                self._record(orchestrator, task_id, result, events)
            if finished:
                self._check_budget(events)
            slots = 0 if self.stopping else self.settings.parallel - len(self.running)
            idle = not self.running
            if poll or idle:
                self._recover(orchestrator, events)
            launches = self._start_ready(orchestrator, slots, events) if slots > 0 else []
            if idle and not launches:
                self.waiting_on_others = waits_for_live_runs(
                    orchestrator, self.scope, self.live, self.gave_up
                )
        # What a transaction costs, smoothed: how long _coalesce waits for more results.
        self.transaction_s = 0.8 * self.transaction_s + 0.2 * (time.monotonic() - began)
        self._emit(events)
        return launches

    def _emit(self, events: list[Event]) -> None:
        assert self.record is not None
        for kind, fields in events:
            self.record.event(kind, **fields)
            if kind == "task_finished":
                line = self.lines.pop((fields["task"], fields["attempt"]))
                line.status = fields["status"]
                line.tokens, line.cost_usd = fields["tokens"], fields["cost_usd"]
                line.error = fields.get("error") or ""
                self.progress.finished(line)
            elif kind == "task_started":
                self.progress.started(self.lines[fields["task"], fields["attempt"]])
            elif "note" in fields:
                self.progress.note(fields["note"])

    def _recover(self, orchestrator: Orchestrator, events: list[Event]) -> None:
        found: Recovery = recover(
            orchestrator, self.runs_dir, self.run_id, self.options.stale_after
        )
        self.live = found.live
        for row in found.recovered:
            self.recovered.append(row)
            note = f"took back {row['task']} from run {row['run']}, which died: {row['reason']}"
            events.append(("task_recovered", {**row, "note": note}))
        new_by_hand = [t for t in found.by_hand if t not in self.by_hand]
        if new_by_hand:
            self.by_hand += new_by_hand
            note = (
                "left alone, in progress without a run (started by hand): "
                + ", ".join(new_by_hand[:10])
                + (" …" if len(new_by_hand) > 10 else "")
            )
            events.append(("left_alone", {"tasks": new_by_hand, "note": note}))

    def _start_ready(
        self, orchestrator: Orchestrator, slots: int, events: list[Event]
    ) -> list[Attempt]:
        now = time.monotonic()
        launches: list[Attempt] = []
        for task_id in orchestrator.graph.ready():
            if len(launches) >= slots:
                break
            if (
                task_id not in self.scope
                or task_id in self.gave_up
                or task_id in self.running
                or self.not_before.get(task_id, 0.0) > now
            ):
                continue
            self.not_before.pop(task_id, None)
            attempt = self._start(orchestrator, task_id, events)
            if attempt is not None:
                launches.append(attempt)
        # A task whose backoff ended but that another run took meanwhile: stop waiting.
        for task_id in [t for t, when in self.not_before.items() if when <= now]:
            del self.not_before[task_id]
        return launches

    def _start(
        self, orchestrator: Orchestrator, task_id: str, events: list[Event]
    ) -> Attempt | None:
        task = orchestrator.get(task_id)
        try:
            choice = choose(task, self.agents, self.settings.executor, self.assign)
            executor = self._executor(choice.executor)
        except CoditectError as exc:
            orchestrator.start(task_id, note=f"run {self.run_id}")
            orchestrator.fail(task_id, f"cannot start: {exc.message}")
            self._give_up(task_id, f"cannot start: {exc.message}", task.title, events)
            return None
        if choice.assigned:
            orchestrator.update(task_id, agent=choice.assigned)
            events.append(
                (
                    "agent_assigned",
                    {
                        "task": task_id,
                        "agent": choice.assigned,
                        "why": choice.reason,
                        "note": f"assigned {task_id} to {choice.assigned} ({choice.reason})",
                    },
                )
            )
        orchestrator.start(task_id, note=f"run {self.run_id}")
        task = orchestrator.update(task_id, run_id=self.run_id)
        self.attempts[task_id] += 1
        number = self.attempts[task_id]
        # The orchestrator of a transaction is dropped at its end, so its task objects
        # are the job's own copies: no executor can reach the state through them.
        job = self._job(orchestrator, task, choice.agent)
        tally = self.tallies.setdefault(
            task_id, TaskTally(task_id, task.title, choice.executor, task.agent)
        )
        tally.attempts, tally.executor, tally.agent, tally.status = (
            number,
            choice.executor,
            task.agent,
            "running",
        )
        worktree = self.worktrees is not None and edits_code(choice.executor, task.output_files)
        self.lines[task_id, number] = TaskLine(
            task_id, task.title, choice.executor, number, time.monotonic()
        )
        events.append(
            (
                "task_started",
                {
                    "task": task_id,
                    "attempt": number,
                    "executor": choice.executor,
                    "agent": task.agent,
                    "worktree": worktree,
                },
            )
        )
        return Attempt(job, executor, choice.executor, number, worktree=worktree)

    def _job(self, orchestrator: Orchestrator, task: AgentTask, agent: Any) -> Job:
        assert self.record is not None
        dependencies = [orchestrator.tasks[d] for d in task.dependencies]
        context = self.context(task) if self.context is not None else ()
        return Job(
            task=task,
            prompt=build_prompt(task, agent, dependencies, context),
            system_prompt=agent.prompt if agent is not None else "",
            workdir=self.project.root,
            log_dir=self.record.task_dir(task.id),
            timeout=self.settings.timeout,
            model=getattr(agent, "model", None),
            provider=getattr(agent, "provider", None),
            max_tokens=getattr(agent, "max_tokens", None),
            temperature=getattr(agent, "temperature", None),
            tools=tuple(getattr(agent, "tools", ())),
        )

    def _launch(self, pool: ThreadPoolExecutor, launches: list[Attempt]) -> None:
        for attempt in launches:
            task_id = attempt.job.task.id
            self.running[task_id] = attempt
            self.futures[pool.submit(carry_out, attempt, self.worktrees)] = task_id

    # -- recording a finished attempt --------------------------------------------------------

    def _record(
        self,
        orchestrator: Orchestrator,
        task_id: str,
        result: ExecutionResult,
        events: list[Event],
    ) -> None:
        attempt = self.running.pop(task_id)
        tally = self.tallies[task_id]
        tokens, cost = result.usage.total, result.cost_usd
        tally.tokens += tokens
        tally.cost_usd += cost
        tally.duration_s += result.duration_s
        tally.requests += result.attempts
        if attempt.tree is not None:
            tally.branch = attempt.tree.branch
        self.tracker.spend(cost_usd=cost, tokens=tokens)
        status, delay = settle(
            orchestrator,
            attempt,
            result,
            run_id=self.run_id,
            stop_reason=self.cancel_reason,
            default_retries=self.settings.max_retries,
            backoff=self.settings.retry_backoff,
        )
        if status == "retrying":
            self.not_before[task_id] = time.monotonic() + delay
        self._finished(task_id, attempt.number, status, result, events)

    def _finished(
        self, task_id: str, number: int, status: str, result: ExecutionResult, events: list[Event]
    ) -> None:
        tally = self.tallies[task_id]
        tally.status = status
        tally.error = None if status == "completed" else result.error
        fields: dict[str, Any] = {
            "task": task_id,
            "attempt": number,
            "status": status,
            "duration_s": round(result.duration_s, 3),
            "tokens": result.usage.total,
            "cost_usd": result.cost_usd,
            "requests": result.attempts,
            "session_id": result.session_id,
        }
        if status != "completed" and result.error:
            fields["error"] = clip(result.error, ERROR_CHARS)
        if status == "failed":
            self.tracker.fail()
            self.gave_up.add(task_id)
        events.append(("task_finished", fields))

    def _give_up(self, task_id: str, error: str, title: str, events: list[Event]) -> None:
        """A task that could not even start (its agent or executor is missing)."""
        self.tallies.setdefault(task_id, TaskTally(task_id, title, "", None))
        self.lines[task_id, 0] = TaskLine(task_id, title, "", 0, time.monotonic())
        failed = ExecutionResult(ExecutionStatus.FAILED, error=error, attempts=0)
        self._finished(task_id, 0, "failed", failed, events)

    # -- stopping ----------------------------------------------------------------------------

    def _cancel_running(self, reason: str) -> None:
        self.cancel_reason = reason
        for attempt in self.running.values():
            attempt.job.cancel.set()

    def _check_budget(self, events: list[Event] | None = None) -> None:
        """Stop starting tasks once a budget is reached (and, for time, stop running ones)."""
        if self.breach is not None:
            return
        breach = self.tracker.breach()
        if breach is None:
            return
        self.breach = breach
        self.stopping = True
        note = f"{breach.message}; starting no more tasks"
        if breach.cancels_running and self.running:
            self._cancel_running(f"stopped: {breach.message}")
            note += f", stopping the {len(self.running)} running"
        elif self.running:
            note += f", letting the {len(self.running)} running finish"
        event: Event = ("budget_reached", {**breach.to_dict(), "note": note})
        if events is None:
            self._emit([event])
        else:
            events.append(event)

    def _check_signals(self) -> None:
        if not self.interrupts.count or self.interrupted:
            return
        self.interrupted = self.stopping = True
        self._cancel_running("interrupted (Ctrl-C)")
        self._emit(
            [
                (
                    "interrupted",
                    {
                        "running": list(self.running),
                        "note": f"interrupted: stopping {len(self.running)} running tasks "
                        "(Ctrl-C again to quit at once)",
                    },
                )
            ]
        )

    def _abandon(self, error: BaseException) -> None:
        """After an error in the loop: stop the jobs and give their tasks back."""
        self._cancel_running(f"the run stopped on an error: {error}")
        if self.futures:
            wait(list(self.futures))
        held = list(self.running)
        with contextlib.suppress(Exception), self.store.transaction() as loaded:
            for task_id in held:
                task = loaded.orchestrator.tasks.get(task_id)
                if task is not None and task.run_id == self.run_id:
                    loaded.orchestrator.set_status(task_id, Status.PENDING, note=self.cancel_reason)
                    loaded.orchestrator.update(task_id, run_id=None)

    # -- the end -------------------------------------------------------------------------------

    def _close(self, error: BaseException | None = None) -> RunSummary:
        from coditect.execution.summary import summary_data

        assert self.record is not None
        try:
            orchestrator = self.store.load().orchestrator
            not_done = unfinished(orchestrator, self.scope, self.live)
        except CoditectError:
            if error is None:
                raise
            not_done = []  # the state itself failed: what is left cannot be read
        failed = sum(t.status == "failed" for t in self.tallies.values())
        outcome = (
            "error"
            if error is not None
            else outcome_of(
                interrupted=self.interrupted,
                budget=self.breach is not None,
                failed=failed,
                left=len(not_done),
            )
        )
        data = summary_data(self, outcome, not_done, error)
        self.record.event("run_finished", outcome=outcome, reason=data["reason"])
        self.record.close(data)
        return RunSummary(data)

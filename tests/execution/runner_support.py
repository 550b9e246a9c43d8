"""Shared pieces of the runner tests: a project on disk, a runner on the fake executor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from coditect.agents.registry import Registry
from coditect.config import Config, RunSettings
from coditect.execution.fake import FakeExecutor
from coditect.execution.runner import Runner, RunOptions
from coditect.paths import ProjectPaths
from coditect.tasks.model import AgentTask
from coditect.tasks.orchestrator import Orchestrator
from coditect.tasks.store import StateStore


def fake_task(task_id: str, *deps: str, **fake: Any) -> AgentTask:
    """A task the fake executor runs; ``fake`` is its metadata.fake (sleep, fail_times…)."""
    return AgentTask(
        id=task_id, title=f"task {task_id}", dependencies=list(deps), metadata={"fake": fake}
    )


def make_project(root: Path, tasks: list[AgentTask]) -> tuple[ProjectPaths, StateStore]:
    paths = ProjectPaths(root)
    paths.state_dir.mkdir(parents=True)
    store = StateStore(paths.state_dir)
    store.save(Orchestrator(tasks), 1)
    return paths, store


def make_runner(
    paths: ProjectPaths,
    store: StateStore,
    fake: FakeExecutor | None = None,
    options: RunOptions | None = None,
    **settings: Any,
) -> Runner:
    """A runner whose default executor is ``fake``, with no agents."""
    settings.setdefault("executor", "fake")
    settings.setdefault("retry_backoff", 0.0)
    config = Config(run=RunSettings(**settings))
    return Runner(
        paths,
        config,
        store,
        options,
        agents=Registry(),
        executors={"fake": fake or FakeExecutor()},
    )


def tasks_of(store: StateStore) -> dict[str, AgentTask]:
    orchestrator = store.load().orchestrator
    return {task_id: orchestrator.tasks[task_id] for task_id in orchestrator.tasks}


def events_of(paths: ProjectPaths, run_id: str) -> list[dict[str, Any]]:
    lines = (paths.dir / "runs" / run_id / "events.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines]

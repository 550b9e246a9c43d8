"""The one interface every executor implements, and the registry that finds them.

An executor takes a :class:`Job` (what to do: the task, its prompt, where to work, how
long it may take) and returns an :class:`ExecutionResult` (what happened). It never
touches the task state: the runner owns the state and records results. Built-in
executors are registered here by module path, so none is imported until it is used;
plug-ins register the same way through the ``coditect.executors`` entry-point group.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from coditect.errors import NotFoundError

if TYPE_CHECKING:
    from coditect.config import Config
    from coditect.tasks.model import AgentTask

__all__ = [
    "BUILTIN_EXECUTORS",
    "ExecutionResult",
    "ExecutionStatus",
    "Executor",
    "Job",
    "Usage",
    "executor_names",
    "get_executor",
    "register_executor",
]


class ExecutionStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    WAITING = "waiting"
    """Handed to a person who has not answered yet (interactive, no terminal)."""
    CANCELLED = "cancelled"
    """Stopped by Ctrl-C or the run's stop signal before it finished."""


@dataclass(slots=True)
class Usage:
    """Tokens of one execution, as the provider counted them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_write_tokens
            + self.cache_read_tokens
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
        }


@dataclass(slots=True)
class ExecutionResult:
    """What one execution of a task produced."""

    status: ExecutionStatus
    output: str = ""
    error: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    duration_s: float = 0.0
    artefacts: list[str] = field(default_factory=list)
    session_id: str | None = None
    """The external session, such as a Claude Code session id."""
    model: str | None = None
    data: Any = None
    """Structured output, validated against the task's ``output_schema``."""
    attempts: int = 1
    """Requests made to produce this result: 1, plus retries and fallbacks (api)."""

    @property
    def ok(self) -> bool:
        return self.status is ExecutionStatus.SUCCEEDED

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "output": self.output,
            "error": self.error,
            "usage": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "duration_s": self.duration_s,
            "artefacts": list(self.artefacts),
            "session_id": self.session_id,
            "model": self.model,
            "data": self.data,
            "attempts": self.attempts,
        }


@dataclass(slots=True)
class Job:
    """One attempt at one task, as the runner hands it to an executor."""

    task: AgentTask
    """A copy of the task; executors read it and never change the state through it."""
    prompt: str
    """The user prompt, assembled by the runner from the task and its dependencies."""
    system_prompt: str = ""
    """The agent's system prompt (its Markdown body)."""
    workdir: Path = field(default_factory=Path.cwd)
    """Where commands run (the project root, or the task's git worktree)."""
    log_dir: Path | None = None
    """Where the executor writes its logs (``.coditect/runs/<run>/tasks/<task>/``)."""
    timeout: float = 3600.0
    model: str | None = None
    provider: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    tools: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables for commands the executor starts."""
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set by the runner to stop the execution (Ctrl-C, a budget); executors check it."""


class Executor(Protocol):
    """Runs one job. ``name`` is what tasks and agents write as ``executor``."""

    name: str

    def execute(self, job: Job) -> ExecutionResult: ...


ExecutorFactory = Callable[["Config"], Executor]

BUILTIN_EXECUTORS: dict[str, str] = {
    "script": "coditect.execution.script:ScriptExecutor",
    "interactive": "coditect.execution.interactive:InteractiveExecutor",
    "claude-code": "coditect.execution.claude_code:ClaudeCodeExecutor",
    "api": "coditect.execution.llm:ApiExecutor",
    "fake": "coditect.execution.fake:FakeExecutor",
}
"""Built-in executors by name, as ``module:factory``; a factory takes the Config."""

_registered: dict[str, ExecutorFactory] = {}


def register_executor(name: str, factory: ExecutorFactory) -> None:
    """Make ``name`` run on executors that ``factory(config)`` builds (plug-ins, tests)."""
    _registered[name] = factory


def _load(target: str) -> ExecutorFactory:
    module, _, attribute = target.partition(":")
    factory: ExecutorFactory = getattr(importlib.import_module(module), attribute)
    return factory


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="coditect.executors")}


def executor_names() -> list[str]:
    """Every executor that ``get_executor`` can build, sorted."""
    return sorted({*BUILTIN_EXECUTORS, *_plugins(), *_registered})


def get_executor(name: str, config: Config) -> Executor:
    """A new executor called ``name``: registered, then built-in, then a plug-in."""
    if name in _registered:
        return _registered[name](config)
    target = BUILTIN_EXECUTORS.get(name) or _plugins().get(name)
    if target is None:
        raise NotFoundError(
            f"no executor called {name!r}",
            "Executors: " + ", ".join(executor_names()) + ".",
        )
    return _load(target)(config)

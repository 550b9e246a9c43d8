"""Deterministic, realistic task graphs for the benchmarks.

``generate(n, seed)`` returns ``n`` AgentTasks forming a layered DAG in creation order:

* tasks come in layers of 4-40; a task depends only on tasks of earlier layers, mostly
  the previous layer, sometimes a few layers back, rarely anywhere earlier; 0-3
  dependencies each (the first layer has none);
* priorities, phases (following the position in the plan, with noise), agents, hours
  (about a fifth without an estimate), tags, sections and a one-line description;
* about 30% completed at the front, a handful in progress just after them, and a few
  failed and blocked tasks scattered through the rest; every task has the history its
  status implies, with timestamps derived from the seed, so two runs give equal data.

``markdown_tasklist`` and ``taskmaster_json`` render the same graph as plan files with
the project's own exporters.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson

from coditect.tasks.model import AgentTask, Phase, Priority, Status, Transition
from coditect.tasks.plans import export_markdown, export_taskmaster

__all__ = ["generate", "markdown_tasklist", "taskmaster_json"]

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
AGENTS = ["backend", "frontend", "devops", "qa", "docs", "data", "security"]
HOURS = [0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0]
VERBS = ["Implement", "Design", "Write", "Refactor", "Test", "Document", "Review", "Wire up"]
NOUNS = [
    "login flow",
    "billing API",
    "search index",
    "cache layer",
    "export job",
    "audit log",
    "rate limiter",
    "settings page",
    "webhook handler",
    "migration",
    "dashboard",
    "CLI command",
]
TAGS = ["api", "ui", "db", "infra", "perf", "security", "ux", "tech-debt"]
PHASES = list(Phase)
_ID_CHARS = "abcdefghjkmnpqrstvwxyz0123456789"


def _priority(rng: random.Random) -> Priority:
    return rng.choices(list(Priority), weights=[5, 20, 55, 20])[0]


def _phase(rng: random.Random, position: float) -> Phase:
    """The phase matching the position in the plan (0..1), one step off now and then."""
    base = min(int(position * len(PHASES)), len(PHASES) - 1)
    shift = rng.choices([-1, 0, 1], weights=[1, 8, 1])[0]
    return PHASES[min(max(base + shift, 0), len(PHASES) - 1)]


def _layers(rng: random.Random, n: int) -> list[int]:
    """For each task, its layer number."""
    layer_of: list[int] = []
    layer = 0
    while len(layer_of) < n:
        layer_of.extend([layer] * rng.randint(4, 40))
        layer += 1
    return layer_of[:n]


def _dependencies(rng: random.Random, i: int, layer_of: list[int], starts: list[int]) -> list[int]:
    layer = layer_of[i]
    if layer == 0:
        return []
    count = rng.choices([0, 1, 2, 3], weights=[10, 40, 30, 20])[0]
    chosen: set[int] = set()
    for _ in range(count):
        roll = rng.random()
        if roll < 0.70:
            source = layer - 1
        elif roll < 0.95:
            source = max(0, layer - rng.randint(2, 10))
        else:
            source = rng.randrange(layer)
        end = starts[source + 1] if source + 1 < len(starts) else i
        chosen.add(rng.randrange(starts[source], end))
    return sorted(chosen)


def _ids(rng: random.Random, n: int, numeric: bool) -> list[str]:
    if numeric:
        return [str(i + 1) for i in range(n)]
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < n:
        candidate = "t-" + "".join(rng.choices(_ID_CHARS, k=7))
        if candidate not in seen:
            seen.add(candidate)
            ids.append(candidate)
    return ids


def _statuses(rng: random.Random, n: int, deps: list[list[int]]) -> list[Status]:
    statuses = [Status.PENDING] * n
    front = int(n * 0.30)
    for i in range(front):
        statuses[i] = Status.COMPLETED
    # A few tasks whose dependencies are all done are under way; a few more failed.
    started = 0
    for i in range(front, n):
        if started >= max(3, n // 500):
            break
        if all(statuses[j] is Status.COMPLETED for j in deps[i]) and rng.random() < 0.3:
            statuses[i] = Status.IN_PROGRESS if rng.random() < 0.8 else Status.FAILED
            started += 1
    for _ in range(max(2, n // 400) if front < n else 0):  # blocked on something external
        i = rng.randrange(front, n)
        if statuses[i] is Status.PENDING:
            statuses[i] = Status.BLOCKED
    return statuses


def _history(
    created: datetime, status: Status, rng: random.Random
) -> tuple[list[Transition], datetime | None, datetime | None, int, str | None]:
    """History, started_at, completed_at, attempts and error for a task in ``status``."""
    history = [Transition(created, None, Status.PENDING, "created")]
    started = completed = None
    attempts = 0
    error = None
    if status in (Status.IN_PROGRESS, Status.COMPLETED, Status.FAILED):
        started = created + timedelta(hours=rng.randint(1, 200))
        attempts = 1
        history.append(Transition(started, Status.PENDING, Status.IN_PROGRESS, ""))
    if status is Status.COMPLETED:
        assert started is not None
        completed = started + timedelta(minutes=rng.randint(10, 900))
        history.append(Transition(completed, Status.IN_PROGRESS, Status.COMPLETED, "done"))
    elif status is Status.FAILED:
        assert started is not None
        error = "tests failed: 3 of 120"
        history.append(
            Transition(started + timedelta(hours=1), Status.IN_PROGRESS, Status.FAILED, error)
        )
    elif status is Status.BLOCKED:
        history.append(
            Transition(created + timedelta(hours=2), Status.PENDING, Status.BLOCKED, "waiting")
        )
    return history, started, completed, attempts, error


def generate(n: int, seed: int = 42, *, numeric_ids: bool = False) -> list[AgentTask]:
    """``n`` tasks of a realistic project, in creation order; equal for equal arguments.

    ``numeric_ids`` numbers the tasks 1..n (the ids Task Master itself uses) instead of
    giving them hash-like ids such as ``t-4kq9x2m``.
    """
    rng = random.Random(f"{seed}:{n}")
    layer_of = _layers(rng, n)
    starts = [i for i in range(n) if i == 0 or layer_of[i] != layer_of[i - 1]]
    deps = [_dependencies(rng, i, layer_of, starts) for i in range(n)]
    statuses = _statuses(rng, n, deps)
    ids = _ids(rng, n, numeric_ids)
    tasks = []
    for i in range(n):
        created = START + timedelta(minutes=i)
        history, started, completed, attempts, error = _history(created, statuses[i], rng)
        noun = rng.choice(NOUNS)
        epic = layer_of[i] // 25
        tasks.append(
            AgentTask(
                id=ids[i],
                title=f"{rng.choice(VERBS)} {noun} #{i + 1}",
                description=f"Part of epic {epic}: the {noun}, with tests and docs."
                if rng.random() < 0.6
                else "",
                agent=rng.choice(AGENTS) if rng.random() < 0.85 else None,
                priority=_priority(rng),
                phase=_phase(rng, i / n),
                status=statuses[i],
                dependencies=[ids[j] for j in deps[i]],
                estimated_hours=rng.choice(HOURS) if rng.random() < 0.8 else None,
                tags=sorted(set(rng.sample(TAGS, rng.randint(0, 2)))),
                section=f"Epic {epic}",
                error=error,
                attempts=attempts,
                created_at=created,
                started_at=started,
                completed_at=completed,
                history=history,
            )
        )
    return tasks


def markdown_tasklist(tasks: list[AgentTask]) -> str:
    """The graph as a checkbox tasklist (``coditect plan import`` reads it back)."""
    return export_markdown(tasks, title="Generated plan")


def taskmaster_json(tasks: list[AgentTask]) -> bytes:
    """The graph as a tagged Task Master ``tasks.json``."""
    return orjson.dumps(export_taskmaster(tasks), option=orjson.OPT_INDENT_2)


if __name__ == "__main__":
    import sys

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    sys.stdout.write(markdown_tasklist(generate(size)))

"""Properties of the graph and the orchestrator, checked against independent reference code.

The references here are written from the documented rules, not from the implementation:
a plain colouring DFS for cycles, a memoised recursion for chain hours, and direct
counting for open dependents.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from coditect.errors import CoditectError, CycleError
from coditect.tasks.graph import DEFAULT_HOURS, TaskGraph
from coditect.tasks.model import AgentTask, Priority, Status
from coditect.tasks.orchestrator import Orchestrator

DONE = (Status.COMPLETED, Status.CANCELLED)
# Weighted choices: mostly pending or completed work (so that many tasks are ready) with
# few distinct priorities and dyadic hours (so that sums are exact and ties are common).
UNBLOCKED = [Status.COMPLETED] * 3 + [Status.PENDING] * 5 + list(Status)
WAITING = [Status.PENDING] * 4 + list(Status)
PRIORITIES = [Priority.MEDIUM] * 4 + list(Priority)
HOURS = [None, None, None, 0.5, 1.0, 2.0]
LEAF_STATUSES = [Status.PENDING, Status.PENDING, Status.BLOCKED, Status.COMPLETED, Status.CANCELLED]


def has_cycle(edges: dict[str, list[str]]) -> bool:
    """Whether following dependency edges can return to a task (unknown ids are ignored)."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(edges, white)

    def visit(node: str) -> bool:
        colour[node] = grey
        for dep in edges[node]:
            if dep not in colour:
                continue
            if colour[dep] == grey:
                return True
            if colour[dep] == white and visit(dep):
                return True
        colour[node] = black
        return False

    return any(colour[node] == white and visit(node) for node in edges)


def edges_of(tasks: dict[str, AgentTask]) -> dict[str, list[str]]:
    return {task_id: list(task.dependencies) for task_id, task in tasks.items()}


def task(task_id: str, deps: list[str] | tuple[str, ...] = (), **fields: Any) -> AgentTask:
    return AgentTask(id=task_id, title=f"Task {task_id}", dependencies=list(deps), **fields)


# -- (1) no cycle is ever accepted -----------------------------------------------------------


@st.composite
def edge_sets(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    n = draw(st.integers(1, 8))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    return n, draw(st.lists(pairs, max_size=n * 2, unique=True))


@settings(max_examples=200, deadline=None)
@given(edge_sets())
def test_check_raises_cycle_error_exactly_when_there_is_a_cycle(
    graph_spec: tuple[int, list[tuple[int, int]]],
) -> None:
    n, edges = graph_spec
    deps: dict[str, list[str]] = {f"t{i}": [] for i in range(n)}
    for a, b in edges:
        deps[f"t{a}"].append(f"t{b}")
    g = TaskGraph({task_id: task(task_id, row) for task_id, row in deps.items()})
    cyclic = has_cycle(deps)
    try:
        g.check()
    except CycleError as exc:
        assert cyclic
        cycle = exc.cycle
        assert cycle[0] == cycle[-1]
        assert len(set(cycle[:-1])) == len(cycle) - 1 >= 2
        for task_id, dep in pairwise(cycle):
            assert dep in deps[task_id]
        assert str(exc) == "dependency cycle: " + " → ".join(cycle)
    else:
        assert not cyclic
        order = [g.ids[i] for i in g.topological_order]
        assert sorted(order) == sorted(deps)
        position = {task_id: i for i, task_id in enumerate(order)}
        for task_id, row in deps.items():
            assert all(position[dep] < position[task_id] for dep in row)


IDS = [f"t{i}" for i in range(6)]
dep_lists = st.lists(st.sampled_from(IDS), max_size=3)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(IDS), dep_lists),
        st.tuples(st.just("update"), st.sampled_from(IDS), dep_lists),
        st.tuples(
            st.just("put"),
            st.lists(st.tuples(st.sampled_from(IDS), dep_lists), min_size=1, max_size=3),
        ),
    ),
    max_size=25,
)


def expected_invalid(current: dict[str, AgentTask], op: tuple[Any, ...]) -> bool:
    """Whether the operation must be refused: bad target, unknown dependency or a cycle."""
    after = edges_of(current)
    if op[0] == "add":
        _, task_id, deps = op
        if task_id in current:
            return True
        after[task_id] = deps
    elif op[0] == "update":
        _, task_id, deps = op
        if task_id not in current:
            return True
        after[task_id] = deps
    else:
        for task_id, deps in op[1]:
            after[task_id] = deps
    unknown = any(dep not in after for row in after.values() for dep in row)
    self_dep = any(task_id in row for task_id, row in after.items())
    return unknown or self_dep or has_cycle(after)


def buildable(op: tuple[Any, ...]) -> tuple[Any, ...]:
    """A task cannot even be built depending on itself: leave those out of add and put."""
    if op[0] == "add":
        return (op[0], op[1], [d for d in op[2] if d != op[1]])
    if op[0] == "put":
        return (op[0], [(i, [d for d in deps if d != i]) for i, deps in op[1]])
    return op


@settings(max_examples=150, deadline=None)
@given(operations)
def test_orchestrator_never_accepts_a_cycle(ops: list[tuple[Any, ...]]) -> None:
    orch = Orchestrator()
    for drawn in ops:
        op = buildable(drawn)
        invalid = expected_invalid(orch.tasks, op)
        before = [t.to_dict() for t in orch.tasks.values()]
        try:
            if op[0] == "add":
                orch.add(task(op[1], op[2]))
            elif op[0] == "update":
                orch.update(op[1], dependencies=op[2])
            else:
                orch.put([task(i, deps) for i, deps in op[1]])
        except CoditectError:
            assert invalid, op
            assert [t.to_dict() for t in orch.tasks.values()] == before
        else:
            assert not invalid, op
        edges = edges_of(orch.tasks)
        assert not has_cycle(edges)
        assert all(dep in edges for row in edges.values() for dep in row)
        orch.graph.check()


# -- random task sets ------------------------------------------------------------------------


@dataclass
class Project:
    tasks: dict[str, AgentTask]

    @property
    def ids(self) -> list[str]:
        return list(self.tasks)


@st.composite
def projects(draw: st.DrawFn) -> Project:
    """A random acyclic task set with random statuses, priorities and estimates.

    The DAG is drawn over labels 0..n-1 (a task depends only on lower labels), then the
    tasks are created in a random order, so a task may depend on one created after it.
    Dependencies may repeat. Statuses lean towards what a real project looks like
    (completed work up front, pending work behind it) but any status can appear anywhere.
    Half the projects are plain (one priority, no estimates), where the later tie-breaks
    decide most orders.
    """
    n = draw(st.integers(1, 12))
    plain = draw(st.booleans())
    labels = [f"n{i}" for i in range(n)]
    deps: list[list[int]] = []
    statuses: list[Status] = []
    for label in range(n):
        row = draw(st.lists(st.integers(0, label - 1), max_size=3)) if label else []
        unblocked = all(statuses[j] is Status.COMPLETED for j in row)
        deps.append(row)
        statuses.append(draw(st.sampled_from(UNBLOCKED if unblocked else WAITING)))
    built = {}
    for label in draw(st.permutations(range(n))):
        built[labels[label]] = AgentTask(
            id=labels[label],
            title=f"Task {label}",
            dependencies=[labels[j] for j in deps[label]],
            status=statuses[label],
            priority=Priority.MEDIUM if plain else draw(st.sampled_from(PRIORITIES)),
            estimated_hours=None if plain else draw(st.sampled_from(HOURS)),
        )
    return Project(built)


@st.composite
def fan_outs(draw: st.DrawFn) -> Project:
    """Ready roots of one priority, each unblocking a few one-hour tasks, some of them done
    or listing the root twice: here the open-dependents tie-break decides most orders."""
    items = []
    for root in range(draw(st.integers(2, 5))):
        items.append(task(f"r{root}"))
        for k in range(draw(st.integers(0, 3))):
            items.append(
                task(
                    f"r{root}.{k}",
                    [f"r{root}"] * draw(st.integers(1, 2)),
                    status=draw(st.sampled_from(LEAF_STATUSES)),
                )
            )
    return Project({item.id: item for item in draw(st.permutations(items))})


def reference_analysis(
    tasks: dict[str, AgentTask],
) -> tuple[dict[str, float], dict[str, int]]:
    """Chain hours and open dependents, from first principles."""
    dependents: dict[str, set[str]] = {task_id: set() for task_id in tasks}
    for task_id, item in tasks.items():
        for dep in item.dependencies:
            dependents[dep].add(task_id)

    def remaining(task_id: str) -> bool:
        return tasks[task_id].status not in DONE

    @cache
    def chain(task_id: str) -> float:
        if not remaining(task_id):
            return 0.0
        hours = tasks[task_id].estimated_hours
        weight = DEFAULT_HOURS if hours is None else hours
        return weight + max((chain(j) for j in dependents[task_id]), default=0.0)

    chains = {task_id: chain(task_id) for task_id in tasks}
    open_dependents = {
        task_id: sum(1 for j in dependents[task_id] if remaining(j)) for task_id in tasks
    }
    return chains, open_dependents


# -- (2) the next task is ready and nothing ready outranks it -------------------------------


@settings(max_examples=200, deadline=None)
@given(st.one_of(projects(), fan_outs()))
def test_next_is_ready_and_best(project: Project) -> None:
    orch = Orchestrator()
    orch.put(project.tasks.values())
    tasks = orch.tasks
    chains, open_dependents = reference_analysis(tasks)
    creation = {task_id: i for i, task_id in enumerate(tasks)}

    def is_ready(task_id: str) -> bool:
        item = tasks[task_id]
        return item.status is Status.PENDING and all(
            tasks[dep].status is Status.COMPLETED for dep in item.dependencies
        )

    def rank(task_id: str) -> tuple[int, float, int, int]:
        return (
            tasks[task_id].priority.rank,
            -chains[task_id],
            -open_dependents[task_id],
            creation[task_id],
        )

    ready = [task_id for task_id in tasks if is_ready(task_id)]
    chosen = orch.next()
    if not ready:
        assert chosen is None
        assert orch.ready() == []
        return
    assert chosen is not None
    assert is_ready(chosen.id)
    assert all(rank(chosen.id) <= rank(other) for other in ready)
    assert [item.id for item in orch.ready()] == sorted(ready, key=rank)


@settings(max_examples=100, deadline=None)
@given(projects())
def test_critical_path_is_the_longest_remaining_chain(project: Project) -> None:
    graph = TaskGraph(project.tasks)
    chains, _ = reference_analysis(project.tasks)
    path = graph.critical_path
    left = [task_id for task_id, item in project.tasks.items() if item.status not in DONE]
    if not left:
        assert (path.ids, path.hours) == ([], 0.0)
        return
    assert path.hours == max(chains[task_id] for task_id in left)
    assert all(project.tasks[task_id].status not in DONE for task_id in path.ids)
    for first, then in pairwise(path.ids):
        assert first in project.tasks[then].dependencies
    weights = [project.tasks[task_id].estimated_hours or DEFAULT_HOURS for task_id in path.ids]
    assert sum(weights) == path.hours


# -- (3) waves respect every dependency -----------------------------------------------------


def check_waves(tasks: dict[str, AgentTask], waves: list[list[str]], placed: list[str]) -> None:
    creation = {task_id: i for i, task_id in enumerate(tasks)}
    where = {}
    for number, wave in enumerate(waves):
        assert wave, "no wave is empty"
        assert wave == sorted(wave, key=creation.__getitem__)
        for task_id in wave:
            assert task_id not in where, f"{task_id} is placed twice"
            where[task_id] = number
    assert sorted(where) == sorted(placed)
    for task_id, number in where.items():
        deps = [dep for dep in tasks[task_id].dependencies if dep in where]
        assert all(where[dep] < number for dep in deps)
        # One wave after its deepest placed dependency, not later.
        assert number == (max(where[dep] for dep in deps) + 1 if deps else 0)


@settings(max_examples=200, deadline=None)
@given(projects())
def test_waves_respect_every_dependency(project: Project) -> None:
    graph = TaskGraph(project.tasks)
    left = [task_id for task_id, item in project.tasks.items() if item.status not in DONE]
    check_waves(project.tasks, graph.waves(), left)
    check_waves(project.tasks, graph.waves(include_done=True), project.ids)

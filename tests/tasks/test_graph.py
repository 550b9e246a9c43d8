"""The dependency graph: checks, cycles, order, waves, chain hours and the ready order."""

from __future__ import annotations

from itertools import pairwise

import pytest

from coditect.errors import CycleError, DependencyError
from coditect.tasks.graph import DEFAULT_HOURS, CriticalPath, TaskGraph
from coditect.tasks.model import AgentTask, Priority, Status


def t(
    task_id: str,
    *deps: str,
    hours: float | None = None,
    status: Status = Status.PENDING,
    priority: Priority = Priority.MEDIUM,
) -> AgentTask:
    return AgentTask(
        id=task_id,
        title=f"Task {task_id}",
        dependencies=list(deps),
        estimated_hours=hours,
        status=status,
        priority=priority,
    )


def graph(*tasks: AgentTask) -> TaskGraph:
    return TaskGraph({task.id: task for task in tasks})


def chain_of(g: TaskGraph) -> dict[str, float]:
    return dict(zip(g.ids, g.chain_hours, strict=True))


def assert_real_cycle(g: TaskGraph, cycle: list[str]) -> None:
    """``cycle`` is closed, visits no task twice and follows dependency edges."""
    assert len(cycle) >= 3
    assert cycle[0] == cycle[-1]
    assert len(set(cycle[:-1])) == len(cycle) - 1
    for task_id, dep in pairwise(cycle):
        assert dep in g.tasks[task_id].dependencies, (task_id, dep)


# -- check ----------------------------------------------------------------------------------


def test_check_accepts_a_dag_and_an_empty_graph() -> None:
    graph().check()
    graph(t("a"), t("b", "a"), t("c", "a", "b"), t("d")).check()
    TaskGraph({"a": t("a"), "b": t("b", "a")}).check()


def test_a_task_may_depend_on_a_later_task() -> None:
    g = graph(t("a", "b"), t("b"))
    g.check()
    assert [g.ids[i] for i in g.topological_order] == ["b", "a"]


def test_unknown_dependency() -> None:
    g = graph(t("a"), t("b", "a", "zz"))
    with pytest.raises(DependencyError, match="task b depends on unknown task zz") as info:
        g.check()
    assert type(info.value) is DependencyError
    assert "Add that task first" in info.value.hint
    with pytest.raises(DependencyError, match="unknown task zz"):
        TaskGraph(g.tasks).check()


def test_unknown_dependency_keeps_the_known_edges() -> None:
    g = graph(t("a"), t("b", "zz", "a"))
    assert g.deps == [[], [0]]
    assert g.dependents == [[1], []]


def test_unknown_dependency_is_reported_before_a_cycle() -> None:
    g = graph(t("a", "b"), t("b", "a"), t("c", "nope"))
    with pytest.raises(DependencyError, match="unknown task nope") as info:
        g.check()
    assert not isinstance(info.value, CycleError)


def test_self_dependency() -> None:
    task = t("a")
    task.dependencies.append("a")  # the constructor refuses it; a later edit does not
    g = graph(t("x"), task)
    with pytest.raises(DependencyError, match="task a cannot depend on itself") as info:
        g.check()
    assert not isinstance(info.value, CycleError)


def test_two_task_cycle() -> None:
    g = graph(t("a", "b"), t("b", "a"))
    with pytest.raises(CycleError) as info:
        g.check()
    assert info.value.cycle == ["a", "b", "a"]
    assert str(info.value) == "dependency cycle: a → b → a"
    assert "break the cycle" in info.value.hint


def test_three_task_cycle_message() -> None:
    g = graph(t("a", "b"), t("b", "c"), t("c", "a"))
    with pytest.raises(CycleError, match="dependency cycle: a → b → c → a") as info:
        g.check()
    assert info.value.cycle == ["a", "b", "c", "a"]
    assert_real_cycle(g, info.value.cycle)


def test_cycle_is_found_behind_a_tail_and_off_the_first_task() -> None:
    # "head" is left over by Kahn (it depends on the cycle) but is not on the cycle.
    g = graph(
        t("root"),
        t("head", "root", "x"),
        t("x", "y"),
        t("y", "root", "z"),
        t("z", "x"),
        t("free", "root"),
    )
    with pytest.raises(CycleError) as info:
        g.check()
    assert info.value.cycle == ["x", "y", "z", "x"]
    assert_real_cycle(g, info.value.cycle)
    assert str(info.value) == "dependency cycle: x → y → z → x"


def test_cycle_with_a_chord_is_still_a_real_cycle() -> None:
    g = graph(t("a", "d", "b"), t("b", "c"), t("c", "a"), t("d", "c"))
    with pytest.raises(CycleError) as info:
        g.check()
    assert_real_cycle(g, info.value.cycle)
    assert info.value.cycle[0] == "a"


def test_one_of_two_disjoint_cycles_is_reported() -> None:
    g = graph(t("p"), t("a", "b"), t("b", "a"), t("c", "d"), t("d", "c"))
    with pytest.raises(CycleError) as info:
        g.check()
    assert_real_cycle(g, info.value.cycle)


def test_cycle_error_is_a_dependency_error() -> None:
    with pytest.raises(DependencyError):
        TaskGraph({"a": t("a", "b"), "b": t("b", "a")}).check()


# -- structure ------------------------------------------------------------------------------


def test_dependents_and_topological_order() -> None:
    g = graph(t("d", "b", "c"), t("b", "a"), t("c", "a"), t("a"), t("e"))
    assert g.ids == ["d", "b", "c", "a", "e"]
    assert g.index == {"d": 0, "b": 1, "c": 2, "a": 3, "e": 4}
    assert g.dependents == [[], [0], [0], [1, 2], []]
    order = [g.ids[i] for i in g.topological_order]
    assert sorted(order) == sorted(g.ids)
    for i, task_id in enumerate(order):
        for dep in g.tasks[task_id].dependencies:
            assert order.index(dep) < i


def test_topological_order_is_short_when_there_is_a_cycle() -> None:
    g = graph(t("a"), t("b", "a", "c"), t("c", "b"), t("d", "c"))
    assert [g.ids[i] for i in g.topological_order] == ["a"]


def test_a_repeated_dependency_counts_once() -> None:
    g = graph(t("a"), t("b", "a", "a"), t("c", "b"))
    g.check()
    assert g.deps[1] == [0]
    assert g.dependents[0] == [1]
    assert g.open_dependents == [1, 1, 0]
    assert [g.ids[i] for i in g.topological_order] == ["a", "b", "c"]


# -- waves ----------------------------------------------------------------------------------


def test_waves_place_each_task_one_after_its_deepest_dependency() -> None:
    g = graph(
        t("a"),
        t("b", "a"),
        t("c", "a"),
        t("d", "b", "c"),
        t("e"),
        t("f", "a", "d"),
    )
    assert g.waves() == [["a", "e"], ["b", "c"], ["d"], ["f"]]


def test_waves_list_each_wave_in_creation_order() -> None:
    # Kahn reaches b before a; the wave still lists a first.
    g = graph(t("a", "d"), t("b", "c"), t("c"), t("d"))
    assert g.waves() == [["c", "d"], ["a", "b"]]


def test_waves_leave_out_done_tasks_unless_asked() -> None:
    g = graph(
        t("a", status=Status.COMPLETED),
        t("b", "a"),
        t("c", "a", status=Status.CANCELLED),
        t("d", "b", "c"),
        t("e"),
    )
    assert g.waves() == [["b", "e"], ["d"]]
    assert g.waves(include_done=True) == [["a", "e"], ["b", "c"], ["d"]]


def test_waves_of_nothing_left() -> None:
    assert graph().waves() == []
    done = graph(t("a", status=Status.COMPLETED), t("b", "a", status=Status.CANCELLED))
    assert done.waves() == []
    assert done.waves(include_done=True) == [["a"], ["b"]]


# -- chain hours and the critical path -------------------------------------------------------


def test_chain_hours_on_a_line() -> None:
    g = graph(t("a", hours=2), t("b", "a", hours=3), t("c", "b"))
    assert chain_of(g) == {"a": 2 + 3 + DEFAULT_HOURS, "b": 3 + DEFAULT_HOURS, "c": DEFAULT_HOURS}
    assert DEFAULT_HOURS == 1.0
    assert g.critical_path == CriticalPath(["a", "b", "c"], 6.0)


def test_chain_hours_take_the_longest_branch() -> None:
    g = graph(
        t("a", hours=1),
        t("b", "a", hours=5),
        t("c", "a", hours=2),
        t("d", "c", hours=2.5),
        t("e", hours=0.5),
    )
    assert chain_of(g) == {"a": 6.0, "b": 5.0, "c": 4.5, "d": 2.5, "e": 0.5}
    assert g.critical_path == CriticalPath(["a", "b"], 6.0)


def test_chain_hours_through_a_join() -> None:
    # d depends on both b and c, so a's chain can go a → c → d.
    g = graph(
        t("a", hours=1),
        t("b", "a", hours=2),
        t("c", "a", hours=4),
        t("d", "b", "c", hours=3),
    )
    assert chain_of(g) == {"a": 8.0, "b": 5.0, "c": 7.0, "d": 3.0}
    assert g.critical_path == CriticalPath(["a", "c", "d"], 8.0)


def test_done_tasks_are_not_remaining_work() -> None:
    g = graph(
        t("a", hours=4, status=Status.COMPLETED),
        t("b", "a", hours=1),
        t("c", "b", hours=2, status=Status.CANCELLED),
        t("d", "b", hours=0.5),
        t("e", "a", hours=1, status=Status.IN_PROGRESS),
        t("f", "e", hours=1, status=Status.FAILED),
        t("g", "f", hours=1, status=Status.BLOCKED),
    )
    assert g.remaining == [False, True, False, True, True, True, True]
    assert chain_of(g) == {"a": 0.0, "b": 1.5, "c": 0.0, "d": 0.5, "e": 3.0, "f": 2.0, "g": 1.0}
    assert g.critical_path == CriticalPath(["e", "f", "g"], 3.0)


def test_critical_path_ties_go_to_creation_order() -> None:
    g = graph(t("x", hours=3), t("a", hours=1), t("c", "a", hours=2), t("b", "a", hours=2))
    assert chain_of(g) == {"x": 3.0, "a": 3.0, "c": 2.0, "b": 2.0}
    # x and a tie at 3h: x was created first. Had a won, c (created before b) would follow.
    assert g.critical_path == CriticalPath(["x"], 3.0)
    g2 = graph(t("a", hours=1), t("c", "a", hours=2), t("b", "a", hours=2), t("x", hours=3))
    assert g2.critical_path == CriticalPath(["a", "c"], 3.0)


def test_critical_path_of_nothing_left() -> None:
    assert graph().critical_path == CriticalPath([], 0.0)
    g = graph(t("a", status=Status.COMPLETED), t("b", "a", status=Status.CANCELLED))
    assert g.critical_path == CriticalPath([], 0.0)


# -- ready ----------------------------------------------------------------------------------


def test_ready_means_pending_with_every_dependency_completed() -> None:
    g = graph(
        t("done", status=Status.COMPLETED),
        t("gone", status=Status.CANCELLED),
        t("running", status=Status.IN_PROGRESS),
        t("stuck", status=Status.BLOCKED),
        t("broken", status=Status.FAILED),
        t("free"),
        t("after_done", "done"),
        t("after_gone", "gone"),
        t("after_running", "done", "running"),
        t("after_free", "free"),
        t("stuck_after_done", "done", status=Status.BLOCKED),
    )
    assert g.ready() == ["free", "after_done"]


def test_ready_reads_statuses_afresh() -> None:
    g = graph(t("a"), t("b", "a"))
    assert g.ready() == ["a"]
    g.tasks["a"].status = Status.COMPLETED
    assert g.ready() == ["b"]


def test_ready_orders_by_priority_first() -> None:
    # low has the longer chain and more dependents and was created first: priority wins.
    g = graph(
        t("low", priority=Priority.LOW, hours=8),
        t("l1", "low", hours=8),
        t("l2", "low", hours=8),
        t("medium"),
        t("critical", priority=Priority.CRITICAL),
        t("high", priority=Priority.HIGH),
    )
    assert g.ready() == ["critical", "high", "medium", "low"]


def test_ready_then_by_longest_remaining_chain() -> None:
    # b was created first and unblocks three tasks, but a heads 11 hours of work.
    g = graph(
        t("b", hours=1),
        t("b1", "b", hours=1),
        t("b2", "b", hours=1),
        t("b3", "b", hours=1),
        t("a", hours=1),
        t("a1", "a", hours=10),
    )
    assert chain_of(g)["a"] == 11.0
    assert chain_of(g)["b"] == 2.0
    assert g.ready() == ["a", "b"]


def test_ready_chain_uses_default_hours_for_unestimated_work() -> None:
    g = graph(t("b", hours=0.5), t("b1", "b", hours=1.25), t("a"), t("a1", "a"))
    assert g.ready() == ["a", "b"]  # 2 × DEFAULT_HOURS = 2.0 beats 1.75


def test_ready_then_by_open_dependents() -> None:
    g = graph(
        t("a", hours=1),
        t("a1", "a", hours=2),
        t("b", hours=1),
        t("b1", "b", hours=2),
        t("b2", "b", hours=2),
    )
    assert chain_of(g)["a"] == chain_of(g)["b"] == 3.0
    assert g.ready() == ["b", "a"]


def test_ready_counts_only_open_dependents() -> None:
    g = graph(
        t("a", hours=1),
        t("a1", "a", hours=2),
        t("b", hours=1),
        t("b1", "b", hours=2),
        t("b2", "b", hours=2, status=Status.CANCELLED),
    )
    assert g.open_dependents == [1, 0, 1, 0, 0]
    assert g.ready() == ["a", "b"]


def test_ready_counts_a_dependent_listed_twice_once() -> None:
    g = graph(
        t("a", hours=1),
        t("a1", "a", "a", hours=2),
        t("b", hours=1),
        t("b1", "b", hours=2),
        t("b2", "b", hours=2),
    )
    assert g.ready() == ["b", "a"]


def test_ready_then_by_creation_order() -> None:
    g = graph(t("z"), t("m"), t("a"))
    assert g.ready() == ["z", "m", "a"]

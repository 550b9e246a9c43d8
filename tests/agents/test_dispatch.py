"""The dispatcher: stems, ranking, explanations, and accuracy on labelled tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from coditect.agents.dispatch import (
    MIN_SCORE,
    Dispatcher,
    assign,
    stem,
    suggest,
    task_query,
    terms,
)
from coditect.agents.registry import Agent, Registry
from coditect.tasks.model import AgentTask, Phase
from coditect.tasks.plans import parse_taskmaster
from tests.conftest import CORPUS

LABELLED = yaml.safe_load((Path(__file__).with_name("labelled_tasks.yaml")).read_text())
WRITTEN_FLOOR = 0.85
TASKMASTER_FLOOR = 0.80


@pytest.fixture(scope="module")
def library() -> Registry:
    return Registry.load(None)


def make(name: str, description: str, *capabilities: str) -> Agent:
    return Agent(name=name, description=description, prompt="x\n", capabilities=capabilities)


@pytest.mark.parametrize(
    "forms",
    [
        ("migrate", "migrates", "migrated", "migrating", "migration", "migrations"),
        ("optimize", "optimise", "optimization", "optimisation", "optimizing"),
        ("deploy", "deploys", "deployed", "deploying", "deployment", "deployments"),
        ("document", "docs", "documentation", "documenting"),
        ("accessible", "accessibility"),
        ("vulnerable", "vulnerabilities", "vulnerability"),
        ("query", "queries"),
        ("log", "logs", "logging", "logged"),
        ("plan", "plans", "planned", "planning"),
        ("index", "indexes", "indexing"),
        ("color", "colour", "colours"),
    ],
)
def test_the_forms_of_a_word_share_a_stem(forms: tuple[str, ...]) -> None:
    assert len({stem(word) for word in forms}) == 1, {word: stem(word) for word in forms}


@pytest.mark.parametrize(
    "different",
    [("test", "testament"), ("user", "use"), ("string", "strong"), ("status", "stat")],
)
def test_different_words_keep_different_stems(different: tuple[str, str]) -> None:
    assert stem(different[0]) != stem(different[1])


def test_terms_drop_common_words_and_pair_neighbours_within_a_phrase() -> None:
    assert terms("Add the load tests, then profile.") == [
        ("load", "load"),
        ("test", "tests"),
        ("profil", "profile"),
        ("load test", "load tests"),
    ]


def test_a_phrase_match_outranks_the_same_words_apart() -> None:
    apart = make("apart", "Load things, and test other things.", "load", "test")
    phrase = make("phrase", "Runs load tests.", "load testing")
    [first, second] = suggest("load testing of the search", [apart, phrase], top=2)
    assert (first.name, second.name) == ("phrase", "apart")
    assert first.matched[0].term == "load testing"
    assert first.matched[0].fields == ("capabilities", "description")


def test_ties_go_to_the_name_that_sorts_first_whatever_the_input_order() -> None:
    twins = [make(name, "Writes docs.", "documentation") for name in ("zeta", "alpha", "mid")]
    for agents in (twins, twins[::-1]):
        ranked = suggest("write the documentation", agents, top=3)
        assert [s.name for s in ranked] == ["alpha", "mid", "zeta"]
        assert len({s.score for s in ranked}) == 1


def test_agents_with_nothing_in_common_are_left_out() -> None:
    agents = [make("docs", "Writes docs.", "documentation"), make("db", "Databases.", "sql")]
    assert [s.name for s in suggest("improve the documentation", agents, top=5)] == ["docs"]
    assert suggest("water the plants", agents) == []
    assert suggest("documentation", agents, top=0) == []


def test_a_suggestion_explains_itself(library: Registry) -> None:
    [best] = suggest("Add Prometheus metrics and Grafana dashboards", library, top=1)
    assert best.name == "observability"
    terms_matched = {m.term for m in best.matched}
    assert {"prometheus", "metrics", "grafana", "dashboards"} <= terms_matched
    assert "'prometheus' (capabilities" in best.explain()
    data = best.to_dict()
    assert data["agent"] == "observability" and data["score"] == round(best.score, 3)
    assert {m["term"] for m in data["matched"]} == terms_matched
    assert [m.score for m in best.matched] == sorted((m.score for m in best.matched), reverse=True)


def test_the_same_text_gives_the_same_answer(library: Registry) -> None:
    text = "Backfill the orders table and verify the row counts"
    first = [s.to_dict() for s in suggest(text, library, top=5)]
    assert all(
        [s.to_dict() for s in suggest(text, list(library)[::-1], top=5)] == first for _ in range(3)
    )


def test_assign_reads_the_whole_task(library: Registry) -> None:
    task = AgentTask(
        id="t-1",
        title="Payments",
        description="Integrate Stripe checkout and verify its webhook signatures.",
        tags=["third-party"],
    )
    chosen = assign(task, library)
    assert chosen is not None and chosen.name == "integrations"
    assert {"stripe", "webhook", "checkout"} <= {m.term for m in chosen.matched}


def test_the_title_weighs_more_than_the_notes(library: Registry) -> None:
    task = AgentTask(
        id="t-1",
        title="Write the user guide for exports",
        notes="Mention the database index and query that the export uses.",
    )
    chosen = assign(task, library)
    assert chosen is not None and chosen.name == "technical-writer"


def test_the_phase_nudges_but_never_assigns_alone(library: Registry) -> None:
    dispatcher = Dispatcher(library)

    def best(phase: Phase) -> str | None:
        ranked = dispatcher.rank(
            task_query(AgentTask(id="a", title="Verify the signup journey", phase=phase)), top=1
        )
        return ranked[0].name if ranked else None

    assert best(Phase.DEVELOPMENT) is None  # the default phase says nothing
    assert best(Phase.TESTING) == "test-engineer"
    assert best(Phase.DEPLOYMENT) == "devops"
    task = AgentTask(id="a", title="Verify the signup journey", phase=Phase.TESTING)
    assert dispatcher.assign(task) is None


def test_a_weak_match_is_not_an_assignment(library: Registry) -> None:
    """One common shared word is not a fit: the task stays unassigned."""
    task = AgentTask(id="a", title="Update the logo")
    [weak] = Dispatcher(library).suggest(task.title, top=1)
    assert 0 < weak.score < MIN_SCORE
    assert assign(task, library) is None
    assert assign(task, library, min_score=0.0) == weak


def _accuracy(name: str, rows: list[tuple[str, str | None, str | None]]) -> float:
    right = sum(expected == got for _, expected, got in rows)
    accuracy = right / len(rows)
    misses = [
        f"    {text[:70]!r}: {expected} -> {got}" for text, expected, got in rows if expected != got
    ]
    print(f"\n[dispatch] {name}: {right}/{len(rows)} right, accuracy {accuracy:.1%}")
    print("\n".join(misses))
    return accuracy


def test_accuracy_on_written_task_descriptions(
    library: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    dispatcher = Dispatcher(library)
    rows = []
    for item in LABELLED["written"]:
        chosen = dispatcher.assign(AgentTask(id="t", title=item["text"]))
        rows.append((item["text"], item["agent"], chosen.name if chosen else None))
    assert len(rows) >= 40
    assert {expected for _, expected, _ in rows} >= {a.name for a in library}, "every agent"
    with capsys.disabled():
        accuracy = _accuracy("written tasks", rows)
    assert accuracy >= WRITTEN_FLOOR


def _taskmaster_tasks() -> list[tuple[AgentTask, str]]:
    labelled = []
    for file_name, tags in LABELLED["taskmaster"].items():
        data = (CORPUS / "taskmaster" / file_name).read_bytes()
        for tag, labels in tags.items():
            items = {i["id"]: i for i in parse_taskmaster(data, file_name, tag)}
            for number, agent in labels.items():
                item: dict[str, Any] = items[str(number)]
                task = AgentTask(
                    id=item["id"],
                    title=item["title"],
                    description=item["description"],
                    notes=item["notes"],
                    success_criteria=item["success_criteria"],
                )
                labelled.append((task, agent))
    return labelled


def test_accuracy_on_real_task_master_tasks(
    library: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    dispatcher = Dispatcher(library)
    labelled = _taskmaster_tasks()
    rows = []
    for task, expected in labelled:
        chosen = dispatcher.assign(task)
        rows.append((task.title, expected, chosen.name if chosen else None))
    assert len(rows) >= 40
    with capsys.disabled():
        accuracy = _accuracy("real Task Master tasks", rows)
    assert accuracy >= TASKMASTER_FLOOR

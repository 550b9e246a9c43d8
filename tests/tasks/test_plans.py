"""Plans in and out: the tasklist syntax, Task Master on real files, merging, round trips."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from coditect.errors import CycleError, DependencyError, PlanFormatError, ValidationError
from coditect.tasks.model import AgentTask, Phase, Priority, Status
from coditect.tasks.orchestrator import Orchestrator
from coditect.tasks.plans import (
    IMPORT_NOTE,
    PlanItem,
    export_markdown,
    export_taskmaster,
    merge_plan,
    parse_markdown,
    parse_plan,
    parse_taskmaster,
    read_plan,
)
from tests.conftest import CORPUS

TASKMASTER = CORPUS / "taskmaster"


def by_id(items: list[PlanItem]) -> dict[str, PlanItem]:
    return {item["id"]: item for item in items}


def imported(items: list[PlanItem]) -> Orchestrator:
    project = Orchestrator()
    merge_plan(project, items)
    return project


def snapshot(project: Orchestrator) -> dict[str, dict[str, Any]]:
    return {task_id: task.to_dict() for task_id, task in project.tasks.items()}


# -- the tasklist syntax ---------------------------------------------------------------------


def test_every_checkbox_mark_maps_to_its_status() -> None:
    text = "\n".join(f"- [{mark}] Item {n} {{id=i{n}}}" for n, mark in enumerate(" xX>!-fF"))
    statuses = [item["status"] for item in parse_markdown(text)]
    assert statuses == [
        Status.PENDING,
        Status.COMPLETED,
        Status.COMPLETED,
        Status.IN_PROGRESS,
        Status.BLOCKED,
        Status.CANCELLED,
        Status.FAILED,
        Status.FAILED,
    ]


def test_every_metadata_key_is_read() -> None:
    text = (
        "- [ ] Build the API {id=api agent=backend priority=high hours=4 "
        "after=spec,db tags=a,b phase=testing}\n"
        "- [x] Write the spec {id=spec hours=1.5h priority=CRITICAL}\n"
        "- [x] Create the database {id=db}\n"
    )
    items = by_id(parse_markdown(text))
    api = items["api"]
    assert api["title"] == "Build the API"
    assert api["agent"] == "backend"
    assert api["priority"] is Priority.HIGH
    assert api["estimated_hours"] == 4.0
    assert api["dependencies"] == ["spec", "db"]
    assert api["tags"] == ["a", "b"]
    assert api["phase"] is Phase.TESTING
    assert api["status"] is Status.PENDING
    spec = items["spec"]
    assert spec["estimated_hours"] == 1.5  # "h" suffix allowed
    assert spec["priority"] is Priority.CRITICAL  # case-insensitive
    db = items["db"]  # keys not given take their defaults
    assert (db["agent"], db["priority"], db["estimated_hours"], db["tags"], db["dependencies"]) == (
        None,
        Priority.MEDIUM,
        None,
        [],
        [],
    )


def test_bullets_may_be_dash_star_or_plus() -> None:
    items = parse_markdown("- [ ] A {id=a}\n* [x] B {id=b}\n+ [>] C {id=c}\n")
    assert [(i["id"], i["status"]) for i in items] == [
        ("a", Status.PENDING),
        ("b", Status.COMPLETED),
        ("c", Status.IN_PROGRESS),
    ]


def test_headings_set_phase_and_section() -> None:
    text = """\
# Bookshelf API

Some prose before the first item.

- [ ] Before any heading {id=first}

## Design

- [ ] Design it {id=design}

### API

- [ ] Sectioned design {id=design-api}

## Phase 2: Development

- [ ] Phase heading cleared the section {id=dev}

### Backend tests

- [ ] Section keeps the phase {id=backend}
- [ ] Metadata overrides the heading {id=override phase=deployment}

# Testing

- [ ] A level-1 phase heading works too {id=tests}

## QA
- [ ] qa is a phase word {id=qa}

## Phase 3 - Release
- [ ] Phase N - word {id=rel}
"""
    items = by_id(parse_markdown(text))
    assert (items["first"]["phase"], items["first"]["section"]) == (Phase.DEVELOPMENT, "")
    assert (items["design"]["phase"], items["design"]["section"]) == (Phase.DESIGN, "")
    assert (items["design-api"]["phase"], items["design-api"]["section"]) == (Phase.DESIGN, "API")
    assert (items["dev"]["phase"], items["dev"]["section"]) == (Phase.DEVELOPMENT, "")
    assert (items["backend"]["phase"], items["backend"]["section"]) == (
        Phase.DEVELOPMENT,
        "Backend tests",
    )
    assert items["override"]["phase"] is Phase.DEPLOYMENT
    assert items["override"]["section"] == "Backend tests"
    assert (items["tests"]["phase"], items["tests"]["section"]) == (Phase.TESTING, "")
    assert items["qa"]["phase"] is Phase.TESTING
    assert items["rel"]["phase"] is Phase.DEPLOYMENT


def test_a_level_one_heading_that_names_no_phase_sets_no_section() -> None:
    items = parse_markdown("## Backend\n\n# Just a title\n\n- [ ] A {id=a}\n")
    assert items[0]["section"] == "Backend"


def test_indented_lines_are_the_description() -> None:
    text = """\
- [ ] Write the brief {id=brief}
  Who the users are.
  What they do.

  A blank line keeps the paragraph break.


- [ ] Next {id=next}
Not indented: not a description.
"""
    items = by_id(parse_markdown(text))
    assert items["brief"]["description"] == (
        "Who the users are.\nWhat they do.\n\nA blank line keeps the paragraph break."
    )
    assert items["next"]["description"] == ""


def test_nested_items_are_subtasks_their_parent_depends_on() -> None:
    text = """\
- [ ] Implement books {id=books after=api}
  - [ ] Validate ISBNs {id=isbn}
    Checksums too.
    - [x] ISBN-10 {id=isbn10}
  - [ ] Paginate {id=paging}
- [ ] Design the API {id=api}
- [ ] Loans {id=loans}
"""
    items = by_id(parse_markdown(text))
    assert items["books"]["dependencies"] == ["api", "isbn", "paging"]
    assert items["isbn"]["dependencies"] == ["isbn10"]
    assert items["isbn"]["description"] == "Checksums too."
    assert items["isbn10"]["dependencies"] == []
    assert items["paging"]["dependencies"] == []
    assert items["loans"]["dependencies"] == []  # back at the top level: no parent


def test_a_subtask_already_listed_in_after_is_not_repeated() -> None:
    items = by_id(parse_markdown("- [ ] P {id=p after=c}\n  - [ ] C {id=c}\n"))
    assert items["p"]["dependencies"] == ["c"]


def test_a_plain_line_or_heading_ends_the_nesting() -> None:
    text = """\
- [ ] Parent {id=p}
Some prose at the top level.
  - [ ] Not a child of p {id=a}

## Section
  - [ ] Not a child either {id=b}
"""
    items = by_id(parse_markdown(text))
    assert items["p"]["dependencies"] == []
    assert items["a"]["dependencies"] == []
    assert items["b"]["section"] == "Section"


def test_items_without_an_id_get_a_stable_hash_id() -> None:
    text = "## Backend\n- [ ] Same title\n- [ ] Same title\n## Frontend\n- [ ] Same title\n"
    first = [i["id"] for i in parse_markdown(text)]
    second = [i["id"] for i in parse_markdown(text)]
    assert first == second
    assert len(set(first)) == 3
    for task_id in first:
        assert task_id.startswith("t-")
        assert len(task_id) == 9
    # the id follows the section and title, not the position in the file
    moved = parse_markdown("## Frontend\n- [ ] Same title\n\n## Backend\n- [ ] Same title\n")
    assert [i["id"] for i in moved] == [first[2], first[0]]


def test_order_does_not_matter_a_dependency_declared_later_resolves() -> None:
    text = "- [ ] Release {id=release after=build}\n- [ ] Build {id=build after=design}\n"
    text += "- [x] Design {id=design}\n"
    project = imported(parse_markdown(text))
    assert project.get("release").dependencies == ["build"]
    assert [t.id for t in project.ready()] == ["build"]


def test_parse_plan_reads_a_tasklist_and_refuses_a_tag(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_text("- [ ] A {id=a}\n")
    assert [i["id"] for i in read_plan(path)] == ["a"]
    with pytest.raises(PlanFormatError, match="--tag applies to Task Master files only"):
        read_plan(path, tag="master")


def test_parse_plan_refuses_a_file_that_is_not_utf8() -> None:
    with pytest.raises(PlanFormatError, match=r"plan\.md: not UTF-8"):
        parse_plan(b"- [ ] caf\xe9\n", "plan.md")


def test_read_plan_of_a_missing_file_says_it_cannot_read_it(tmp_path: Path) -> None:
    with pytest.raises(PlanFormatError, match="cannot read the file") as caught:
        read_plan(tmp_path / "missing.md")
    assert caught.value.exit_code == 4


def test_parse_plan_reads_json_as_task_master_by_content_or_name() -> None:
    body = b'  {"tasks": [{"id": 1, "title": "One"}]}'
    assert parse_plan(body, "plan.txt")[0]["id"] == "1"
    with pytest.raises(PlanFormatError, match="invalid JSON"):
        parse_plan(b"not json", "tasks.json")


# -- tasklist errors name the file and line ---------------------------------------------------

BAD_LINES = [
    ("- [?] Unknown mark", r"unknown checkbox mark \[\?\]"),
    ("- [] No mark", r"unknown checkbox mark \[\]"),
    ("- [xx] Two marks", "malformed checkbox"),
    ("- [ ] Unknown key {id=a owner=bob}", "unknown metadata 'owner=bob'"),
    ("- [ ] No equals {urgent}", "unknown metadata 'urgent'"),
    ("- [ ] Empty value {agent=}", "agent= has no value"),
    ("- [ ] Bad priority {priority=urgent}", "invalid priority 'urgent'"),
    ("- [ ] Bad phase {phase=someday}", "invalid phase 'someday'"),
    ("- [ ] Zero hours {hours=0}", "hours must be greater than 0"),
    ("- [ ] Negative hours {hours=-2}", "hours must be greater than 0"),
    ("- [ ] Not a number {hours=lots}", "could not convert"),
    ("- [ ] Bad id {id=-x}", "invalid task id '-x'"),
    ("- [ ] Bad dependency {after=ok,no/slash}", "invalid task id 'no/slash'"),
    ("- [ ] Unclosed {id=a priority=high", "not closed"),
    ("- [ ]   {id=a}", "a task needs a title"),
    ("- [ ]", "a task needs a title"),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_a_malformed_item_raises_with_file_and_line(line: str, message: str) -> None:
    text = f"# Plan\n\n- [ ] Fine {{id=fine}}\n{line}\n- [ ] Also fine\n"
    with pytest.raises(PlanFormatError, match=message) as caught:
        parse_markdown(text, "plan.md")
    assert caught.value.line == 4
    assert str(caught.value).startswith("plan.md:4: ")
    assert caught.value.exit_code == 4


def test_a_duplicate_id_names_both_lines() -> None:
    text = "- [ ] One {id=x}\n- [ ] Two {id=y}\n\n- [ ] Three {id=x}\n"
    with pytest.raises(PlanFormatError) as caught:
        parse_markdown(text, "plan.md")
    assert str(caught.value) == "plan.md:4: id x is also used on line 1"


def test_errors_carry_a_hint_where_the_syntax_needs_explaining() -> None:
    with pytest.raises(PlanFormatError) as caught:
        parse_markdown("- [?] x")
    assert "[x] completed" in caught.value.hint
    with pytest.raises(PlanFormatError) as caught:
        parse_markdown("- [ ] x {colour=red}")
    assert "agent" in caught.value.hint and "after" in caught.value.hint


# -- Task Master: the five real files ----------------------------------------------------------

# SOURCES.md section 3: tasks, subtasks, task-level and subtask-level dependency edges.
CORPUS_COUNTS: dict[str, tuple[int, int, int, int]] = {
    "CanAISolutions__canai-platform.json": (130, 342, 276, 320),
    "5dlabs__toolman.json": (42, 190, 92, 200),
    "Alivanroy__Typosentinel.json": (34, 12, 36, 0),
    "BlueTursi__tursi-ai.json": (10, 30, 20, 27),
    "CodySwannGT__ai-coding-assistants-setup.json": (15, 8, 16, 18),
}
TAGS: dict[str, list[str | None]] = {"5dlabs__toolman.json": [None, "verification"]}
TM_STATUS = {
    "pending": Status.PENDING,
    "in-progress": Status.IN_PROGRESS,
    "review": Status.IN_PROGRESS,
    "done": Status.COMPLETED,
    "completed": Status.COMPLETED,
    "blocked": Status.BLOCKED,
    "deferred": Status.BLOCKED,
    "cancelled": Status.CANCELLED,
}


def _raw_tasks(name: str, tag: str | None) -> list[dict[str, Any]]:
    document = json.loads((TASKMASTER / name).read_bytes())
    if "tasks" in document:
        return list(document["tasks"])
    return list(document[tag or "master"]["tasks"])


def _assert_acyclic(project: Orchestrator) -> None:
    """Kahn's algorithm, independent of the graph module."""
    waiting = {t.id: len(set(t.dependencies)) for t in project.tasks.values()}
    users: dict[str, list[str]] = {}
    for task in project.tasks.values():
        for dep in set(task.dependencies):
            users.setdefault(dep, []).append(task.id)
    free = [i for i, n in waiting.items() if n == 0]
    seen = 0
    while free:
        current = free.pop()
        seen += 1
        for user in users.get(current, []):
            waiting[user] -= 1
            if waiting[user] == 0:
                free.append(user)
    assert seen == len(project.tasks), "the imported graph has a cycle"


@pytest.mark.parametrize("name", sorted(CORPUS_COUNTS))
def test_each_corpus_file_imports_completely(name: str) -> None:
    tasks, subtasks, task_deps, subtask_deps = CORPUS_COUNTS[name]
    total_items = total_edges = top_level = 0
    for tag in TAGS.get(name, [None]):
        project = imported(read_plan(TASKMASTER / name, tag=tag))
        total_items += len(project.tasks)
        top_level += sum("." not in i for i in project.tasks)
        edges = [(t.id, d) for t in project.tasks.values() for d in t.dependencies]
        total_edges += len(edges)
        for task_id, dep in edges:  # every dependency resolves
            assert dep in project.tasks, f"{task_id} depends on unknown {dep}"
        _assert_acyclic(project)
        assert len(project.graph.topological_order) == len(project.tasks)
        for task_id in project.tasks:  # parents depend on their subtasks
            parent = task_id.split(".", 1)[0]
            if parent != task_id:
                assert task_id in project.get(parent).dependencies
    assert top_level == tasks
    assert total_items == tasks + subtasks
    # every edge in the file, plus one from each parent to each of its subtasks
    assert total_edges == task_deps + subtask_deps + subtasks


def test_corpus_totals_match_sources_section_4() -> None:
    assert sum(c[0] for c in CORPUS_COUNTS.values()) == 231
    assert sum(c[1] for c in CORPUS_COUNTS.values()) == 582
    assert sum(c[2] for c in CORPUS_COUNTS.values()) == 440
    assert sum(c[3] for c in CORPUS_COUNTS.values()) == 565


@pytest.mark.parametrize("name", sorted(CORPUS_COUNTS))
def test_corpus_statuses_titles_and_priorities_map(name: str) -> None:
    for tag in TAGS.get(name, [None]):
        items = by_id(read_plan(TASKMASTER / name, tag=tag))
        for raw in _raw_tasks(name, tag):
            item = items[str(raw["id"])]
            assert item["status"] is TM_STATUS[raw.get("status") or "pending"]
            assert item["title"] == raw["title"].strip()
            assert item["priority"] is Priority(raw.get("priority") or "medium")
            assert item["notes"] == (raw.get("details") or "")
            for sub in raw.get("subtasks") or []:
                local = str(sub["id"])
                sub_id = local if local.startswith(f"{raw['id']}.") else f"{raw['id']}.{local}"
                assert items[sub_id]["status"] is TM_STATUS[sub.get("status") or "pending"]
                if not sub.get("priority"):
                    assert items[sub_id]["priority"] is item["priority"]  # inherited


def test_canai_status_counts() -> None:
    project = imported(read_plan(TASKMASTER / "CanAISolutions__canai-platform.json"))
    top = Counter(t.status for t in project.tasks.values() if "." not in t.id)
    assert top == {Status.PENDING: 123, Status.COMPLETED: 6, Status.IN_PROGRESS: 1}
    for task in project.select():
        if task.status is Status.COMPLETED:  # the import records how it got there
            assert task.completed_at is not None
            assert task.history[-1].note == IMPORT_NOTE


def test_alivanroy_float_subtask_ids_are_not_doubled() -> None:
    project = imported(read_plan(TASKMASTER / "Alivanroy__Typosentinel.json"))
    assert "29.1" in project.tasks and "29.29.1" not in project.tasks
    assert {"29.1", "29.2"} <= set(project.get("29").dependencies)
    assert {f"30.{n}" for n in range(1, 7)} <= set(project.get("30").dependencies)
    # integer subtask ids are local to their parent
    assert {"31.311", "31.312", "31.313", "31.314"} <= set(project.get("31").dependencies)
    assert project.get("30.1").status is Status.COMPLETED  # "completed" is accepted too


def test_5dlabs_string_subtask_dependencies_and_tags() -> None:
    path = TASKMASTER / "5dlabs__toolman.json"
    master = by_id(read_plan(path))
    assert master["12.2"]["dependencies"] == ["12.1"]
    assert master["12.8"]["dependencies"] == ["12.7"]
    assert master == by_id(read_plan(path, tag="master"))
    verification = by_id(read_plan(path, tag="verification"))
    assert len(master) == 112
    assert len(verification) == 120
    raw = {str(t["id"]): t["title"] for t in _raw_tasks("5dlabs__toolman.json", "verification")}
    assert {i: verification[i]["title"] for i in raw} == raw
    with pytest.raises(PlanFormatError, match="no tag 'nope'; this file has: master, verification"):
        read_plan(path, tag="nope")


def test_a_plain_file_has_no_tags() -> None:
    with pytest.raises(PlanFormatError, match="this file has no tags"):
        read_plan(TASKMASTER / "BlueTursi__tursi-ai.json", tag="master")


# -- Task Master: the format in detail ---------------------------------------------------------


def tm(document: Any, tag: str | None = None) -> list[PlanItem]:
    return parse_taskmaster(orjson.dumps(document), "tasks.json", tag)


def test_taskmaster_fields_map() -> None:
    items = by_id(
        tm(
            {
                "tasks": [
                    {
                        "id": 5,
                        "title": " Build ",
                        "description": "What",
                        "details": "How",
                        "testStrategy": "Run it",
                        "priority": "High",
                        "status": "review",
                        "dependencies": [3],
                        "subtasks": [
                            {"id": 1, "title": "One", "status": "deferred"},
                            {"id": "5.2", "description": "no title here", "dependencies": [1, "3"]},
                            {"id": 3, "title": "Three", "priority": "low", "status": "cancelled"},
                        ],
                    },
                    {"id": 3, "title": "Three", "status": "blocked"},
                ]
            }
        )
    )
    build = items["5"]
    assert build["title"] == "Build"
    assert (build["description"], build["notes"]) == ("What", "How")
    assert build["success_criteria"] == ["Run it"]
    assert build["priority"] is Priority.HIGH
    assert build["status"] is Status.IN_PROGRESS
    assert build["dependencies"] == ["3", "5.1", "5.2", "5.3"]
    assert items["5.1"]["status"] is Status.BLOCKED
    assert items["5.1"]["priority"] is Priority.HIGH  # inherited
    assert items["5.2"]["title"] == "no title here"
    assert items["5.2"]["dependencies"] == ["5.1", "3"]  # a sibling, then a task id
    assert items["5.3"]["priority"] is Priority.LOW
    assert items["5.3"]["status"] is Status.CANCELLED
    assert items["3"]["status"] is Status.BLOCKED
    assert items["3"]["success_criteria"] == []


def test_a_subtask_the_parent_already_lists_is_not_repeated() -> None:
    document = {"tasks": [{"id": 2, "dependencies": ["2.1"], "subtasks": [{"id": 1}]}]}
    assert by_id(tm(document))["2"]["dependencies"] == ["2.1"]


def test_taskmaster_titles_fall_back_to_the_description_or_the_id() -> None:
    long = "word " * 40
    items = by_id(tm({"tasks": [{"id": 1, "description": long}, {"id": 2}]}))
    assert items["1"]["title"].endswith("…")
    assert len(items["1"]["title"]) == 80
    assert items["2"]["title"] == "Task 2"
    assert items["2"]["status"] is Status.PENDING


def test_taskmaster_tag_choice() -> None:
    one = {"feature": {"tasks": [{"id": 1, "title": "F"}]}}
    assert tm(one)[0]["title"] == "F"  # a single tag needs no name
    two = {"a": {"tasks": [{"id": 1, "title": "A"}]}, "b": {"tasks": [{"id": 1, "title": "B"}]}}
    with pytest.raises(PlanFormatError, match="choose a tag with --tag; this file has: a, b"):
        tm(two)
    assert tm(two, "b")[0]["title"] == "B"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "not a Task Master file"),
        ({"master": {"tasks": "nope"}}, "not a Task Master file"),
        ({"tasks": [{"title": "no id"}]}, "task #1 has no id"),
        ({"tasks": ["just a string"]}, "task #1 has no id"),
        ({"tasks": [{"id": 1, "status": "someday"}]}, "task 1: unknown status 'someday'"),
        ({"tasks": [{"id": 1, "priority": "urgent"}]}, "task 1: invalid priority 'urgent'"),
        ({"tasks": [{"id": True}]}, "task True: invalid id True"),
        ({"tasks": [{"id": "a b"}]}, "task 'a b': invalid task id 'a b'"),
        ({"tasks": [{"id": 1, "dependencies": [[2]]}]}, r"task 1: invalid id \[2\]"),
        ({"tasks": [{"id": 1, "subtasks": ["x"]}]}, "task 1: "),
        ({"tasks": [{"id": 1, "title": 7}]}, "task 1: "),
    ],
)
def test_taskmaster_errors_are_plan_format_errors(document: Any, message: str) -> None:
    with pytest.raises(PlanFormatError, match=message) as caught:
        tm(document)
    assert str(caught.value).startswith("tasks.json: ")


# -- merging ------------------------------------------------------------------------------------

PLAN = """\
## Design
- [x] Spec {id=spec priority=high hours=2}
- [ ] API {id=api after=spec agent=backend}
  Resources and errors.
"""


def test_merge_adds_then_reports_unchanged() -> None:
    project = Orchestrator()
    first = merge_plan(project, parse_markdown(PLAN))
    assert (first.added, first.updated, first.unchanged) == (["spec", "api"], [], [])
    spec = project.get("spec")
    assert [(h.from_status, h.to_status, h.note) for h in spec.history] == [
        (None, Status.PENDING, IMPORT_NOTE),
        (Status.PENDING, Status.COMPLETED, IMPORT_NOTE),
    ]
    before = snapshot(project)
    again = merge_plan(project, parse_markdown(PLAN))
    assert again.to_dict() == {"added": [], "updated": [], "unchanged": ["spec", "api"]}
    assert snapshot(project) == before


def test_merge_of_a_corpus_file_twice_is_all_unchanged() -> None:
    path = TASKMASTER / "BlueTursi__tursi-ai.json"
    project = imported(read_plan(path))
    before = snapshot(project)
    result = merge_plan(project, read_plan(path))
    assert (result.added, result.updated) == ([], [])
    assert len(result.unchanged) == 40
    assert snapshot(project) == before


def test_merge_updates_changed_tasks_and_keeps_what_the_file_cannot_say() -> None:
    project = imported(parse_markdown(PLAN))
    project.update("api", acceptance="make test", commands=["make"], notes="mine")
    changed = PLAN.replace("- [ ] API {id=api after=spec agent=backend}", "- [>] API v2 {id=api}")
    result = merge_plan(project, parse_markdown(changed))
    assert (result.added, result.updated, result.unchanged) == ([], ["api"], ["spec"])
    api = project.get("api")
    assert (api.title, api.status, api.dependencies, api.agent) == (
        "API v2",
        Status.IN_PROGRESS,
        [],
        None,
    )
    assert api.history[-1].note == IMPORT_NOTE
    assert (api.acceptance, api.commands, api.notes) == ("make test", ["make"], "mine")


def test_merge_updates_fields_without_a_status_change() -> None:
    project = imported(parse_markdown(PLAN))
    history = list(project.get("spec").history)
    result = merge_plan(project, parse_markdown(PLAN.replace("hours=2", "hours=3")))
    assert result.updated == ["spec"]
    assert project.get("spec").estimated_hours == 3.0
    assert project.get("spec").history == history


def test_merge_leaves_tasks_the_file_does_not_mention_alone() -> None:
    project = Orchestrator([AgentTask(id="mine", title="Mine", notes="keep")])
    before = project.get("mine").to_dict()
    merge_plan(project, parse_markdown(PLAN + "- [ ] Uses mine {id=uses after=mine}\n"))
    assert project.get("mine").to_dict() == before
    assert list(project.tasks) == ["mine", "spec", "api", "uses"]


@pytest.mark.parametrize(
    ("plan", "error"),
    [
        (
            PLAN.replace("hours=2}", "hours=2 after=loop}") + "- [ ] Loop {id=loop after=api}\n",
            CycleError,
        ),
        (PLAN + "- [ ] Dangling {id=dangling after=ghost}\n", DependencyError),
        (PLAN + "- [ ] Self {id=me after=me}\n", DependencyError),
    ],
)
def test_a_failing_merge_changes_nothing(plan: str, error: type[Exception]) -> None:
    project = imported(parse_markdown(PLAN))
    before = snapshot(project)
    # the file also adds a task and changes another, besides the failing part
    bad = plan.replace("- [ ] API", "- [>] API v2") + "- [ ] New {id=new}\n"
    with pytest.raises(error):
        merge_plan(project, parse_markdown(bad))
    assert snapshot(project) == before
    assert [t.id for t in project.ready()] == ["api"]


def test_a_cycle_between_file_and_project_is_refused() -> None:
    project = Orchestrator([AgentTask(id="mine", title="Mine")])
    project.add(AgentTask(id="later", title="Later", dependencies=["mine"]))
    before = snapshot(project)
    with pytest.raises(CycleError):
        merge_plan(project, parse_markdown("- [ ] Mine {id=mine after=later}\n"))
    assert snapshot(project) == before


def test_an_invalid_field_from_a_file_is_a_validation_error() -> None:
    document = {"tasks": [{"id": 1, "title": "x", "coditect": {"estimated_hours": -1}}]}
    with pytest.raises(ValidationError):
        imported(tm(document))


# -- round trips --------------------------------------------------------------------------------

ROUND_TRIP_FIELDS = (
    "id",
    "title",
    "status",
    "dependencies",
    "priority",
    "agent",
    "estimated_hours",
    "tags",
    "phase",
    "section",
    "description",
)


def _fields(project: Orchestrator) -> dict[str, dict[str, Any]]:
    return {
        t.id: {name: getattr(t, name) for name in ROUND_TRIP_FIELDS} for t in project.tasks.values()
    }


@pytest.fixture
def rich_project() -> Orchestrator:
    """Every status, priority and phase; sections, agents, hours, tags and descriptions."""
    project = Orchestrator()
    rows = [
        ("spec", Status.COMPLETED, Priority.CRITICAL, Phase.PLANNING, "", []),
        ("db", Status.IN_PROGRESS, Priority.HIGH, Phase.DESIGN, "Data", ["spec"]),
        ("api", Status.BLOCKED, Priority.MEDIUM, Phase.DEVELOPMENT, "Backend", ["spec", "db"]),
        ("ui", Status.FAILED, Priority.LOW, Phase.DEVELOPMENT, "Frontend", ["api"]),
        ("e2e", Status.CANCELLED, Priority.HIGH, Phase.TESTING, "", ["ui", "api"]),
        ("7", Status.PENDING, Priority.MEDIUM, Phase.DEPLOYMENT, "Ops", ["e2e"]),
        ("t-abc1234", Status.PENDING, Priority.LOW, Phase.MAINTENANCE, "", ["7"]),
    ]
    for n, (task_id, status, priority, phase, section, deps) in enumerate(rows):
        task = AgentTask(
            id=task_id,
            title=f"Task {task_id} with  some {{braces}}",
            description="First line.\n\nSecond paragraph." if n % 2 else "",
            agent=f"agent-{n}" if n != 3 else None,
            priority=priority,
            phase=phase,
            dependencies=deps,
            estimated_hours=(n + 1) * 0.5 if n != 2 else None,
            tags=["x", f"t{n}"] if n % 3 else [],
            section=section,
        )
        if status is not Status.PENDING:
            task.record(status, "set up")
        project.add(task)
    return project


def test_markdown_round_trip_into_an_empty_project(rich_project: Orchestrator) -> None:
    text = export_markdown(rich_project.tasks.values(), "Round trip")
    assert text.startswith("# Round trip\n")
    back = imported(parse_markdown(text))
    expected = _fields(rich_project)
    for values in expected.values():  # the tasklist writes a title on one line
        values["title"] = " ".join(values["title"].split())
    assert _fields(back) == expected
    assert {t.status for t in back.tasks.values()} == set(Status)
    assert {t.phase for t in back.tasks.values()} == set(Phase)
    assert {t.priority for t in back.tasks.values()} == set(Priority)


def test_markdown_export_then_reimport_is_unchanged(rich_project: Orchestrator) -> None:
    text = export_markdown(rich_project.tasks.values())
    before = snapshot(rich_project)
    for task in rich_project.tasks.values():  # titles as the tasklist writes them
        task.title = " ".join(task.title.split())
    result = merge_plan(rich_project, parse_markdown(text))
    assert result.updated == [] and result.added == []
    assert len(result.unchanged) == len(before)


def test_taskmaster_round_trip(rich_project: Orchestrator) -> None:
    document = export_taskmaster(rich_project.tasks.values())
    back = imported(parse_taskmaster(orjson.dumps(document)))
    assert _fields(back) == _fields(rich_project)


def test_exported_taskmaster_document_is_valid_task_master(rich_project: Orchestrator) -> None:
    document = export_taskmaster(rich_project.tasks.values())
    assert list(document) == ["master"]
    assert set(document["master"]["metadata"]) == {"created", "updated", "description"}
    tasks = document["master"]["tasks"]
    ids = [t["id"] for t in tasks]
    assert all(type(i) is int for i in ids)
    assert len(set(ids)) == len(ids)
    numbers = {t["coditect"]["id"]: t["id"] for t in tasks}
    assert numbers["7"] == 7  # numeric ids are kept, the others numbered after the largest
    assert sorted(n for i, n in numbers.items() if i != "7") == list(range(8, 14))
    valid = {"pending", "in-progress", "review", "done", "deferred", "blocked", "cancelled"}
    for task in tasks:
        assert task["status"] in valid
        assert task["priority"] in {"high", "medium", "low"}
        assert all(type(d) is int and d in ids for d in task["dependencies"])
        assert task["subtasks"] == []
    exact = {t["coditect"]["id"]: t for t in tasks}
    assert exact["ui"]["status"] == "pending"  # Task Master has no "failed"
    assert exact["ui"]["coditect"]["status"] == "failed"
    assert exact["spec"]["priority"] == "high"
    assert exact["spec"]["coditect"]["priority"] == "critical"
    assert exact["e2e"]["dependencies"] == [numbers["ui"], numbers["api"]]


def test_taskmaster_export_numbers_zero_padded_ids_apart() -> None:
    project = Orchestrator()
    project.add(AgentTask(id="7", title="Seven"))
    project.add(AgentTask(id="007", title="Bond"))
    project.add(AgentTask(id="x", title="X", dependencies=["007", "7"]))
    document = export_taskmaster(project.tasks.values())
    ids = [t["id"] for t in document["master"]["tasks"]]
    assert ids == [7, 8, 9]
    back = imported(parse_taskmaster(orjson.dumps(document)))
    assert back.get("x").dependencies == ["007", "7"]


def test_a_task_master_file_without_our_extras_keeps_its_numbers(
    rich_project: Orchestrator,
) -> None:
    document = export_taskmaster(rich_project.tasks.values())
    for task in document["master"]["tasks"]:
        del task["coditect"]
    back = imported(parse_taskmaster(orjson.dumps(document)))
    assert sorted(back.tasks, key=int) == [str(n) for n in [7, *range(8, 14)]]
    assert back.get("7").status is Status.PENDING


@pytest.mark.parametrize("name", sorted(CORPUS_COUNTS))
def test_corpus_files_round_trip_through_both_formats(name: str) -> None:
    project = imported(read_plan(TASKMASTER / name))
    expected = _fields(project)
    via_taskmaster = imported(
        parse_taskmaster(orjson.dumps(export_taskmaster(project.tasks.values())))
    )
    assert _fields(via_taskmaster) == expected
    via_markdown = imported(parse_markdown(export_markdown(project.tasks.values())))
    assert _fields(via_markdown) == expected


def test_a_section_named_like_a_phase_round_trips() -> None:
    project = Orchestrator([AgentTask(id="a", title="A", section="QA")])
    back = imported(parse_markdown(export_markdown(project.tasks.values())))
    assert (back.get("a").phase, back.get("a").section) == (Phase.DEVELOPMENT, "QA")


def test_only_level_one_and_two_headings_name_a_phase() -> None:
    items = parse_markdown("## Testing\n### Deploy\n- [ ] A\n## Phase 4: Deploy\n- [ ] B\n")
    assert [(i["phase"], i["section"]) for i in items] == [
        (Phase.TESTING, "Deploy"),
        (Phase.DEPLOYMENT, ""),
    ]


@pytest.mark.xfail(strict=True, reason="a checkbox line in a description becomes a sub-task")
def test_a_description_with_a_checkbox_round_trips() -> None:
    project = Orchestrator([AgentTask(id="a", title="A", description="Steps:\n- [ ] one")])
    back = imported(parse_markdown(export_markdown(project.tasks.values())))
    assert list(back.tasks) == ["a"]


# -- review findings: format choice, duplicate ids, edited exports, failure notes -------------


def test_a_markdown_file_is_markdown_whatever_its_first_character() -> None:
    badge = b"[![CI](https://example.invalid/ci.svg)](https://example.invalid)\n- [ ] A {id=a}\n"
    assert [i["id"] for i in parse_plan(badge, "README.md")] == ["a"]
    assert [i["id"] for i in parse_plan(b'{"tasks": [{"id": 3, "title": "T"}]}', "plan")] == ["3"]


def test_task_master_ids_used_twice_are_refused() -> None:
    text = (
        '{"tasks": [{"id": 1, "title": "A"}, {"id": 2, "title": "C",'
        ' "subtasks": [{"id": 1, "title": "s"}]}, {"id": "2.1", "title": "D"}]}'
    )
    with pytest.raises(PlanFormatError, match=r"ids used more than once: 2\.1"):
        parse_taskmaster(text, "tasks.json")


def test_an_edited_task_master_export_wins_over_the_exact_values() -> None:
    project = Orchestrator(
        [
            AgentTask(id="a", title="A", priority=Priority.CRITICAL),
            AgentTask(id="b", title="B", success_criteria=["one", "two"]),
        ]
    )
    project.start("b")
    project.fail("b", "boom")
    document = export_taskmaster(project.tasks.values())
    untouched = {i["id"]: i for i in parse_taskmaster(orjson.dumps(document), "tm.json")}
    assert untouched["a"]["priority"] is Priority.CRITICAL
    assert untouched["b"]["status"] is Status.FAILED
    assert untouched["b"]["success_criteria"] == ["one", "two"]
    first, second = document["master"]["tasks"]
    first["priority"] = "low"
    second["status"] = "done"
    second["testStrategy"] = "one"
    edited = {i["id"]: i for i in parse_taskmaster(orjson.dumps(document), "tm.json")}
    assert edited["a"]["priority"] is Priority.LOW
    assert edited["b"]["status"] is Status.COMPLETED
    assert edited["b"]["success_criteria"] == ["one"]


def test_a_task_imported_as_failed_says_so_in_its_error() -> None:
    project = Orchestrator()
    merge_plan(project, parse_markdown("- [f] A {id=a}\n"))
    task = project.get("a")
    assert task.error == "marked failed in the plan"
    assert task.history[-1].note == "plan import"


def test_headings_keep_a_trailing_hash_and_descriptions_their_indentation() -> None:
    project = Orchestrator(
        [AgentTask(id="a", title="A", section="C#", description="Steps:\n    indented\nend")]
    )
    back = Orchestrator()
    merge_plan(back, parse_markdown(export_markdown(project.tasks.values())))
    assert back.get("a").section == "C#"
    assert back.get("a").description == "Steps:\n    indented\nend"
    closed = parse_markdown("## Backend ##\n- [ ] B {id=b}\n")
    assert closed[0]["section"] == "Backend"


def test_tasklist_metadata_sets_executor_and_retries() -> None:
    items = parse_markdown("- [ ] Ship it {id=ship executor=claude-code retries=2}\n")
    assert (items[0]["executor"], items[0]["max_retries"]) == ("claude-code", 2)
    task = AgentTask(**{k: v for k, v in items[0].items() if k != "status"})
    assert "{id=ship executor=claude-code retries=2}" in export_markdown([task])
    with pytest.raises(PlanFormatError, match="retries must be a whole number"):
        parse_markdown("- [ ] Ship it {retries=-1}\n", "plan.md")


def test_the_coditect_key_carries_what_the_runner_needs() -> None:
    document = {
        "tasks": [
            {
                "id": 1,
                "title": "Build",
                "coditect": {
                    "commands": ["make build"],
                    "acceptance": "test -f dist/app",
                    "executor": "script",
                    "max_retries": 0,
                    "output_files": ["dist/app"],
                },
            }
        ]
    }
    (item,) = parse_taskmaster(json.dumps(document))
    assert item["commands"] == ["make build"]
    assert (item["acceptance"], item["executor"], item["max_retries"]) == (
        "test -f dist/app",
        "script",
        0,
    )
    orchestrator = Orchestrator()
    merge_plan(orchestrator, [item])
    exported = export_taskmaster(list(orchestrator.tasks.values()))
    (again,) = parse_taskmaster(json.dumps(exported))
    merge_plan(round_trip := Orchestrator(), [again])
    assert round_trip.get("1").to_dict()["commands"] == ["make build"]
    assert round_trip.get("1").output_files == ["dist/app"]

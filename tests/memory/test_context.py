"""Context bundles: similar tasks, past messages, patterns and decisions within a budget."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coditect.errors import ValidationError
from coditect.execution.prompt import build_prompt
from coditect.memory.context import build_context, estimate_tokens, query_terms
from coditect.paths import ProjectPaths
from coditect.tasks.model import AgentTask, Status
from coditect.tasks.orchestrator import Orchestrator
from coditect.tasks.store import StateStore
from tests.conftest import run_cli
from tests.memory.conftest import REAL_PROJECTS, TRANSCRIPTS

START = datetime(2026, 3, 1, tzinfo=UTC)


def _done(task_id: str, title: str, output: str, days: int, **fields: object) -> AgentTask:
    task = AgentTask(id=task_id, title=title, output=output, **fields)  # type: ignore[arg-type]
    task.status = Status.COMPLETED
    task.completed_at = START + timedelta(days=days)
    return task


TASKS = [
    _done(
        "t-cache",
        "Cache parsed transcripts in SQLite",
        "Added a SQLite cache; 3x faster.",
        1,
        tags=["cache"],
    ),
    _done(
        "t-timeline",
        "Fix timeline filters in the renderer",
        "Timeline filter buttons now hide vis-groups; tests in test_timeline_browser.py.",
        2,
        output_files=["claude_code_log/templates/components/timeline.html"],
    ),
    _done("t-css", "Fix timeline colours", "Group header colours match the items.", 3),
    _done("t-docs", "Write the README", "README rewritten.", 4),
    AgentTask(id="t-open", title="Fix timeline sorting in the renderer"),  # not completed
]


@pytest.fixture
def project(tmp_path: Path) -> ProjectPaths:
    """A project with the tasks above and, in memory, the whole transcript corpus."""
    paths = ProjectPaths(tmp_path / "project")
    paths.state_dir.mkdir(parents=True)
    StateStore(paths.state_dir).save(Orchestrator(TASKS), 1)
    return paths


@pytest.fixture
def remembered(project: ProjectPaths, corpus_store_path: Path) -> ProjectPaths:
    shutil.copy(corpus_store_path, project.dir / "memory.db")
    return project


@pytest.fixture(scope="module")
def corpus_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from coditect.memory.patterns import refresh_patterns
    from coditect.memory.store import MemoryStore
    from tests.memory.conftest import import_paths

    path = tmp_path_factory.mktemp("memory") / "memory.db"
    with MemoryStore(path) as store:
        import_paths(store, TRANSCRIPTS)
        refresh_patterns(store)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def test_query_terms_drop_stop_words_and_keep_tags_whole() -> None:
    terms = query_terms("Fix the timeline filters in the renderer", tags=["UI/UX"])
    assert terms == ["ui/ux", "fix", "timeline", "filters", "renderer"]
    assert query_terms("a to of") == []
    assert len(query_terms(" ".join(f"word{i}" for i in range(40)))) == 16


def test_similar_completed_tasks_rank_by_shared_words(project: ProjectPaths) -> None:
    task = TASKS[-1]
    bundle = build_context(project, task=task, budget=2000)
    sources = [i.source for i in bundle.items if i.section == "tasks"]
    assert sources == ["t-timeline", "t-css"]  # shares title words; the open task is no match
    assert not bundle.memory
    text = bundle.render()
    assert text.startswith("### Similar completed tasks")
    assert "test_timeline_browser.py" in text and "timeline.html" in text


def test_bundle_with_memory_has_every_section(remembered: ProjectPaths) -> None:
    bundle = build_context(remembered, task=TASKS[-1], budget=4000)
    sections = {item.section for item in bundle.items}
    assert sections == {"tasks", "messages", "patterns", "decisions"}
    assert bundle.memory
    messages = [i for i in bundle.items if i.section == "messages"]
    words = ("fix", "timeline", "sorting", "renderer")
    assert messages and all(any(w in i.text.lower() for w in words) for i in messages)
    sessions = [i.source for i in messages]
    assert all(sessions.count(s) <= 3 for s in sessions)
    rendered = bundle.render()
    assert [line for line in rendered.splitlines() if line.startswith("###")] == [
        "### Similar completed tasks",
        "### Relevant past messages",
        "### Commands, errors and files seen before",
        "### Decisions made before",
    ]


@pytest.mark.parametrize("budget", [50, 120, 400, 1000, 3000, 20000])
def test_the_rendered_bundle_never_exceeds_its_budget(
    remembered: ProjectPaths, budget: int
) -> None:
    bundle = build_context(
        remembered, text="fix pytest failures in the timeline renderer", budget=budget
    )
    assert estimate_tokens(bundle.render()) <= budget
    assert bundle.tokens == estimate_tokens(bundle.render())
    if budget >= 1000:
        assert len(bundle.items) >= 5


def test_unused_shares_go_to_other_sections(remembered: ProjectPaths) -> None:
    """No similar task: the messages and patterns get the whole budget."""
    bundle = build_context(remembered, text="sidechain messages agent", budget=1500)
    assert not [i for i in bundle.items if i.section == "tasks"]
    messages = sum(i.tokens for i in bundle.items if i.section == "messages")
    assert messages > 0.35 * 1500  # more than its own share
    assert bundle.tokens > 0.8 * 1500


def test_patterns_fall_back_to_the_projects_test_commands(remembered: ProjectPaths) -> None:
    bundle = build_context(remembered, text="quaternion", budget=2000)
    commands = [i.text for i in bundle.items if i.source.startswith("commands:")]
    assert commands and any("`pytest`" in line for line in commands)


def test_bundle_goes_into_the_agents_prompt(remembered: ProjectPaths) -> None:
    task = TASKS[-1]
    bundle = build_context(remembered, task=task, budget=1500)
    prompt = build_prompt(task, None, [], [bundle.render()])
    context = prompt.split("## Context", 1)[1]
    assert "### Similar completed tasks" in context
    assert "t-timeline" in context


def test_to_dict_is_the_json_shape(remembered: ProjectPaths) -> None:
    data = build_context(remembered, task=TASKS[-1], budget=800).to_dict()
    assert data["task"] == "t-open"
    assert data["tokens"] <= data["budget"] == 800
    assert data["markdown"].startswith("###")
    assert {"section", "text", "source", "score"} <= set(data["items"][0])
    json.dumps(data)


def test_bad_requests_are_refused(project: ProjectPaths) -> None:
    with pytest.raises(ValidationError, match="at least 50"):
        build_context(project, text="x", budget=10)
    with pytest.raises(ValidationError, match="give a task or some text"):
        build_context(project, text="  ")
    bundle = build_context(project, text="the of and")
    assert bundle.items == [] and bundle.notes == ["no words to search for"]


def test_a_damaged_memory_is_left_out(project: ProjectPaths) -> None:
    (project.dir / "memory.db").write_bytes(b"this is not a database" * 100)
    bundle = build_context(project, task=TASKS[-1])
    assert [i.section for i in bundle.items] == ["tasks", "tasks"]
    assert bundle.notes and bundle.notes[0].startswith("memory left out")


def test_context_command(project_dir: Path) -> None:
    run_cli("task", "add", "Fix the timeline filters", "--id", "t-1")
    run_cli("memory", "import", str(REAL_PROJECTS / "-Users-dain-workspace-claude-code-log-sample"))
    data = json.loads(run_cli("memory", "context", "t-1", "--budget", "600", "--json").stdout)
    assert data["task"] == "t-1" and data["terms"] == ["fix", "timeline", "filters"]
    assert data["tokens"] <= 600 and data["memory"] is True
    assert any(item["section"] == "messages" for item in data["items"])
    text = run_cli("memory", "context", "timeline colours").stdout
    assert "### Relevant past messages" in text
    assert "for the text; terms: timeline, colours" in text
    bad = run_cli("memory", "context", "x", "--budget", "5", check=False)
    assert bad.returncode == 4 and "at least 50" in bad.stderr


def test_the_runner_puts_the_bundle_in_agent_prompts(remembered: ProjectPaths) -> None:
    """The real runner, the fake executor: the hook's bundle reaches the prompt."""
    from coditect.config import Config, RunSettings
    from coditect.execution.base import ExecutionResult, Job
    from coditect.execution.fake import FakeExecutor
    from coditect.execution.runner import Runner
    from coditect.memory.context import agent_context

    prompts: dict[str, str] = {}

    class Recording(FakeExecutor):
        def execute(self, job: Job) -> ExecutionResult:
            prompts[job.task.id] = job.prompt
            return super().execute(job)

    hook = agent_context(remembered, budget=1200)
    assert hook is not None
    config = Config(run=RunSettings(executor="fake", retry_backoff=0.0))
    store = StateStore(remembered.state_dir)
    Runner(remembered, config, store, context=hook, executors={"fake": Recording()}).run()
    prompt = prompts["t-open"]
    context = prompt.split("## Context", 1)[1]
    assert "### Similar completed tasks" in context and "t-timeline" in context
    assert "### Relevant past messages" in context
    assert estimate_tokens(context) <= 1200 + 2


def test_no_hook_without_memory(project: ProjectPaths) -> None:
    from coditect.memory.context import agent_context

    assert agent_context(project) is None
    with pytest.raises(ValidationError):
        agent_context(project, budget=1)

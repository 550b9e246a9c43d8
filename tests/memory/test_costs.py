"""Cost per task: the runner's figures, and a task's Claude Code session priced from memory."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from coditect.execution.pricing import PriceTable
from coditect.memory.costs import task_costs
from coditect.memory.store import MemoryStore
from coditect.paths import ProjectPaths
from coditect.tasks.model import AgentTask
from coditect.tasks.store import StateStore
from tests.conftest import run_cli
from tests.memory.conftest import REAL_PROJECTS, import_paths

FOLDER = REAL_PROJECTS / "-src-deep-manifest"
SESSION = "a7da6a22-facc-4fcd-8bab-f83c87862004"


def _expected(folder: Path, session: str, prices: PriceTable) -> tuple[dict[str, int], float]:
    """Tokens and cost of ``session`` counted straight from the JSONL files: per response
    (message id, request id), the main-chain record with the largest total."""
    best: dict[tuple[str, str], tuple[bool, int, str, dict[str, int]]] = {}
    for path in folder.rglob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            record = orjson.loads(line)
            if record.get("type") != "assistant" or record.get("sessionId") != session:
                continue
            usage = record["message"]["usage"]
            counts = {
                "input": usage.get("input_tokens", 0),
                "output": usage.get("output_tokens", 0),
                "cache_write": usage.get("cache_creation_input_tokens", 0),
                "cache_read": usage.get("cache_read_input_tokens", 0),
                "write_1h": (usage.get("cache_creation") or {}).get("ephemeral_1h_input_tokens", 0),
            }
            total = sum(v for k, v in counts.items() if k != "write_1h")
            key = (record["message"]["id"], record["requestId"])
            candidate = (not record["isSidechain"], total, record["message"]["model"], counts)
            if key not in best or candidate[:2] > best[key][:2]:
                best[key] = candidate
    tokens: dict[str, int] = defaultdict(int)
    cost = 0.0
    for _, _, model, counts in best.values():
        price = prices.lookup(model)
        assert price is not None
        for kind in ("input", "output", "cache_write", "cache_read"):
            tokens[kind] += counts[kind]
        cost += (
            counts["input"] * price.input
            + counts["output"] * price.output
            + (counts["cache_write"] - counts["write_1h"]) * price.cache_write
            + counts["write_1h"] * price.input * 2
            + counts["cache_read"] * price.cache_read
        ) / 1_000_000
    return dict(tokens), cost


@pytest.fixture
def memory(tmp_path: Path) -> MemoryStore:
    store = MemoryStore(tmp_path / "memory.db")
    import_paths(store, FOLDER)
    return store


def _tasks() -> list[AgentTask]:
    return [
        AgentTask(id="t-claude", title="Tar archives", session_id=SESSION, tokens=10, cost_usd=2.0),
        AgentTask(id="t-api", title="Summarise", tokens=1200, cost_usd=0.03),
        AgentTask(id="t-gone", title="Lost session", session_id="no-such-session"),
        AgentTask(id="t-idle", title="Not run yet"),
    ]


def test_a_session_in_memory_gives_tokens_by_kind_and_cost(memory: MemoryStore) -> None:
    prices = PriceTable()
    report = task_costs(_tasks(), memory, prices)
    rows = {row.id: row for row in report.tasks}
    assert list(rows) == ["t-claude", "t-api", "t-gone"]  # the idle task cost nothing
    tokens, cost = _expected(FOLDER, SESSION, prices)
    claude = rows["t-claude"]
    assert claude.in_memory and claude.tokens == tokens
    assert claude.memory_cost_usd == pytest.approx(cost, abs=1e-6)
    assert (claude.cost_source, claude.cost_usd) == ("memory", claude.memory_cost_usd)
    assert (claude.recorded_tokens, claude.recorded_cost_usd) == (10, 2.0)
    api = rows["t-api"]
    assert (api.in_memory, api.cost_source, api.cost_usd) == (False, "run", 0.03)
    assert not rows["t-gone"].in_memory
    totals = report.totals()
    assert totals["cost_usd"] == pytest.approx(cost + 0.03, abs=1e-5)
    assert totals["tokens"] == tokens
    assert totals["recorded_tokens"] == 1210 and totals["sessions_in_memory"] == 1


def test_an_unpriced_model_falls_back_to_the_runs_cost(memory: MemoryStore) -> None:
    memory.conn.execute("UPDATE usage SET model = 'house-model-1' WHERE session_id = ?", (SESSION,))
    row = task_costs(_tasks()[:1], memory, PriceTable()).tasks[0]
    assert row.unpriced_models == ["house-model-1"]
    assert (row.memory_cost_usd, row.cost_source, row.cost_usd) == (None, "run", 2.0)
    priced = PriceTable({"house-model-1": {"input": 1.0, "output": 1.0}})
    again = task_costs(_tasks()[:1], memory, priced).tasks[0]
    assert again.cost_source == "memory" and again.memory_cost_usd is not None
    assert again.memory_cost_usd > 0


def test_without_memory_only_recorded_figures(memory: MemoryStore) -> None:
    report = task_costs(_tasks(), None, PriceTable())
    assert not report.memory
    assert [r.cost_source for r in report.tasks] == ["run", "run", "run"]
    assert report.totals()["cost_usd"] == pytest.approx(2.03)


def _project_with_tasks(root: Path) -> None:
    store = StateStore(ProjectPaths(root).state_dir)
    with store.transaction() as loaded:
        for task in _tasks():
            loaded.orchestrator.add(task)


def test_report_cost_command(project_dir: Path) -> None:
    nothing = run_cli("report", "--cost").stdout
    assert nothing.startswith("no task has recorded tokens, a cost or a session yet")
    _project_with_tasks(project_dir)
    without = json.loads(run_cli("report", "--cost", "--json").stdout)
    assert without["memory"] is False and len(without["tasks"]) == 3
    run_cli("memory", "import", str(FOLDER))
    data = json.loads(run_cli("report", "--cost", "--json").stdout)
    claude = data["tasks"][0]
    tokens, cost = _expected(FOLDER, SESSION, PriceTable())
    assert claude["id"] == "t-claude" and claude["tokens"] == tokens
    assert claude["cost_usd"] == pytest.approx(cost, abs=1e-5)
    assert data["totals"]["tokens"] == tokens
    table = run_cli("report", "--cost").stdout.splitlines()
    assert table[1].split()[:3] == ["task", "status", "session"]
    assert table[2].split()[:3] == ["t-claude", "pending", SESSION[:8]]
    assert table[2].split()[3] == f"{tokens['input']:,}"
    assert any(line.startswith("total") for line in table)
    markdown = run_cli("report", "--cost", "--markdown").stdout
    assert "| t-api | pending |  | – | – | – | – | $0.0300 | run |" in markdown
    plain = run_cli("report").stdout
    assert plain.startswith("# Project report")  # --cost leaves the report as it was


def test_a_run_records_the_session_that_memory_prices(tmp_path: Path) -> None:
    """The real runner records the executor's session id; memory then has its tokens."""
    from coditect.config import Config, RunSettings
    from coditect.execution.fake import FakeExecutor
    from coditect.execution.runner import Runner
    from coditect.tasks.orchestrator import Orchestrator

    paths = ProjectPaths(tmp_path / "project")
    paths.state_dir.mkdir(parents=True)
    store = StateStore(paths.state_dir)
    fake = {"session_id": SESSION, "tokens": 500, "cost_usd": 0.25}
    store.save(Orchestrator([AgentTask(id="t-1", title="Tar", metadata={"fake": fake})]), 1)
    config = Config(run=RunSettings(executor="fake", retry_backoff=0.0))
    Runner(paths, config, store, executors={"fake": FakeExecutor()}).run()
    task = store.load().orchestrator.tasks["t-1"]
    assert (task.session_id, task.tokens, task.cost_usd) == (SESSION, 500, 0.25)
    with MemoryStore(paths.dir / "memory.db") as memory:
        import_paths(memory, FOLDER)
        row = task_costs([task], memory, PriceTable()).tasks[0]
    tokens, cost = _expected(FOLDER, SESSION, PriceTable())
    assert row.tokens == tokens and row.cost_usd == pytest.approx(cost, abs=1e-6)
    assert row.recorded_cost_usd == 0.25

"""Imports in worker processes store exactly what a one-process import stores."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from coditect.memory.ingest import PARALLEL_BYTES, ImportReport, Problem, _shares
from coditect.memory.search import search
from coditect.memory.store import MemoryStore
from coditect.memory.transcripts import Source
from tests.conftest import run_cli
from tests.memory.conftest import (
    REAL_PROJECTS,
    TRANSCRIPTS,
    assistant,
    import_paths,
    text,
    user,
    write_jsonl,
)


def _contents(store: MemoryStore) -> dict[str, Any]:
    """Everything an import stores, without the row ids (their order may differ)."""

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return sorted(store.conn.execute(sql).fetchall(), key=repr)

    return {
        "messages": rows(
            "SELECT key, session_id, uuid, parent_uuid, role, ts, model, sidechain, agent_id, "
            "meta, tools, text, content, parts FROM messages"
        ),
        "usage": rows("SELECT * FROM usage"),
        "sessions": rows(
            "SELECT id, source, project, title, summary, version, git_branch, first_at, last_at "
            "FROM sessions"
        ),
        "records": rows("SELECT key, session_id, type, ts, raw FROM records"),
        "redactions": rows(
            'SELECT session_id, item_key, type, rule, path, "offset", length FROM redactions'
        ),
        "files": rows('SELECT path_key, path, kind, size, "offset", lines FROM files'),
        "counters": rows("SELECT name, value FROM counters"),
    }


def test_two_workers_store_what_one_process_stores(tmp_path: Path) -> None:
    with MemoryStore(tmp_path / "one.db") as one, MemoryStore(tmp_path / "two.db") as two:
        alone = import_paths(one, TRANSCRIPTS, workers=1)
        shared = import_paths(two, TRANSCRIPTS, workers=2)
        assert alone.added > 1000
        assert shared.to_dict() == alone.to_dict()
        assert _contents(two) == _contents(one)
        for query in ("pytest", '"git commit"', "CLAUDE.md"):
            found = [(hit.session_id, hit.snippet) for hit in search(two, query, limit=50)]
            assert found == [(hit.session_id, hit.snippet) for hit in search(one, query, limit=50)]
            assert found
        again = import_paths(two, TRANSCRIPTS, workers=2)
    assert (again.files, again.added, again.unchanged) == (0, 0, alone.files)


def test_a_workers_problems_reach_the_report_with_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "projects"
    for n in range(4):
        write_jsonl(
            folder / f"s-{n}.jsonl",
            [
                user(f"u-{n}", f"prompt {n}", session=f"s-{n}"),
                assistant(f"a-{n}", f"msg_{n}", f"req_{n}", text("done"), session=f"s-{n}"),
            ],
        )
    with (folder / "s-2.jsonl").open("ab") as handle:
        handle.write(b"{not json\n")
    with MemoryStore(tmp_path / "memory.db") as store:
        report = import_paths(store, folder, workers=2)
        titles = dict(store.conn.execute("SELECT id, title FROM sessions").fetchall())
    assert (report.files, report.added, report.malformed) == (4, 8, 1)
    assert [(Path(p.path).name, p.line, p.kind) for p in report.problems] == [
        ("s-2.jsonl", 3, "malformed")
    ]
    assert titles == {f"s-{n}": f"prompt {n}" for n in range(4)}


def test_a_sessions_files_share_one_worker_in_their_order() -> None:
    def jsonl(path: str) -> Source:
        return Source(Path(path), "jsonl")

    main = jsonl("/p/abc.jsonl")
    agents = [jsonl("/p/abc/subagents/agent-1.jsonl"), jsonl("/p/abc/subagents/agent-2.jsonl")]
    other = jsonl("/p/def.jsonl")
    big = jsonl("/p/big.jsonl")
    work = [(main, 10), (other, 10), (big, 100), (agents[0], 30), (agents[1], 30)]
    # Largest session first, each to the lightest share: big (100), abc (70), def (10).
    assert _shares(work, 2) == [[big], [main, *agents, other]]
    assert _shares(work, 1) == [[main, other, big, *agents]]
    assert _shares([], 4) == []


def test_merged_reports_add_counts_and_keep_the_first_problems_sorted() -> None:
    first = ImportReport(files=2, records=10, added=7)
    first.problems = [Problem("b.jsonl", 4, "malformed", "x")]
    second = ImportReport(files=1, records=5, added=3, problems_omitted=2)
    second.problems = [Problem("a.jsonl", 9, "truncated", "y")] * 100
    first.merge(second)
    assert (first.files, first.records, first.added) == (3, 15, 10)
    assert len(first.problems) == 100
    assert first.problems[0].path == "a.jsonl" and first.problems[-1].path == "b.jsonl"
    assert first.problems_omitted == 2 + 1


def _files_done(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM files WHERE size >= 0").fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


@pytest.mark.slow
def test_a_parallel_import_killed_part_way_is_finished_by_the_next(tmp_path: Path) -> None:
    projects = tmp_path / "projects"
    copies = 1 + PARALLEL_BYTES // 10_000_000  # the corpus is ~11 MB: workers by default
    for n in range(copies):
        shutil.copytree(REAL_PROJECTS, projects / f"copy-{n}")
    total = sum(1 for _ in projects.rglob("*.jsonl"))
    root = tmp_path / "project"
    root.mkdir()
    run_cli("init", cwd=root)
    db = root / ".coditect" / "memory.db"

    first = subprocess.Popen(
        [sys.executable, "-m", "coditect", "memory", "import", str(projects)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its workers share its process group
    )
    deadline = time.monotonic() + 120
    while _files_done(db) < 20:
        assert first.poll() is None, "the import ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert 0 < _files_done(db) < total

    run_cli("memory", "import", str(projects), cwd=root)
    with MemoryStore(db) as resumed, MemoryStore(tmp_path / "clean.db") as clean:
        import_paths(clean, projects, workers=1)
        assert _contents(resumed) == _contents(clean)

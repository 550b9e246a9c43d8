"""``coditect memory`` as a user runs it: the real CLI in a subprocess."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from coditect.memory.transcripts import folder_names
from tests.conftest import run_cli
from tests.memory.conftest import REAL_PROJECTS, user, write_jsonl

FOLDER = REAL_PROJECTS / "-src-experiments-claude_p"  # 4 sessions, one new-layout subagent


@pytest.fixture
def claude_home(project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Claude Code's config dir holding this project's transcripts (a corpus folder)."""
    config = tmp_path / "claude"
    shutil.copytree(FOLDER, config / "projects" / folder_names(project_dir)[0])
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    return config


def _json(*args: str, check: bool = True) -> Any:
    return json.loads(run_cli(*args, "--json", check=check).stdout)


def _expected_tokens(folder: Path) -> dict[str, int]:
    """Tokens counted straight from the files: per response, the main-chain record with
    the largest total."""
    responses: dict[tuple[str, str, str], list[tuple[bool, int, list[int]]]] = defaultdict(list)
    for path in folder.rglob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            record = orjson.loads(line)
            if record["type"] != "assistant":
                continue
            usage = record["message"]["usage"]
            counts = [
                usage.get("input_tokens", 0),
                usage.get("output_tokens", 0),
                usage.get("cache_creation_input_tokens", 0),
                usage.get("cache_read_input_tokens", 0),
            ]
            key = (record["sessionId"], record["message"]["id"], record["requestId"])
            responses[key].append((not record["isSidechain"], sum(counts), counts))
    totals = [0, 0, 0, 0]
    for candidates in responses.values():
        totals = [a + b for a, b in zip(totals, max(candidates)[2], strict=True)]
    return dict(zip(("input", "output", "cache_write", "cache_read"), totals, strict=True))


def test_import_reads_this_projects_folder_once(claude_home: Path, project_dir: Path) -> None:
    first = _json("memory", "import")
    assert (first["files"], first["records"], first["problems"]) == (5, 104, [])
    assert first["added"] + first["merged"] + first["duplicates"] + first["other_records"] == 104
    again = run_cli("memory", "import").stdout
    assert again.startswith("imported 0 files (5 unchanged): 0 records")
    assert (project_dir / ".coditect" / "memory.db").is_file()


def test_stats_count_sessions_messages_and_tokens(claude_home: Path) -> None:
    run_cli("memory", "import")
    stats = _json("memory", "stats")
    assert stats["sessions"] == 4
    assert stats["tokens"] == _expected_tokens(FOLDER)
    assert stats["duplicates_dropped"] == 0
    assert sum(s["responses"] for s in stats["by_session"]) == stats["responses"]
    assert round(sum(m["cost_usd"] for m in stats["by_model"]), 4) == round(stats["cost_usd"], 4)
    assert stats["cost_usd"] > 0
    assert {m["model"] for m in stats["by_model"]} >= {"claude-opus-4-5-20251101"}
    text = run_cli("memory", "stats").stdout
    assert "sessions 4, messages" in text
    assert "by model" in text and "by day" in text and "top 10 sessions by cost" in text


def test_search_sessions_and_show(claude_home: Path) -> None:
    run_cli("memory", "import")
    hits = _json("memory", "search", "haiku model", "--limit", "5")
    assert 0 < len(hits) <= 5
    assert all("**" in hit["snippet"] for hit in hits)
    assert hits[0]["session_id"] == "256ba646-2c15-437a-98e9-4171aafd030e"
    plain = run_cli("memory", "search", "haiku model", "--role", "user").stdout
    assert "256ba646-2c15-437a-98e9-4171aafd030e" in plain and "user" in plain
    sessions = _json("memory", "sessions")
    assert [s["id"][:8] for s in sessions] == ["29ccd257", "94604a7b", "256ba646", "2b4ed4c0"]
    shown = run_cli("memory", "show", "256ba646").stdout
    assert "── user" in shown and "▸ WebSearch: " in shown
    detail = _json("memory", "show", "256ba6")
    assert detail["id"] == "256ba646-2c15-437a-98e9-4171aafd030e"
    assert [m["role"] for m in detail["messages"]][:2] == ["user", "assistant"]
    assert run_cli("memory", "search", "zyxwvut").stdout == "no matches\n"


def test_forget_keeps_a_session_out_until_forced(claude_home: Path) -> None:
    run_cli("memory", "import")
    forgotten = _json("memory", "forget", "256ba646")
    assert forgotten == {"session": "256ba646-2c15-437a-98e9-4171aafd030e", "messages_deleted": 8}
    assert _json("memory", "stats")["sessions"] == 3
    assert _json("memory", "search", "haiku model", "--session", "29ccd257") is not None
    session_file = next((claude_home / "projects").rglob("256ba646*.jsonl"))
    write_jsonl(session_file, [user("x1", "one more", session=session_file.stem)], mode="ab")
    again = _json("memory", "import")
    assert (again["added"], again["forgotten"]) == (0, 1)
    forced = _json("memory", "import", "--force")
    assert forced["added"] > 8
    assert _json("memory", "stats")["sessions"] == 4


def test_prune_needs_a_period_and_deletes_old_sessions(claude_home: Path) -> None:
    run_cli("memory", "import")
    unset = run_cli("memory", "prune", check=False)
    assert unset.returncode == 2 and "no retention period" in unset.stderr
    zero = run_cli("memory", "prune", "--older-than", "0", check=False)
    assert zero.returncode == 4
    assert _json("memory", "prune", "--older-than", "100000")["sessions"] == 0
    pruned = _json("memory", "prune", "--older-than", "1")
    assert pruned == {"older_than_days": 1.0, "sessions": 4, "messages": pruned["messages"]}
    assert _json("memory", "stats")["messages"] == 0


def test_retention_from_the_config_applies_after_import(
    claude_home: Path, project_dir: Path
) -> None:
    config = project_dir / ".coditect" / "config.toml"
    config.write_text(config.read_text() + "\n[memory]\nretention_days = 30\n")
    report = _json("memory", "import")
    assert report["pruned_sessions"] == 4  # the corpus is from January 2026
    assert _json("memory", "sessions") == []


def test_bad_input_is_refused_cleanly_and_changes_nothing(project_dir: Path) -> None:
    missing = run_cli("memory", "import", str(project_dir / "nope.jsonl"), check=False)
    assert missing.returncode == 3 and "no such file or folder" in missing.stderr
    assert not (project_dir / ".coditect" / "memory.db").exists()
    empty = run_cli("memory", "search", "pytest", check=False)
    assert empty.returncode == 3 and "no memory yet" in empty.stderr
    run_cli("memory", "import", str(FOLDER))
    for args, code in (
        (("memory", "search", "&& ||"), 4),
        (("memory", "search", "x", "--role", "robot"), 2),
        (("memory", "search", "x", "--since", "someday"), 4),
        (("memory", "search", '"open', "--raw"), 4),
        (("memory", "show", "nosuchsession"), 3),
        (("memory", "forget", "nosuchsession"), 3),
    ):
        result = run_cli(*args, check=False)
        assert result.returncode == code, (args, result.stderr)
        assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_problems_are_warned_with_file_and_line(project_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(path, [user("p1", "hello")])
    with path.open("ab") as handle:
        handle.write(b"{oops\n")
    result = run_cli("memory", "import", str(path))
    assert result.returncode == 0
    assert f"warning: {path}:2: malformed:" in result.stderr
    assert "1 new messages" in result.stdout


def test_redactions_are_counted_by_type(project_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(path, [user("p1", "the key is AKIAIOSFODNN7EXAMPLE and ghp_" + "a" * 36)])
    run_cli("memory", "import", str(path))
    assert _json("memory", "stats")["redactions"] == {"AWS_KEY": 1, "GITHUB_TOKEN": 1}
    assert "AKIA" not in run_cli("memory", "show", "s-1").stdout

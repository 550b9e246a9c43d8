"""Finding transcripts, reading their lines, and the /export text format."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from coditect.errors import NotFoundError, ValidationError
from coditect.memory.transcripts import (
    ExportHeader,
    ExportTurn,
    claude_project_folders,
    discover,
    folder_names,
    looks_like_export,
    parse_export,
    prefetch,
    read_lines,
)
from tests.memory.conftest import REAL_PROJECTS

# Written in the format Claude Code's /export produces (versions 1.x: a boxed banner
# and ⏺; 2.x: the block logo, ● or ⏺, ❯ prompts padded with spaces, summary lines).
EXPORT_V1 = """\
╭───────────────────────────────────────────────────╮
│ ✻ Welcome to Claude Code!                         │
│                                                   │
│   /help for help, /status for your current setup  │
│                                                   │
│   cwd: /home/ana/shop                             │
╰───────────────────────────────────────────────────╯

> /login
  ⎿  Login successful

> the checkout test fails, can you look?
  It started after the tax change.

⏺ I'll run the test suite first.

⏺ Bash(npm test -- checkout)
  ⎿  Error: Exit code 1
     FAIL src/checkout.test.js
       ✕ applies tax (12 ms)

⏺ Read(src/checkout.js)
  ⎿  Read 88 lines (ctrl+r to expand)

⏺ The tax rate is read as a string, so `0.2 + subtotal` concatenates.
  I'll parse it as a number.

⏺ Update Todos
  ⎿  ☐ Parse the tax rate as a number
     ☐ Run the checkout tests again

> yes
"""

EXPORT_V2 = (
    """\
 ▐▛███▜▌   Claude Code v2.0.25
▝▜█████▛▘  Sonnet 4.5 · Claude Max
  ▘▘ ▝▝    /home/ana/shop

❯ Generate my end-of-day summary"""
    + " " * 47  # 2.x pads a prompt to the terminal's width
    + """

● I'm using the summary skill.

  Read 4 files (ctrl+o to expand)

● notes - create_entities (MCP)(context: "dev", entities:
                                [{"name":"Shop"}])
  ⎿  Created 1 entity

✻ Conversation compacted (ctrl+o for history)

❯ thanks
"""
)


def _cwds(folder: Path) -> Counter[str]:
    seen: Counter[str] = Counter()
    for path in folder.rglob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            cwd = orjson.loads(line).get("cwd")
            if cwd:
                seen[cwd] += 1
    return seen


# Two corpus folders were renamed by the data's authors (their records say cwd
# /Users/dain/workspace/claude-code-log and /home/user/project); the others are as
# Claude Code named them, in both spellings (claude_p keeps its underscore: the old one).
RENAMED = {"-Users-dain-workspace-claude-code-log-sample", "-experiments-ideas"}


@pytest.mark.parametrize(
    "folder", sorted(p.name for p in REAL_PROJECTS.iterdir() if p.name not in RENAMED)
)
def test_the_corpus_folders_are_named_after_their_project_path(folder: str) -> None:
    project = _cwds(REAL_PROJECTS / folder).most_common(1)[0][0]
    assert folder in folder_names(Path(project))


def test_folder_names_replace_every_other_character_and_keep_the_older_spelling() -> None:
    assert folder_names(Path("/home/me/my_app.v2")) == ["-home-me-my-app-v2", "-home-me-my_app-v2"]
    assert folder_names(Path("/srv/shop")) == ["-srv-shop"]


def test_project_folders_are_found_under_every_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Path("/work/my_shop")
    new = tmp_path / "a" / "projects" / "-work-my-shop"
    old = tmp_path / "b" / "projects" / "-work-my_shop"
    new.mkdir(parents=True)
    old.mkdir(parents=True)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{tmp_path / 'a'},{tmp_path / 'b'}")
    assert claude_project_folders(project) == [new, old]


def test_the_default_config_dirs_are_the_home_and_xdg_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    dot = tmp_path / ".claude" / "projects" / "-srv-shop"
    xdg = tmp_path / "xdg" / "claude" / "projects" / "-srv-shop"
    xdg.mkdir(parents=True)
    assert claude_project_folders(Path("/srv/shop")) == [xdg]
    dot.mkdir(parents=True)
    assert claude_project_folders(Path("/srv/shop")) == [dot, xdg]
    with pytest.raises(NotFoundError, match="no Claude Code transcripts for /srv/other"):
        claude_project_folders(Path("/srv/other"))


def test_discover_finds_sessions_and_both_layouts_of_sub_agents() -> None:
    folder = REAL_PROJECTS / "-experiments-worktrees"
    sources = discover([folder])
    names = [s.path.relative_to(folder).as_posix() for s in sources]
    assert "ef958aa1-0e93-49f0-bb71-150f63befcd1.jsonl" in names
    assert (
        sum(n.startswith("ef958aa1-0e93-49f0-bb71-150f63befcd1/subagents/agent-") for n in names)
        == 6
    )
    assert {s.kind for s in sources} == {"jsonl"}
    old_layout = discover([REAL_PROJECTS / "-src-deep-manifest"])
    assert [s.path.name for s in old_layout] == [
        "a7da6a22-facc-4fcd-8bab-f83c87862004.jsonl",
        "agent-c8d9b115.jsonl",
    ]


def test_discover_sniffs_exports_and_refuses_other_files(tmp_path: Path) -> None:
    (tmp_path / "session.txt").write_text(EXPORT_V1)
    (tmp_path / "requirements.txt").write_text("orjson>=3\n")
    sources = discover([tmp_path])
    assert [(s.path.name, s.kind) for s in sources] == [("session.txt", "export")]
    with pytest.raises(ValidationError, match="neither a Claude Code JSONL"):
        discover([tmp_path / "requirements.txt"])
    with pytest.raises(NotFoundError, match="no such file or folder"):
        discover([tmp_path / "missing.jsonl"])


def test_read_lines_gives_end_offsets_and_a_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":2}\n{"c":')
    assert list(read_lines(path, 0)) == [(8, b'{"a":1}\n'), (16, b'{"b":2}\n'), (21, b'{"c":')]
    assert list(read_lines(path, 8)) == [(16, b'{"b":2}\n'), (21, b'{"c":')]


def test_exports_are_recognised_by_their_banner_or_their_markers() -> None:
    assert looks_like_export(EXPORT_V1)
    assert looks_like_export(EXPORT_V2)
    assert looks_like_export("> hello\n\n● Hi there\n")
    assert not looks_like_export("> quoted mail\nplain text\n")


def test_a_version_1_export_becomes_prompts_replies_and_folded_tool_calls() -> None:
    items = list(parse_export(EXPORT_V1.splitlines(keepends=True)))
    assert items[0] == ExportHeader(1, cwd="/home/ana/shop")
    turns = [item for item in items if isinstance(item, ExportTurn)]
    assert [t.role for t in turns] == ["user", "user"] + ["assistant"] * 5 + ["user"]
    assert turns[0].blocks == [
        {"type": "text", "text": "/login"},
        {"type": "text", "text": "Login successful"},
    ]
    assert turns[1].blocks[0]["text"] == (
        "the checkout test fails, can you look?\nIt started after the tax change."
    )
    call, result = turns[3].blocks
    assert call["name"] == "Bash"
    assert call["input"] == {"args": "npm test -- checkout"}
    assert result["content"] == (
        "Error: Exit code 1\nFAIL src/checkout.test.js\n  ✕ applies tax (12 ms)"
    )
    assert turns[5].blocks[0]["text"].endswith("concatenates.\nI'll parse it as a number.")
    assert turns[6].blocks[0]["name"] == "Update Todos"
    assert turns[7].line == 32


def test_a_version_2_export_keeps_mcp_names_and_collapsed_summaries() -> None:
    items = list(parse_export(EXPORT_V2.splitlines(keepends=True)))
    assert items[0] == ExportHeader(
        1, cwd="/home/ana/shop", version="2.0.25", model="Sonnet 4.5 · Claude Max"
    )
    turns = [item for item in items if isinstance(item, ExportTurn)]
    assert turns[0].blocks == [{"type": "text", "text": "Generate my end-of-day summary"}]
    assert turns[2].blocks == [
        {"type": "tool_use", "id": "export", "name": "Read", "input": {"args": "Read 4 files"}}
    ]
    assert turns[3].blocks[0]["name"] == "notes - create_entities (MCP)"
    assert turns[3].blocks[0]["input"]["args"].startswith('context: "dev", entities:')
    assert turns[3].blocks[1]["content"] == "Created 1 entity"
    assert [t.role for t in turns] == ["user", "assistant", "assistant", "assistant", "user"]
    assert turns[4].blocks[0]["text"] == "thanks"


def _pages_in_memory(path: Path) -> int:
    out = subprocess.run(
        ["fincore", "--noheadings", "--raw", "--output", "PAGES", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout)


@pytest.mark.skipif(
    not hasattr(os, "posix_fadvise") or shutil.which("fincore") is None,
    reason="needs posix_fadvise and util-linux fincore",
)
def test_prefetch_brings_a_file_from_disk_into_memory(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    with path.open("wb") as handle:
        handle.write(os.urandom(2**20))
        handle.flush()
        os.fsync(handle.fileno())  # clean pages: the kernel may drop them
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    if _pages_in_memory(path) > 0:
        pytest.skip("this file system keeps the pages")
    prefetch(path)
    deadline = time.monotonic() + 10
    while _pages_in_memory(path) < 256:  # all 1 MiB, 4 KiB pages
        assert time.monotonic() < deadline, "prefetch read nothing"
        time.sleep(0.01)


def test_prefetch_leaves_a_missing_file_to_the_reader(tmp_path: Path) -> None:
    prefetch(tmp_path / "gone.jsonl")  # no error: the import reports it when it reads
    prefetch(tmp_path, offset=10)  # a folder: nothing to read ahead, no error

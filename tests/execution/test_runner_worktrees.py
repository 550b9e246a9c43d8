"""Worktree names and the refusals of --worktrees (the full flow is in test_runner_cli)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from coditect.errors import UsageError
from coditect.execution.worktrees import Worktrees, branch_name, edits_code


def test_branch_names() -> None:
    assert branch_name("api") == "coditect/api"
    assert branch_name("5.2") == "coditect/5.2"
    odd = branch_name("a..b")
    assert odd.startswith("coditect/a--b-") and len(odd) == len("coditect/a--b-") + 8
    assert branch_name("x.lock") != branch_name("x-lock")
    for name in (odd, branch_name("x.lock"), branch_name("end.")):
        check = subprocess.run(["git", "check-ref-format", "--branch", name], check=False)
        assert check.returncode == 0, name


def test_which_tasks_edit_code() -> None:
    assert edits_code("claude-code", [])
    assert edits_code("api", [])
    assert edits_code("script", ["out.txt"])
    assert not edits_code("script", [])
    assert not edits_code("interactive", [])


def test_a_repository_without_a_commit_is_refused(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    with pytest.raises(UsageError, match="needs a commit to branch from"):
        Worktrees(tmp_path, tmp_path / ".coditect" / "worktrees")

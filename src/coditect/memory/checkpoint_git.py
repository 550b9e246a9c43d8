"""What a checkpoint asks git: branch, HEAD and dirty files, commits since, and a commit.

Everything goes through the ``git`` program (``git status --porcelain=v2 --branch -z``
is a stable, documented format); a folder outside any repository, or a machine without
git, is an answer, not an error, until a commit is asked for.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from coditect.errors import ConflictError, ToolNotFoundError, WorkFailedError

__all__ = ["GitState", "commit_files", "commits_between", "git_state"]

GIT_TIMEOUT = 60
_STATUS_TYPES = {"1": "changed", "2": "renamed", "u": "unmerged", "?": "untracked"}


@dataclass(slots=True)
class GitState:
    """The repository around a project folder, or why there is none."""

    repo: bool
    reason: str = ""
    root: str | None = None
    branch: str | None = None
    head: str | None = None
    dirty: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _git(folder: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        result = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT,
            env=env,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolNotFoundError("git is not installed", "Install git to use it here.") from exc
    if check and result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip() or result.stdout.decode().strip()
        raise WorkFailedError(f"git {args[0]} failed: {message}", "See git's message above.")
    return result


def _parse_status(data: bytes, state: GitState) -> None:
    fields = data.decode("utf-8", "replace").split("\0")
    index = 0
    while index < len(fields):
        entry = fields[index]
        index += 1
        if entry.startswith("# branch.head "):
            head = entry.removeprefix("# branch.head ")
            state.branch = None if head == "(detached)" else head
        elif entry.startswith("# branch.oid "):
            oid = entry.removeprefix("# branch.oid ")
            state.head = None if oid == "(initial)" else oid
        elif entry[:1] in _STATUS_TYPES:
            kind = _STATUS_TYPES[entry[0]]
            if kind == "untracked":
                state.dirty.append({"path": entry[2:], "status": "??", "kind": kind})
                continue
            parts = entry.split(" ", 10 if kind == "unmerged" else 9 if kind == "renamed" else 8)
            row = {"path": parts[-1], "status": parts[1], "kind": kind}
            if kind == "renamed":
                row["from"] = fields[index]
                index += 1
            state.dirty.append(row)


def git_state(folder: Path) -> GitState:
    """Branch, HEAD and the dirty files of the repository holding ``folder``."""
    try:
        top = _git(folder, "rev-parse", "--show-toplevel")
    except ToolNotFoundError:
        return GitState(repo=False, reason="git is not installed")
    if top.returncode != 0:
        return GitState(repo=False, reason="not a git repository")
    state = GitState(repo=True, root=top.stdout.decode().strip())
    status = _git(folder, "status", "--porcelain=v2", "--branch", "-z", check=True)
    _parse_status(status.stdout, state)
    return state


def commits_between(folder: Path, old: str, new: str, limit: int = 20) -> list[str]:
    """``git log --oneline old..new`` (newest first, at most ``limit``); empty when git
    cannot tell (a commit is gone, or this is no repository)."""
    try:
        result = _git(folder, "log", "--oneline", f"--max-count={limit}", f"{old}..{new}")
    except ToolNotFoundError:
        return []
    if result.returncode != 0:
        return []
    return result.stdout.decode("utf-8", "replace").splitlines()


def require_repo(folder: Path) -> None:
    """ConflictError unless ``folder`` is in a git repository (checked before writing)."""
    state = git_state(folder)
    if not state.repo:
        raise ConflictError(
            f"cannot commit the checkpoint: {folder} is not in a git repository"
            if state.reason == "not a git repository"
            else f"cannot commit the checkpoint: {state.reason}",
            "Run `git init` first, or create the checkpoint without --commit.",
        )


def commit_files(folder: Path, paths: list[Path], message: str) -> str:
    """Commit exactly ``paths`` (nothing else that is staged) and return the new HEAD.
    On failure the paths are unstaged again and WorkFailedError says why."""
    names = [str(p) for p in paths]
    _git(folder, "add", "--force", "--", *names, check=True)
    try:
        _git(folder, "commit", "--quiet", "-m", message, "--", *names, check=True)
    except WorkFailedError:
        _git(folder, "rm", "--cached", "--quiet", "--ignore-unmatch", "--", *names)
        raise
    return _git(folder, "rev-parse", "HEAD", check=True).stdout.decode().strip()

"""Git worktrees for ``coditect run --worktrees``: one branch and folder per task that edits code.

A task edits code when its executor is one that writes files on its own (``claude-code``,
``api``) or when it names output files. Such a task runs in
``.coditect/worktrees/<task-id>`` on the branch ``coditect/<task-id>``, made from the
commit the project was on when the run started. When it succeeds, whatever it changed
there is committed on its branch; the run ends by listing the branches to merge.
Other tasks run in the project folder as usual.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coditect.errors import ToolNotFoundError, UsageError, WorkFailedError

__all__ = ["CODE_EXECUTORS", "Worktree", "Worktrees", "edits_code"]

CODE_EXECUTORS = frozenset({"claude-code", "api"})
"""Executors whose agents change files themselves."""


def edits_code(executor: str, output_files: list[str]) -> bool:
    """Whether a task gets its own worktree under ``--worktrees``."""
    return executor in CODE_EXECUTORS or bool(output_files)


def branch_name(task_id: str) -> str:
    """``coditect/<task-id>``, unless the id is not a valid git ref name (``a..b``)."""
    if ".." in task_id or task_id.endswith((".", ".lock")):
        digest = hashlib.sha256(task_id.encode()).hexdigest()[:8]
        return f"coditect/{task_id.replace('.', '-')}-{digest}"
    return f"coditect/{task_id}"


@dataclass(frozen=True)
class Worktree:
    task_id: str
    path: Path
    branch: str


class Worktrees:
    """The worktrees of one run, all made from the commit ``base``."""

    def __init__(self, root: Path, folder: Path) -> None:
        self.root = root
        self.folder = folder
        self.git = shutil.which("git") or ""
        if not self.git:
            raise ToolNotFoundError(
                "--worktrees needs git, which is not installed", "Install git, or run without it."
            )
        top = self._git(root, "rev-parse", "--show-toplevel", check=False)
        if top.returncode != 0:
            raise UsageError(
                f"--worktrees needs a git repository, and {root} is not in one",
                "Run `git init` and commit, or run without --worktrees.",
            )
        head = self._git(root, "rev-parse", "--verify", "HEAD^{commit}", check=False)
        if head.returncode != 0:
            raise UsageError(
                "--worktrees needs a commit to branch from, and the repository has none",
                "Commit something first (git commit), or run without --worktrees.",
            )
        self.base = head.stdout.strip()
        self.made: dict[str, Worktree] = {}
        self._lock = threading.Lock()
        """Worker threads share the repository: one git change at a time."""

    def _git(self, cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.git, *args], cwd=cwd, capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise WorkFailedError(
                f"git {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}",
                "Check the repository with `git status` and `git worktree list`.",
            )
        return done

    def _ignore_folder(self) -> None:
        """Keep the worktrees out of the project's own ``git status``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        ignore = self.folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Made by coditect run --worktrees: one folder per task.\n*\n")

    def prepare(self, task_id: str) -> Worktree:
        """The worktree of ``task_id``: made now, or reused from an earlier attempt or run."""
        with self._lock:
            return self._prepare(task_id)

    def _prepare(self, task_id: str) -> Worktree:
        self._ignore_folder()
        path = self.folder / task_id
        branch = branch_name(task_id)
        if not (path / ".git").exists():
            self._git(self.root, "worktree", "prune")
            exists = self._git(
                self.root, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False
            )
            if exists.returncode == 0:
                self._git(self.root, "worktree", "add", str(path), branch)
            else:
                self._git(self.root, "worktree", "add", str(path), "-b", branch, self.base)
        tree = Worktree(task_id, path, branch)
        self.made[task_id] = tree
        return tree

    def commit(self, task_id: str, message: str) -> bool:
        """Commit what the task changed in its worktree; False when it changed nothing."""
        with self._lock:
            return self._commit(self.made[task_id], message)

    def _commit(self, tree: Worktree, message: str) -> bool:
        if not self._git(tree.path, "status", "--porcelain").stdout.strip():
            return False
        self._git(tree.path, "add", "--all")
        identity: list[str] = []
        if not self._git(tree.path, "config", "user.email", check=False).stdout.strip():
            identity = ["-c", "user.name=coditect", "-c", "user.email=coditect@localhost"]
        self._git(tree.path, *identity, "commit", "--quiet", "--no-verify", "-m", message)
        return True

    def report(self) -> list[dict[str, Any]]:
        """For every worktree of the run: its branch, folder, and commits to merge."""
        rows = []
        for tree in self.made.values():
            ahead = self._git(self.root, "rev-list", "--count", f"{self.base}..{tree.branch}")
            dirty = self._git(tree.path, "status", "--porcelain", check=False).stdout
            rows.append(
                {
                    "task": tree.task_id,
                    "branch": tree.branch,
                    "path": str(tree.path),
                    "commits": int(ahead.stdout.strip() or 0),
                    "uncommitted": len(dirty.splitlines()),
                    "merge": f"git merge {tree.branch}",
                }
            )
        return rows

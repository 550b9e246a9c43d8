"""Shared helpers of the executor tests: jobs, and whether a process is still alive."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from coditect.execution.base import Job
from coditect.tasks.model import AgentTask


def make_job(tmp_path: Path, task_id: str = "T1", **fields: Any) -> Job:
    """A job for task ``task_id`` working in ``tmp_path/work`` and logging in ``tmp_path/logs``."""
    task_fields = {
        key: fields.pop(key) for key in ("commands", "metadata", "run_id") if key in fields
    }
    task = AgentTask(id=task_id, title=f"task {task_id}", **task_fields)
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    fields.setdefault("prompt", f"Do task {task_id}.")
    fields.setdefault("log_dir", tmp_path / "logs" / task_id)
    return Job(task=task, workdir=workdir, **fields)


def alive(pid: int) -> bool:
    """True while ``pid`` is a running process (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for_file(path: Path, timeout: float = 5.0) -> str:
    """The text of ``path`` once it exists and is not empty."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and (text := path.read_text()).strip():
            return text
        time.sleep(0.01)
    raise AssertionError(f"{path} did not appear within {timeout} s")


def pids_in(path: Path) -> list[int]:
    return [int(word) for word in wait_for_file(path).split()]


def wait_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    """The pids of ``pids`` still alive after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.01)
    return [p for p in pids if alive(p)]


def kill_quietly(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)

"""Run one program in its own process group, within a deadline, stoppable at any moment.

The script and claude-code executors start programs that start programs of their own
(``make`` runs a compiler, Claude Code runs tools). Each program is therefore started
as the leader of a new session and process group, so that stopping it stops all of
them: SIGTERM to the whole group, a short grace, then SIGKILL to whatever is left.

The caller's thread blocks in ``waitpid`` and sees the exit at once; a small watcher
thread keeps the deadline and looks at the cancel event every 50 ms. Nothing polls on
the path of a program that simply finishes, which keeps the overhead of a short
command well under a millisecond beyond the spawn itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coditect.execution.base import Job

__all__ = [
    "GRACE_SECONDS",
    "ProcessOutcome",
    "job_environment",
    "kill_group",
    "open_logs",
    "read_tail",
    "run_process_group",
]

GRACE_SECONDS = 2.0
"""How long a stopped group has between SIGTERM and SIGKILL."""
_CANCEL_POLL = 0.05
"""How often the watcher looks at the cancel event (the latency of a stop)."""


@dataclass(slots=True)
class ProcessOutcome:
    """How a program ended: its exit code (negative: killed by that signal)."""

    returncode: int
    duration_s: float
    timed_out: bool = False
    cancelled: bool = False

    @property
    def stopped(self) -> bool:
        """True when we stopped it (deadline or cancel) rather than it ending by itself."""
        return self.timed_out or self.cancelled


def job_environment(job: Job) -> dict[str, str]:
    """The environment of a program a job starts: ours, the task's ids, then ``job.env``.

    ``CODITECT_TASK_ID`` is always set, ``CODITECT_RUN_ID`` when the task belongs to a
    run; ``job.env`` is applied last and may override either.
    """
    env = dict(os.environ)
    env["CODITECT_TASK_ID"] = job.task.id
    if job.task.run_id:
        env["CODITECT_RUN_ID"] = job.task.run_id
    env.update(job.env)
    return env


def open_logs(log_dir: Path | None) -> tuple[IO[bytes], IO[bytes]]:
    """``stdout.log`` and ``stderr.log`` in ``log_dir``, opened to append and read.

    Without a log folder the output goes to anonymous temporary files, which vanish
    when closed. The handles are unbuffered and given to the child as they are: the
    child writes to the files directly, with no copying through Python.
    """
    if log_dir is None:
        return tempfile.TemporaryFile("a+b", 0), tempfile.TemporaryFile("a+b", 0)
    log_dir.mkdir(parents=True, exist_ok=True)
    out = (log_dir / "stdout.log").open("a+b", 0)
    try:
        err = (log_dir / "stderr.log").open("a+b", 0)
    except BaseException:
        out.close()
        raise
    return out, err


def read_tail(handle: IO[bytes], start: int, limit: int) -> str:
    """The last ``limit`` characters written to ``handle`` since offset ``start``."""
    end = handle.seek(0, os.SEEK_END)
    # UTF-8 spends at most 4 bytes a character; trim to characters after decoding.
    begin = max(start, end - 4 * limit)
    handle.seek(begin)
    text = handle.read(end - begin).decode("utf-8", "replace")
    if begin > start:
        text = text.lstrip("\ufffd")  # a character cut in half at the start
    return text[-limit:]


def kill_group(pgid: int, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the process group, wait up to ``grace`` seconds for it to empty, SIGKILL."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return
        time.sleep(0.01)
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    """True while a process of the group runs; zombies do not count.

    Orphans that died wait as zombies until PID 1 reaps them, and some PID 1s (a
    container's own program, some VM inits) never do; ``killpg(pgid, 0)`` counts them.
    Where ``/proc`` exists it is asked for the state of each member instead.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    try:
        entries = os.scandir("/proc")
    except OSError:
        return True
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_bytes()
            except OSError:
                continue
            # After "pid (comm)": state, ppid, pgrp, …
            state, _, group = stat.rpartition(b")")[2].split()[:3]
            if int(group) == pgid and state != b"Z":
                return True
    return False


class _Watcher(threading.Thread):
    """Stops the group at the deadline or when ``cancel`` is set; ends when ``done`` is."""

    def __init__(
        self, pgid: int, deadline: float, cancel: threading.Event | None, grace: float
    ) -> None:
        super().__init__(name=f"coditect-watch-{pgid}", daemon=True)
        self.pgid = pgid
        self.deadline = deadline
        self.cancel = cancel
        self.grace = grace
        self.done = threading.Event()
        self.reason: str | None = None

    def run(self) -> None:
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.reason = "timeout"
                break
            if self.done.wait(min(remaining, _CANCEL_POLL)):
                return
            if self.cancel is not None and self.cancel.is_set():
                self.reason = "cancel"
                break
        kill_group(self.pgid, self.grace)


def run_process_group(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdout: IO[Any],
    stderr: IO[Any],
    timeout: float,
    cancel: threading.Event | None = None,
    stdin: IO[Any] | int = subprocess.DEVNULL,
    grace: float = GRACE_SECONDS,
) -> ProcessOutcome:
    """Run ``argv`` as a new process group and wait for it, at most ``timeout`` seconds.

    When the deadline passes or ``cancel`` is set, the whole group is stopped (SIGTERM,
    ``grace``, SIGKILL) and the outcome says which. When the program ends by itself,
    processes it left behind in its group get a SIGTERM. A failure to start the program
    raises ``OSError`` (``FileNotFoundError``, ``PermissionError``) for the caller to
    translate; Ctrl-C in this thread stops the group and is raised again.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )
    watcher = _Watcher(proc.pid, started + timeout, cancel, grace)
    watcher.start()
    try:
        returncode = proc.wait()
    except BaseException:
        watcher.done.set()
        kill_group(proc.pid, grace)
        proc.wait()
        raise
    watcher.done.set()
    watcher.join()
    if watcher.reason is None:
        # Background processes the program left behind in its group.
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    return ProcessOutcome(
        returncode=returncode,
        duration_s=time.monotonic() - started,
        timed_out=watcher.reason == "timeout",
        cancelled=watcher.reason == "cancel",
    )

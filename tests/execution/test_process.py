"""Process groups: deadline, cancel, the whole group stopped, logs and tails."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from coditect.execution.process import (
    ProcessOutcome,
    job_environment,
    kill_group,
    open_logs,
    read_tail,
    run_process_group,
)
from tests.execution.helpers import kill_quietly, make_job, pids_in, wait_gone

# The leader starts a grandchild in the background and writes both pids to a file.
GRANDCHILD = "sleep 100 & echo $$ $! > {pids}; sleep 100"


def _run(tmp_path: Path, command: str, **kwargs: Any) -> ProcessOutcome:
    out, err = open_logs(tmp_path / "logs")
    with out, err:
        return run_process_group(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=os.environ,
            stdout=out,
            stderr=err,
            **kwargs,
        )


def test_exit_code_and_output_reach_the_caller(tmp_path: Path) -> None:
    outcome = _run(tmp_path, "echo hello; echo oops >&2; exit 3", timeout=10)
    assert outcome.returncode == 3
    assert not outcome.stopped
    assert (tmp_path / "logs" / "stdout.log").read_text() == "hello\n"
    assert (tmp_path / "logs" / "stderr.log").read_text() == "oops\n"


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    started = time.monotonic()
    outcome = _run(tmp_path, GRANDCHILD.format(pids=pid_file), timeout=0.5)
    elapsed = time.monotonic() - started
    pids = pids_in(pid_file)
    try:
        assert outcome.timed_out and not outcome.cancelled
        assert outcome.returncode == -signal.SIGTERM
        assert elapsed < 3
        assert len(pids) == 2
        assert wait_gone(pids) == []
    finally:
        kill_quietly(pids)


def test_cancel_from_another_thread_kills_the_whole_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    started = time.monotonic()
    outcome = _run(tmp_path, GRANDCHILD.format(pids=pid_file), timeout=60, cancel=cancel)
    elapsed = time.monotonic() - started
    pids = pids_in(pid_file)
    try:
        assert outcome.cancelled and not outcome.timed_out
        assert 0.3 <= elapsed < 2
        assert wait_gone(pids) == []
    finally:
        kill_quietly(pids)


def test_a_group_that_ignores_sigterm_gets_sigkill(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    command = f"trap '' TERM; sleep 100 & echo $$ $! > {pid_file}; wait"
    out, err = open_logs(None)
    with out, err:
        started = time.monotonic()
        outcome = run_process_group(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=os.environ,
            stdout=out,
            stderr=err,
            timeout=0.3,
            grace=0.3,
        )
    elapsed = time.monotonic() - started
    pids = pids_in(pid_file)
    try:
        assert outcome.timed_out
        assert outcome.returncode == -signal.SIGKILL
        assert 0.6 <= elapsed < 3
        assert wait_gone(pids) == []
    finally:
        kill_quietly(pids)


def test_background_leftovers_are_stopped_after_a_normal_exit(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    outcome = _run(tmp_path, f"sleep 100 & echo $! > {pid_file}", timeout=10)
    pids = pids_in(pid_file)
    try:
        assert outcome.returncode == 0
        assert wait_gone(pids) == []
    finally:
        kill_quietly(pids)


def test_a_detached_process_is_left_alone(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    # Popen returns once the child has exec'd, so it is in its own session by then.
    detach = (
        "import subprocess, sys; p = subprocess.Popen(['sleep', '100'], "
        "start_new_session=True, stdout=subprocess.DEVNULL); print(p.pid)"
    )
    command = f"{sys.executable} -c {shlex.quote(detach)} > {pid_file}"
    outcome = _run(tmp_path, command, timeout=10)
    pids = pids_in(pid_file)
    try:
        assert outcome.returncode == 0
        assert wait_gone(pids, timeout=0.3) == pids
    finally:
        kill_quietly(pids)


def test_a_missing_program_raises_oserror(tmp_path: Path) -> None:
    out, err = open_logs(None)
    with out, err, pytest.raises(FileNotFoundError):
        run_process_group(
            [str(tmp_path / "nope")], cwd=tmp_path, env={}, stdout=out, stderr=err, timeout=1
        )


def test_ctrl_c_in_the_waiting_thread_stops_the_group(tmp_path: Path) -> None:
    """A real SIGINT to a Python process waiting on a group: the group dies, exit 130ish."""
    pid_file = tmp_path / "pids"
    script = f"""
import os, sys
from pathlib import Path
from coditect.execution.process import open_logs, run_process_group
out, err = open_logs(None)
try:
    run_process_group(["bash", "-c", {GRANDCHILD.format(pids=pid_file)!r}],
                      cwd=Path("."), env=os.environ, stdout=out, stderr=err, timeout=60)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pids = pids_in(pid_file)
    try:
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=10)
        assert proc.returncode == 130
        assert stdout == "interrupted\n"
        assert wait_gone(pids) == []
    finally:
        kill_quietly(pids)


def test_kill_group_of_a_finished_group_is_harmless(tmp_path: Path) -> None:
    proc = subprocess.Popen(["true"], start_new_session=True)
    proc.wait()
    kill_group(proc.pid, grace=0.1)  # no ProcessLookupError


def test_read_tail_reads_only_what_was_written_since_start(tmp_path: Path) -> None:
    out, err = open_logs(tmp_path)
    with out, err:
        out.write(b"old attempt\n")
        start = out.seek(0, os.SEEK_END)
        out.write("é".encode() * 3000)
        tail = read_tail(out, start, 10)
        assert tail == "é" * 10
        assert read_tail(out, start, 100_000) == "é" * 3000
        assert read_tail(err, 0, 10) == ""


def test_logs_append_across_opens(tmp_path: Path) -> None:
    for word in (b"one\n", b"two\n"):
        out, err = open_logs(tmp_path / "deep" / "logs")
        with out, err:
            out.write(word)
    assert (tmp_path / "deep" / "logs" / "stdout.log").read_bytes() == b"one\ntwo\n"


def test_job_environment_sets_ids_and_lets_job_env_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_PARENT", "yes")
    env = job_environment(make_job(tmp_path, run_id="r-1", env={"EXTRA": "1"}))
    assert env["CODITECT_TASK_ID"] == "T1"
    assert env["CODITECT_RUN_ID"] == "r-1"
    assert env["EXTRA"] == "1"
    assert env["FROM_PARENT"] == "yes"
    env = job_environment(make_job(tmp_path, env={"CODITECT_RUN_ID": "from-runner"}))
    assert env["CODITECT_RUN_ID"] == "from-runner"
    assert "CODITECT_RUN_ID" not in job_environment(make_job(tmp_path))

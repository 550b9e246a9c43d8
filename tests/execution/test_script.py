"""The script executor: real shell commands, real logs, real process groups."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from coditect.config import Config
from coditect.execution.base import ExecutionStatus, get_executor
from coditect.execution.script import OUTPUT_LIMIT, ScriptExecutor
from tests.execution.helpers import kill_quietly, make_job, pids_in, wait_gone


def test_registry_builds_it_from_the_config() -> None:
    executor = get_executor("script", Config())
    assert isinstance(executor, ScriptExecutor)
    assert executor.name == "script"


def test_commands_run_in_order_in_the_workdir_with_the_env(tmp_path: Path) -> None:
    job = make_job(
        tmp_path,
        run_id="run-7",
        commands=[
            "echo first > order.txt",
            "echo second >> order.txt; pwd > where.txt",
            'echo "$CODITECT_TASK_ID $CODITECT_RUN_ID $GREETING"',
        ],
        env={"GREETING": "hello"},
    )
    result = ScriptExecutor(Config()).execute(job)
    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    assert result.ok
    assert (job.workdir / "order.txt").read_text() == "first\nsecond\n"
    assert (job.workdir / "where.txt").read_text().strip() == str(job.workdir)
    assert result.output == "T1 run-7 hello\n"
    assert result.error is None
    assert result.usage.total == 0
    assert result.cost_usd == 0
    assert result.duration_s > 0


def test_logs_have_a_header_per_command_and_append_across_attempts(tmp_path: Path) -> None:
    job = make_job(tmp_path, commands=["echo out-1; echo err-1 >&2", "echo out-2"])
    executor = ScriptExecutor(Config())
    executor.execute(job)
    second = executor.execute(job)
    stdout = (job.log_dir / "stdout.log").read_text()  # type: ignore[operator]
    stderr = (job.log_dir / "stderr.log").read_text()  # type: ignore[operator]
    assert stdout.count("out-1\n") == 2
    assert stdout.count("$ echo out-2\n") == 2
    assert "==> [1/2]" in stdout and "==> [2/2]" in stdout
    assert stderr.count("err-1\n") == 2
    assert "==> [1/2]" in stderr
    # The result holds only this attempt's output, not the first one's.
    assert second.output == "out-1\nout-2\n"


def test_the_first_failing_command_stops_the_task(tmp_path: Path) -> None:
    job = make_job(
        tmp_path,
        commands=["echo ok", "echo broken >&2; exit 4", "touch never-ran"],
    )
    result = ScriptExecutor(Config()).execute(job)
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None
    assert result.error.startswith("command 2 of 3 (echo broken >&2; exit 4) exited with 4")
    assert result.error.endswith("broken")
    assert result.output == "ok\n"
    assert not (job.workdir / "never-ran").exists()


def test_a_task_without_commands_fails_clearly(tmp_path: Path) -> None:
    result = ScriptExecutor(Config()).execute(make_job(tmp_path))
    assert result.status is ExecutionStatus.FAILED
    assert "has no commands" in (result.error or "")


def test_output_is_bounded_to_the_tail(tmp_path: Path) -> None:
    job = make_job(tmp_path, commands=["seq 1 20000"])
    result = ScriptExecutor(Config()).execute(job)
    assert result.ok
    assert len(result.output) == OUTPUT_LIMIT
    assert result.output.endswith("19999\n20000\n")
    assert (job.log_dir / "stdout.log").read_text().count("\n") == 20001  # type: ignore[operator]


def test_a_missing_workdir_fails_without_a_traceback(tmp_path: Path) -> None:
    job = make_job(tmp_path, commands=["true"])
    job.workdir = tmp_path / "gone"
    result = ScriptExecutor(Config()).execute(job)
    assert result.status is ExecutionStatus.FAILED
    assert "cannot run command 1 of 1 (true)" in (result.error or "")


def test_killed_by_a_signal_is_named(tmp_path: Path) -> None:
    result = ScriptExecutor(Config()).execute(make_job(tmp_path, commands=["kill -9 $$"]))
    assert result.status is ExecutionStatus.FAILED
    assert result.error == "command 1 of 1 (kill -9 $$) was killed by SIGKILL"


def test_multi_line_command_is_shortened_in_the_error(tmp_path: Path) -> None:
    result = ScriptExecutor(Config()).execute(make_job(tmp_path, commands=["true\nexit 2"]))
    assert result.error == "command 1 of 1 (true…) exited with 2"


def test_timeout_covers_the_whole_task_and_kills_grandchildren(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    job = make_job(
        tmp_path,
        commands=["sleep 0.2", f"sleep 100 & echo $$ $! > {pid_file}; sleep 100"],
        timeout=0.6,
    )
    started = time.monotonic()
    result = ScriptExecutor(Config()).execute(job)
    elapsed = time.monotonic() - started
    pids = pids_in(pid_file)
    try:
        assert result.status is ExecutionStatus.FAILED
        assert (result.error or "").startswith("timed out after 0.6 s, during command 2 of 2")
        assert 0.6 <= elapsed < 3
        assert wait_gone(pids) == []
    finally:
        kill_quietly(pids)


def test_cancel_kills_the_group_and_skips_the_rest(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    job = make_job(
        tmp_path,
        commands=[f"sleep 100 & echo $$ $! > {pid_file}; sleep 100", "touch never-ran"],
    )
    timer = threading.Timer(0.3, job.cancel.set)
    timer.start()
    result = ScriptExecutor(Config()).execute(job)
    pids = pids_in(pid_file)
    try:
        assert result.status is ExecutionStatus.CANCELLED
        assert (result.error or "").startswith("cancelled during command 1 of 2")
        assert wait_gone(pids) == []
        assert not (job.workdir / "never-ran").exists()
    finally:
        kill_quietly(pids)


def test_a_job_cancelled_before_it_starts_runs_nothing(tmp_path: Path) -> None:
    job = make_job(tmp_path, commands=["touch ran"])
    job.cancel.set()
    result = ScriptExecutor(Config()).execute(job)
    assert result.status is ExecutionStatus.CANCELLED
    assert not (job.workdir / "ran").exists()


def test_commands_get_no_stdin(tmp_path: Path) -> None:
    # `cat` would wait for the terminal forever if stdin were inherited.
    result = ScriptExecutor(Config()).execute(make_job(tmp_path, commands=["cat; echo done"]))
    assert result.ok
    assert result.output == "done\n"


def test_parallel_executions_do_not_mix_logs(tmp_path: Path) -> None:
    executor = ScriptExecutor(Config())
    jobs = [make_job(tmp_path, f"T{n}", commands=[f"echo task-{n}"]) for n in range(8)]
    results: dict[str, str] = {}

    def run(n: int) -> None:
        results[f"T{n}"] = executor.execute(jobs[n]).output

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {f"T{n}": f"task-{n}\n" for n in range(8)}


def test_without_a_log_dir_output_still_comes_back(tmp_path: Path) -> None:
    job = make_job(tmp_path, commands=["echo hi", "echo bad >&2; false"], log_dir=None)
    result = ScriptExecutor(Config()).execute(job)
    assert result.output == "hi\n"
    assert result.error == "command 2 of 2 (echo bad >&2; false) exited with 1:\nbad"

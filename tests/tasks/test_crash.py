"""The store under real processes: killed in the middle of saves, and racing each other."""

from __future__ import annotations

import inspect
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from coditect.tasks.model import AgentTask
from coditect.tasks.orchestrator import Orchestrator
from coditect.tasks.store import StateStore

pytestmark = pytest.mark.slow

KEEP = 5


def build_tasks(n: int) -> list[AgentTask]:
    """What save number ``n`` holds: a count, titles and sizes that all depend on ``n``,
    so that a file mixing two saves, or any other save, cannot pass for this one."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        AgentTask(
            id=f"t-{i}",
            title=f"task {i} of save {n}",
            metadata={"save": n, "i": i, "pad": "x" * ((n * 37 + i * 11) % 700)},
            created_at=start + timedelta(seconds=i),
        )
        for i in range(3 + n % 23)
    ]


# Saves in a loop, each one the next revision; logs "begin N" just before save N and
# "done N" once it returned. A single os.write on an O_APPEND file survives SIGKILL whole.
CRASH_CHILD = f"""
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coditect.tasks.model import AgentTask
from coditect.tasks.store import StateStore

{inspect.getsource(build_tasks)}

store = StateStore(Path(sys.argv[1]), keep_backups={KEEP})
log = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
while True:
    with store.transaction() as loaded:
        n = loaded.revision + 1
        loaded.orchestrator.tasks.clear()
        loaded.orchestrator.put(build_tasks(n))
        os.write(log, f"begin {{n}}\\n".encode())
    os.write(log, f"done {{n}}\\n".encode())
"""


def as_dicts(orchestrator: Orchestrator) -> list[dict[str, Any]]:
    return [task.to_dict() for task in orchestrator.tasks.values()]


def expected(n: int) -> list[dict[str, Any]]:
    return [task.to_dict() for task in build_tasks(n)]


def wait_for_a_save(child: subprocess.Popen[bytes], log: Path, offset: int) -> None:
    """Until the child has completed a save since ``offset``, so it is inside its loop."""
    deadline = time.monotonic() + 30
    while b"done" not in log.read_bytes()[offset:]:
        if child.poll() is not None:
            _, err = child.communicate()
            pytest.fail(f"the saving child exited {child.returncode}:\n{err.decode()}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail("the saving child completed no save in 30s")
        time.sleep(0.005)


def test_sigkill_during_saves_loses_no_completed_save(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    log = tmp_path / "log"
    log.touch()
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    started = time.monotonic()
    kills = in_flight_kills = new_state = 0

    while kills < 40 and time.monotonic() - started < 20:
        offset = log.stat().st_size
        child = subprocess.Popen(
            [sys.executable, "-c", CRASH_CHILD, str(state_dir), str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_a_save(child, log, offset)
        time.sleep(rng.uniform(0, 0.04))
        child.send_signal(signal.SIGKILL)
        child.communicate()
        kills += 1

        lines = log.read_text()[offset:].split()
        words, numbers = lines[0::2], [int(n) for n in lines[1::2]]
        last_done = max(n for word, n in zip(words, numbers, strict=True) if word == "done")
        allowed = {last_done}
        if words[-1] == "begin":  # killed with a save in flight
            assert numbers[-1] == last_done + 1
            allowed.add(numbers[-1])
            in_flight_kills += 1
        context = f"seed {seed}, kill {kills}, allowed {sorted(allowed)}"

        store = StateStore(state_dir, keep_backups=KEEP)
        loaded = store.load()
        # A killed save never damages the state file: it is the old one or the new one.
        assert loaded.restored_from is None, context
        assert loaded.revision in allowed, context
        assert as_dicts(loaded.orchestrator) == expected(loaded.revision), context
        new_state += loaded.revision != last_done
        backups = store.backups()
        assert backups[0].valid, context
        assert backups[0].revision in allowed, context
        assert backups[0].revision >= loaded.revision, context

        # Were the state file damaged now, recovery would still find a save no older
        # than the last completed one.
        copy = tmp_path / "copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(state_dir, copy)
        (copy / "tasks.json").write_bytes(b"\0" * 100)
        recovered = StateStore(copy, keep_backups=KEEP).load()
        assert recovered.restored_from is not None, context
        assert recovered.revision in allowed, context
        assert as_dicts(recovered.orchestrator) == expected(recovered.revision), context

    elapsed = time.monotonic() - started
    print(
        f"{kills} kills in {elapsed:.1f}s (seed {seed}): {in_flight_kills} with a save in "
        f"flight, of which {new_state} had already replaced the state file"
    )
    assert kills >= 10, f"only {kills} kills in {elapsed:.1f}s"
    assert in_flight_kills >= 1, "no kill landed while a save was in flight"

    # Temp files a kill left behind are not backups; the next save removes them.
    store = StateStore(state_dir, keep_backups=KEEP)
    with store.transaction() as loaded:
        revision = loaded.revision
        loaded.orchestrator.tasks.popitem()
    after = store.load()
    assert (after.revision, after.restored_from) == (revision + 1, None)
    assert not list(state_dir.rglob("*.tmp"))
    assert store.verify().valid
    backups = store.backups()
    assert len(backups) == KEEP
    assert all(b.valid and b.path.suffix == ".json" for b in backups)
    assert backups[0].path.read_bytes() == store.path.read_bytes()


# Each worker makes its updates, each in its own transaction: it adds a task with an id
# of its own and increments its counter in the metadata of the shared task "counter".
WORKER = """
import sys
import time
from pathlib import Path

from coditect.tasks.model import AgentTask
from coditect.tasks.store import StateStore

state_dir, worker, updates, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
store = StateStore(state_dir)
while not go.exists():
    time.sleep(0.001)
for i in range(updates):
    with store.transaction() as loaded:
        counter = loaded.orchestrator.get("counter")
        counter.metadata[worker] = counter.metadata.get(worker, 0) + 1
        loaded.orchestrator.add(AgentTask(id=f"{worker}-{i}", title=f"update {i} of {worker}"))
"""

WORKERS = 4
UPDATES = 200


def test_concurrent_transactions_lose_no_update(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    go = tmp_path / "go"
    StateStore(state_dir).save(Orchestrator([AgentTask(id="counter", title="Counter")]), 1)
    names = [f"w{n}" for n in range(WORKERS)]
    started = time.monotonic()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(state_dir), name, str(UPDATES), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in names
    ]
    go.touch()  # all start together, for as much contention as possible
    for child in children:
        try:
            _, err = child.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for other in children:
                other.kill()
            pytest.fail("the workers did not finish in 120s")
        assert child.returncode == 0, err.decode()
    elapsed = time.monotonic() - started
    print(f"{WORKERS} workers x {UPDATES} updates in {elapsed:.1f}s")

    loaded = StateStore(state_dir).load()

    assert loaded.restored_from is None
    assert loaded.revision == 1 + WORKERS * UPDATES
    tasks = loaded.orchestrator.tasks
    assert tasks["counter"].metadata == dict.fromkeys(names, UPDATES)
    assert len(tasks) == 1 + WORKERS * UPDATES
    for name in names:  # every update is there, in the order its worker made them
        own = [task_id for task_id in tasks if task_id.startswith(f"{name}-")]
        assert own == [f"{name}-{i}" for i in range(UPDATES)]
    assert not [p for p in state_dir.rglob("*") if p.name.endswith(".tmp")]


def test_killed_worker_does_not_block_the_others(tmp_path: Path) -> None:
    """The lock dies with its holder: a process killed inside a transaction leaves the
    state as it was, and the next process gets the lock at once."""
    state_dir = tmp_path / "state"
    StateStore(state_dir).save(Orchestrator([AgentTask(id="counter", title="Counter")]), 1)
    before = (state_dir / "tasks.json").read_bytes()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from coditect.tasks.store import StateStore\n"
            "with StateStore(Path(sys.argv[1])).transaction() as loaded:\n"
            "    loaded.orchestrator.get('counter').metadata['x'] = 1\n"
            "    print('holding', flush=True)\n"
            "    time.sleep(60)\n",
            str(state_dir),
        ],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == b"holding\n"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    assert (state_dir / "tasks.json").read_bytes() == before

    started = time.monotonic()
    store = StateStore(state_dir)
    with store.transaction() as loaded:
        assert loaded.orchestrator.get("counter").metadata == {}
        loaded.orchestrator.get("counter").metadata["y"] = 2

    assert time.monotonic() - started < 5
    assert store.load().orchestrator.get("counter").metadata == {"y": 2}

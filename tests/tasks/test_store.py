"""The durable state store: encoding, checksums, backups, recovery, rollback, atomic writes."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock, Timeout

from coditect.errors import (
    CoditectError,
    ConflictError,
    ExitCode,
    NotFoundError,
    StateCorruptedError,
)
from coditect.tasks import store as store_module
from coditect.tasks.model import AgentTask, Status, Transition
from coditect.tasks.orchestrator import Orchestrator
from coditect.tasks.statefile import SCHEMA_VERSION, decode_state, encode_state, load_table
from coditect.tasks.store import Backup, StateStore, atomic_write
from coditect.tasks.table import TaskNode

BACKUP_NAME = re.compile(r"\d{8}T\d{6}\.\d{6}Z-r(\d{6,})\.json")
MOMENT = datetime(2024, 5, 17, 9, 30, 15, 123456, tzinfo=UTC)


# -- helpers ---------------------------------------------------------------------------------------


def make_tasks(tag: str, count: int = 3) -> list[AgentTask]:
    """``count`` distinct tasks whose titles and metadata carry ``tag``; the same ones on
    every call (fixed times), so saved and loaded tasks can be compared."""
    tasks = [
        AgentTask(
            id=f"t-{tag}-{i}",
            title=f"{tag} task {i} — ünïcödé ✓",
            description=f"the {i}th task of {tag}",
            metadata={"tag": tag, "i": i, "nested": {"list": [1, "two", None]}},
            tags=[tag],
            created_at=MOMENT + timedelta(minutes=i),
            history=[Transition(MOMENT, None, Status.PENDING, "created")],
        )
        for i in range(count)
    ]
    tasks[0].status = Status.IN_PROGRESS
    tasks[0].attempts = 1
    tasks[0].started_at = MOMENT + timedelta(hours=1)
    tasks[0].history.append(Transition(MOMENT, Status.PENDING, Status.IN_PROGRESS, "started"))
    return tasks


def dicts(orchestrator: Orchestrator) -> list[dict[str, Any]]:
    return [task.to_dict() for task in orchestrator.tasks.values()]


def as_dicts(tasks: list[AgentTask]) -> list[dict[str, Any]]:
    return [task.to_dict() for task in tasks]


def seal(header: dict[str, Any], index: dict[str, Any], tasks: list[dict[str, Any]]) -> bytes:
    """A state file with a correct checksum, computed independently of the store: the
    SHA-256 of the header's canonical JSON without the checksum (sorted keys, no
    whitespace), a newline, and every line after the header."""
    header = {k: v for k, v in header.items() if k != "checksum"}
    canonical = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    lines = [json.dumps(x, separators=(",", ":"), ensure_ascii=False) for x in [index, *tasks]]
    body = "".join(line + "\n" for line in lines).encode()
    digest = hashlib.sha256(canonical.encode() + b"\n" + body).hexdigest()
    return f'{{"checksum":"sha256:{digest}",{canonical[1:]}\n'.encode() + body


def parts(data: bytes) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The header, index and task dicts of a state file, read with the standard library."""
    header, index, *tasks = (json.loads(line) for line in data.decode().splitlines())
    return header, index, tasks


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (but the lock) with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "lock"
    }


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def newest_backup(store: StateStore) -> Path:
    return store.backups()[0].path


@pytest.fixture
def initialised(tmp_path: Path) -> StateStore:
    """A store as ``coditect init`` leaves it (see test_init_saves_revision_1), without
    running the command: one empty save, revision 1."""
    store = StateStore(tmp_path / ".coditect" / "state")
    store.save(Orchestrator(), 1)
    return store


@pytest.fixture
def saved(initialised: StateStore) -> StateStore:
    """After two more saves: revision 2 (tasks "a"), then revision 3 (tasks "b")."""
    store = initialised
    store.save(Orchestrator(make_tasks("a")), 2)
    store.save(Orchestrator(make_tasks("b", 4)), 3)
    return store


@pytest.fixture
def bare(tmp_path: Path) -> StateStore:
    """A store whose folder does not exist yet."""
    return StateStore(tmp_path / "fresh" / ".coditect" / "state")


# -- encoding --------------------------------------------------------------------------------------


def test_encode_decode_round_trip() -> None:
    tasks = make_tasks("x", 5)
    data = encode_state(as_dicts(tasks), 42, MOMENT)

    document, decoded = decode_state(data)

    assert [t.to_dict() for t in decoded] == as_dicts(tasks)
    assert document["schema_version"] == SCHEMA_VERSION == 2
    assert document["revision"] == 42
    assert document["tasks"] == 5
    assert document["saved_at"] == MOMENT.isoformat()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", document["checksum"])
    assert data.endswith(b"\n")


def test_the_file_is_a_header_an_index_and_one_line_per_task() -> None:
    """The documented format, re-created with the standard library byte for byte."""
    tasks = make_tasks("c")
    data = encode_state(as_dicts(tasks), 7, MOMENT)
    header, index, stored = parts(data)

    assert len(data.splitlines()) == 2 + len(tasks)
    assert stored == [t.to_compact_dict() for t in tasks]
    assert index == {
        "ids": [t.id for t in tasks],
        "status": [t.status.value for t in tasks],
        "deps": [t.dependencies for t in tasks],
        "priority": [t.priority.value for t in tasks],
        "hours": [t.estimated_hours for t in tasks],
    }
    assert data == seal(header, index, stored)


def test_loading_decodes_no_task_until_one_is_used() -> None:
    tasks = make_tasks("z", 4)
    tasks[2].dependencies = [tasks[1].id]
    _, table = load_table(encode_state(as_dicts(tasks), 1, MOMENT))

    assert all(type(node) is TaskNode for node in table.nodes.values())
    orchestrator = Orchestrator(table)
    assert orchestrator.next() == tasks[1]  # the graph reads the index; next decodes one
    decoded = [i for i, node in table.nodes.items() if type(node) is not TaskNode]
    assert decoded == [tasks[1].id]
    assert [t.to_dict() for t in table.values()] == as_dicts(tasks)


def test_a_save_writes_untouched_tasks_back_byte_for_byte(initialised: StateStore) -> None:
    initialised.save(Orchestrator(make_tasks("u", 5)), 2)
    before = initialised.path.read_bytes().splitlines()

    with initialised.transaction() as loaded:
        loaded.orchestrator.complete("t-u-0")

    after = initialised.path.read_bytes().splitlines()
    assert after[0] != before[0] and after[1] != before[1]  # header and index
    assert after[2] != before[2]  # the task that changed
    assert after[3:] == before[3:]
    assert json.loads(after[1])["status"][0] == "completed"


def test_a_version_1_file_loads_and_the_next_save_writes_version_2(tmp_path: Path) -> None:
    """A state written before the line format (one canonical document, checksum first)."""
    tasks = make_tasks("v1")
    document = {"revision": 9, "saved_at": MOMENT.isoformat(), "schema_version": 1}
    document["tasks"] = [
        {k: v for k, v in t.to_dict().items() if k not in ("executor", "output", "tokens")}
        for t in tasks
    ]
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    checksum = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    (tmp_path / "tasks.json").write_text(f'{{"checksum":"{checksum}",{canonical[1:]}\n')
    store = StateStore(tmp_path)

    loaded = store.load()

    assert (loaded.revision, dicts(loaded.orchestrator)) == (9, as_dicts(tasks))
    assert store.verify().valid
    with store.transaction() as again:
        assert dicts(again.orchestrator) == as_dicts(tasks)
    header, _, stored = parts(store.path.read_bytes())
    assert (header["schema_version"], header["revision"]) == (2, 10)
    assert stored == [t.to_compact_dict() for t in tasks]


def _valid() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    return parts(encode_state(as_dicts(make_tasks("d")), 5, MOMENT))


def _resealed(change: Callable[[dict[str, Any], dict[str, Any], list[Any]], None]) -> bytes:
    header, index, tasks = _valid()
    change(header, index, tasks)
    return seal(header, index, tasks)


def _valid_bytes() -> bytes:
    return encode_state(as_dicts(make_tasks("d")), 5, MOMENT)


DAMAGED_DOCUMENTS: dict[str, tuple[Callable[[], bytes], str]] = {
    "not json": (lambda: b"{ this is not json", "not valid JSON"),
    "empty file": (lambda: b"", "not valid JSON"),
    "invalid utf-8": (lambda: b'{"a": "\xff\xfe"}', "not valid JSON"),
    "a list": (lambda: b"[1, 2, 3]", "not a state document"),
    "a string": (lambda: b'"tasks"', "not a state document"),
    "no checksum": (lambda: _valid_bytes().split(b",", 1)[1], "not valid JSON"),
    "changed title": (
        lambda: _valid_bytes().replace(b"d task 1", b"d task 9"),
        "checksum mismatch",
    ),
    "changed revision": (
        lambda: _valid_bytes().replace(b'"revision":5', b'"revision":6'),
        "checksum mismatch",
    ),
    "changed status in the index": (
        lambda: _valid_bytes().replace(b'"status":["in_progress"', b'"status":["completed"'),
        "checksum mismatch",
    ),
    "a line removed": (
        lambda: b"\n".join(_valid_bytes().split(b"\n")[:-2]) + b"\n",
        "checksum mismatch",
    ),
    "no final newline": (lambda: _valid_bytes()[:-1], "checksum mismatch"),
    "wrong checksum": (
        lambda: _resealed(lambda h, i, t: None).replace(b"sha256:", b"sha256:0"),
        "checksum mismatch",
    ),
    "header not json": (
        lambda: _resealed(lambda h, i, t: None).replace(b'"revision"', b"revision", 1),
        "not valid JSON",
    ),
    "schema version 3": (
        lambda: _resealed(lambda h, i, t: h.update(schema_version=3)),
        "schema version 3 is not 2",
    ),
    "no schema version": (
        lambda: _resealed(lambda h, i, t: h.pop("schema_version")),
        "schema version None",
    ),
    "wrong task count": (
        lambda: _resealed(lambda h, i, t: h.update(tasks=4)),
        "task count does not fit",
    ),
    "revision not an int": (
        lambda: _resealed(lambda h, i, t: h.update(revision="5")),
        "revision or task count",
    ),
    "index without ids": (lambda: _resealed(lambda h, i, t: i.pop("ids")), "index is invalid"),
    "index too short": (
        lambda: _resealed(lambda h, i, t: i["status"].pop()),
        "index is invalid",
    ),
    "index with a bad status": (
        lambda: _resealed(lambda h, i, t: i["status"].__setitem__(0, "sleeping")),
        "index is invalid",
    ),
    "index not an object": (
        lambda: _resealed(lambda h, i, t: i.clear()),
        "index is invalid",
    ),
}


@pytest.mark.parametrize("case", DAMAGED_DOCUMENTS)
def test_decode_rejects_damaged_documents(case: str) -> None:
    make, expected = DAMAGED_DOCUMENTS[case]

    with pytest.raises(StateCorruptedError) as info:
        decode_state(make(), strict=True)

    assert expected in info.value.message
    assert info.value.exit_code == ExitCode.CORRUPTED == 7
    with pytest.raises(StateCorruptedError):
        decode_state(make())


INVALID_TASKS: dict[
    str, tuple[Callable[[dict[str, Any], dict[str, Any], list[Any]], None], str]
] = {
    "task with empty title": (lambda h, i, t: t[1].update(title="  "), "title must not be empty"),
    "task without id": (lambda h, i, t: t[0].pop("id"), "missing the field 'id'"),
    "task with a bad status": (lambda h, i, t: t[0].update(status="sleeping"), "invalid task"),
    "task not an object": (lambda h, i, t: t.__setitem__(2, 7), "invalid task"),
    "index disagrees with a task": (
        lambda h, i, t: i["priority"].__setitem__(1, "low"),
        "index does not match the tasks",
    ),
}


@pytest.mark.parametrize("case", INVALID_TASKS)
def test_verify_validates_every_task_that_loading_trusts(tmp_path: Path, case: str) -> None:
    """Loading trusts what the checksum vouches for and decodes a task when it is used;
    ``state verify`` validates every field and the index."""
    change, expected = INVALID_TASKS[case]
    (tmp_path / "tasks.json").write_bytes(_resealed(change))
    store = StateStore(tmp_path)

    loaded = store.load()

    assert loaded.restored_from is None
    report = store.verify()
    assert not report.valid
    assert expected in report.problem
    if case == "task with empty title":  # trusted: it loads as stored
        assert [t.title for t in loaded.orchestrator.tasks.values()][1] == "  "
    elif case != "index disagrees with a task":
        with pytest.raises(StateCorruptedError, match="a task in the state file is invalid"):
            list(loaded.orchestrator.tasks.values())


def test_sealing_helper_matches_the_store() -> None:
    """The damaged documents above are damaged only where intended: resealed unchanged,
    a document decodes, strictly."""
    _, tasks = decode_state(_resealed(lambda h, i, t: None), strict=True)
    assert as_dicts(tasks) == as_dicts(make_tasks("d"))


def test_wrong_schema_version_says_to_upgrade() -> None:
    with pytest.raises(StateCorruptedError) as info:
        decode_state(_resealed(lambda h, i, t: h.update(schema_version=99)))
    assert "upgrade" in info.value.hint


# -- saving and backups ----------------------------------------------------------------------------


def test_init_saves_revision_1(store: StateStore) -> None:
    """``coditect init`` leaves an empty first save, and its backup."""
    loaded = store.load()

    assert (loaded.revision, loaded.orchestrator.tasks) == (1, {})
    assert [b.revision for b in store.backups()] == [1]
    assert store.verify().valid


def test_save_writes_the_state_and_an_identical_backup(store: StateStore) -> None:
    tasks = make_tasks("s")

    backup = store.save(Orchestrator(tasks), 2)

    assert store.path == store.dir / "tasks.json"
    document, decoded = decode_state(store.path.read_bytes())
    assert document["revision"] == 2
    assert as_dicts(decoded) == as_dicts(tasks)
    assert backup.parent == store.backups_dir
    match = BACKUP_NAME.fullmatch(backup.name)
    assert match and int(match.group(1)) == 2
    assert backup == newest_backup(store)
    assert backup.read_bytes() == store.path.read_bytes()
    assert temp_files(store.dir) == []


def test_save_creates_the_state_folder(bare: StateStore) -> None:
    assert not bare.dir.exists()

    bare.save(Orchestrator(make_tasks("f")), 1)

    assert dicts(bare.load().orchestrator) == as_dicts(make_tasks("f"))
    assert len(bare.backups()) == 1


def test_saved_at_is_an_aware_utc_time(initialised: StateStore) -> None:
    before = datetime.now(UTC)
    initialised.save(Orchestrator(), 2)
    after = datetime.now(UTC)

    document, _ = decode_state(initialised.path.read_bytes())
    saved_at = datetime.fromisoformat(document["saved_at"])

    assert saved_at.utcoffset() == timedelta(0)
    assert before <= saved_at <= after


def test_saves_rotate_backups_and_keep_exactly_keep_backups(project_dir: Path) -> None:
    store = StateStore(project_dir / ".coditect" / "state", keep_backups=5)
    for revision in range(2, 14):
        store.save(Orchestrator(make_tasks(f"r{revision}", 2)), revision)
        # After every save the newest backup is the state file, byte for byte.
        assert newest_backup(store).read_bytes() == store.path.read_bytes()
        assert len(store.backups()) == min(5, revision)

    backups = store.backups()
    assert [b.revision for b in backups] == [13, 12, 11, 10, 9]
    assert all(b.valid for b in backups)
    assert len(list(store.backups_dir.iterdir())) == 5


def test_default_keeps_the_last_20_backups(initialised: StateStore) -> None:
    assert initialised.keep_backups == 20
    for revision in range(2, 26):
        initialised.save(Orchestrator(), revision)

    assert [b.revision for b in initialised.backups()] == list(range(25, 5, -1))


def test_a_single_kept_backup_is_the_state(initialised: StateStore) -> None:
    one = StateStore(initialised.dir, keep_backups=1)
    for revision in range(2, 5):
        one.save(Orchestrator(make_tasks(str(revision))), revision)
        assert len(one.backups()) == 1
        assert newest_backup(one).read_bytes() == one.path.read_bytes()


def test_backups_sort_in_save_order_even_when_the_clock_goes_back(initialised: StateStore) -> None:
    """Backups made while the clock was ahead (here: renamed to a future time) must not
    outrank later saves, or pruning deletes the newest save and recovery loses it."""
    small = StateStore(initialised.dir, keep_backups=2)
    ahead = small.save(Orchestrator(make_tasks("ahead")), 2)
    future = datetime.now(UTC) + timedelta(hours=1)
    ahead.rename(ahead.with_name(f"{future:%Y%m%dT%H%M%S.%fZ}-r000002.json"))

    for revision in (3, 4):
        small.save(Orchestrator(make_tasks(f"after{revision}")), revision)
        assert newest_backup(small).read_bytes() == small.path.read_bytes()

    assert [b.revision for b in small.backups()] == [4, 3]
    small.path.write_bytes(b"garbage")
    assert dicts(small.load().orchestrator) == as_dicts(make_tasks("after4"))


def test_backup_names_ignore_foreign_files(initialised: StateStore) -> None:
    """A file someone dropped among the backups neither breaks saving nor hides saves."""
    (initialised.backups_dir / "zz-notes.json").write_text("{}")
    initialised.save(Orchestrator(make_tasks("n")), 2)

    assert "zz-notes.json" not in [b.path.name for b in initialised.backups()]
    assert initialised.backups()[0].path.read_bytes() == initialised.path.read_bytes()
    initialised.path.write_bytes(b"")
    assert dicts(initialised.load().orchestrator) == as_dicts(make_tasks("n"))


def test_racing_saves_leave_the_last_one_newest(saved: StateStore) -> None:
    """Two saves that start together: the one that gets the lock last is the state, and
    its backup must be the newest, whatever moment each save started at."""
    other = StateStore(saved.dir)
    started = threading.Event()

    def late_save() -> None:
        started.set()
        other.save(Orchestrator(make_tasks("late")), 5)

    with saved.locked():
        thread = threading.Thread(target=late_save)
        thread.start()
        started.wait()
        time.sleep(0.3)  # the thread is now waiting for the lock
        saved.save(Orchestrator(make_tasks("early")), 4)
    thread.join(timeout=30)

    assert dicts(saved.load().orchestrator) == as_dicts(make_tasks("late"))
    assert newest_backup(saved).read_bytes() == saved.path.read_bytes()


# -- loading and recovery --------------------------------------------------------------------------


def test_load_of_a_fresh_folder_is_empty(bare: StateStore) -> None:
    loaded = bare.load()

    assert loaded.orchestrator.tasks == {}
    assert loaded.revision == 0
    assert loaded.restored_from is None
    assert loaded.damaged is None
    assert loaded.problem == ""
    assert not bare.dir.exists()


def test_load_returns_the_last_save(saved: StateStore) -> None:
    loaded = saved.load()

    assert loaded.revision == 3
    assert dicts(loaded.orchestrator) == as_dicts(make_tasks("b", 4))
    assert (loaded.restored_from, loaded.damaged, loaded.problem) == (None, None, "")


def _flip_byte(data: bytes) -> bytes:
    at = data.index(b"b task 2")
    return data[:at] + b"B" + data[at + 1 :]


DAMAGE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "checksum mismatch": (_flip_byte, "checksum mismatch"),
    "truncated": (lambda data: data[: len(data) // 2], "checksum mismatch"),
    "truncated to nothing": (lambda data: b"", "not valid JSON"),
    "not json": (lambda data: b"\x00\x01 binary junk \xff", "not valid JSON"),
    "wrong schema version": (
        lambda data: seal({**parts(data)[0], "schema_version": 3}, *parts(data)[1:]),
        "schema version 3",
    ),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_load_restores_the_newest_backup(saved: StateStore, kind: str) -> None:
    damage, problem = DAMAGE[kind]
    newest = newest_backup(saved)
    backups_before = snapshot(saved.backups_dir)
    damaged_bytes = damage(saved.path.read_bytes())
    saved.path.write_bytes(damaged_bytes)

    loaded = saved.load()

    assert loaded.revision == 3
    assert dicts(loaded.orchestrator) == as_dicts(make_tasks("b", 4))
    assert loaded.restored_from == newest
    assert problem in loaded.problem
    # The damaged file is kept aside, byte for byte, and the state file is repaired.
    assert loaded.damaged is not None
    assert loaded.damaged.parent == saved.dir / "damaged"
    assert loaded.damaged.read_bytes() == damaged_bytes
    assert saved.path.read_bytes() == newest.read_bytes()
    assert snapshot(saved.backups_dir) == backups_before
    assert temp_files(saved.dir) == []
    # The repair is for good: the next load finds nothing wrong.
    again = saved.load()
    assert (again.restored_from, again.damaged, again.revision) == (None, None, 3)


def test_load_restores_a_missing_state_file(saved: StateStore) -> None:
    saved.path.unlink()

    loaded = saved.load()

    assert loaded.revision == 3
    assert dicts(loaded.orchestrator) == as_dicts(make_tasks("b", 4))
    assert loaded.restored_from == newest_backup(saved)
    assert loaded.damaged is None
    assert "missing" in loaded.problem
    assert saved.path.read_bytes() == newest_backup(saved).read_bytes()
    assert not saved.damaged_dir.exists()


def test_recovery_skips_damaged_backups(saved: StateStore) -> None:
    """The newest *valid* backup wins: a damaged newest backup is passed over."""
    newest, previous = (b.path for b in saved.backups()[:2])
    newest.write_bytes(newest.read_bytes()[:-40])
    saved.path.write_bytes(b"{}")

    loaded = saved.load()

    assert loaded.restored_from == previous
    assert loaded.revision == 2
    assert dicts(loaded.orchestrator) == as_dicts(make_tasks("a"))
    assert newest.exists()  # a damaged backup is left for inspection, not deleted


@pytest.mark.parametrize("state", ["damaged", "missing"])
def test_all_backups_damaged_raises_and_deletes_nothing(saved: StateStore, state: str) -> None:
    for backup in saved.backups():
        backup.path.write_bytes(backup.path.read_bytes().replace(b'"revision"', b'"revisiom"'))
    if state == "missing":
        saved.path.unlink()
    else:
        saved.path.write_bytes(saved.path.read_bytes()[:100])
    before = snapshot(saved.dir)

    with pytest.raises(StateCorruptedError) as info:
        saved.load()

    assert info.value.exit_code == ExitCode.CORRUPTED == 7
    assert "no valid backup" in info.value.message
    assert str(saved.backups_dir) in info.value.message
    assert "state rollback" in info.value.hint
    assert snapshot(saved.dir) == before
    assert not saved.damaged_dir.exists()


def test_load_reports_an_unreadable_state_file(saved: StateStore) -> None:
    saved.path.unlink()
    saved.path.mkdir()

    with pytest.raises(CoditectError) as info:
        saved.load()

    assert "cannot read" in info.value.message
    assert str(saved.path) in info.value.message


def test_a_reader_that_waited_for_a_repair_does_not_repair_again(saved: StateStore) -> None:
    """A load that found the file damaged re-checks it under the lock: if another process
    repaired or rewrote it meanwhile, that file is used and nothing is set aside."""
    saved.path.write_bytes(b"half a fi")
    holding = threading.Event()

    def rewrite_under_the_lock() -> None:
        with saved.locked():
            holding.set()
            time.sleep(0.3)  # the reader has seen the damage and waits for the lock
            saved.save(Orchestrator(make_tasks("fixed")), 4)

    writer = threading.Thread(target=rewrite_under_the_lock)
    writer.start()
    holding.wait()
    loaded = StateStore(saved.dir).load()
    writer.join(timeout=30)

    assert loaded.revision == 4
    assert dicts(loaded.orchestrator) == as_dicts(make_tasks("fixed"))
    assert (loaded.restored_from, loaded.damaged) == (None, None)
    assert not saved.damaged_dir.exists()


def test_loading_leaves_a_disabled_garbage_collector_disabled(saved: StateStore) -> None:
    """The store pauses garbage collection while it builds tasks, and restores it as it
    was: a caller that disabled it keeps it disabled."""
    gc.disable()
    try:
        assert dicts(saved.load().orchestrator) == as_dicts(make_tasks("b", 4))
        assert not gc.isenabled()
    finally:
        gc.enable()
    saved.load()
    assert gc.isenabled()


# -- transactions and the lock ---------------------------------------------------------------------


def test_transaction_saves_the_change_as_the_next_revision(saved: StateStore) -> None:
    with saved.transaction() as loaded:
        assert loaded.revision == 3
        loaded.orchestrator.add(AgentTask(id="t-new", title="New"))

    after = saved.load()
    assert after.revision == 4
    assert list(after.orchestrator.tasks)[-1] == "t-new"
    assert newest_backup(saved).read_bytes() == saved.path.read_bytes()


def test_transaction_that_raises_leaves_everything_as_it_was(saved: StateStore) -> None:
    before = snapshot(saved.dir)

    with pytest.raises(RuntimeError, match="boom"), saved.transaction() as loaded:
        loaded.orchestrator.add(AgentTask(id="t-new", title="New"))
        loaded.orchestrator.delete("t-b-1")
        raise RuntimeError("boom")

    assert snapshot(saved.dir) == before
    assert saved.load().revision == 3


def test_transaction_recovers_a_damaged_file_and_saves_on_top(saved: StateStore) -> None:
    saved.path.write_bytes(b"garbage")

    with saved.transaction() as loaded:
        assert loaded.restored_from is not None
        assert loaded.revision == 3
        loaded.orchestrator.add(AgentTask(id="t-new", title="New"))

    after = saved.load()
    assert after.revision == 4
    assert list(after.orchestrator.tasks) == [*(t.id for t in make_tasks("b", 4)), "t-new"]
    assert [p.read_bytes() for p in saved.damaged_dir.iterdir()] == [b"garbage"]


def test_transaction_holds_the_project_lock(saved: StateStore) -> None:
    outside = FileLock(saved.dir / "lock", timeout=0)

    with saved.transaction(), pytest.raises(Timeout):
        outside.acquire()

    with outside:
        pass


def test_a_held_lock_times_out_as_a_conflict(
    saved: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "LOCK_TIMEOUT_SECONDS", 0.2)
    impatient = StateStore(saved.dir)
    before = snapshot(saved.dir)

    with FileLock(saved.dir / "lock"), pytest.raises(ConflictError) as info:
        impatient.save(Orchestrator(make_tasks("x")), 9)

    assert "another coditect process" in info.value.message
    assert info.value.exit_code == ExitCode.INVALID
    assert snapshot(saved.dir) == before


# -- rollback --------------------------------------------------------------------------------------


def test_rollback_goes_back_to_the_previous_save(saved: StateStore) -> None:
    previous = saved.backups()[1]

    chosen, revision = saved.rollback()

    assert chosen.path == previous.path
    assert chosen.revision == 2
    assert revision == 4
    loaded = saved.load()
    assert loaded.revision == 4
    assert dicts(loaded.orchestrator) == as_dicts(make_tasks("a"))
    # The rollback is itself a save: it has its own backup, and older ones remain.
    assert newest_backup(saved).read_bytes() == saved.path.read_bytes()
    assert [b.revision for b in saved.backups()] == [4, 3, 2, 1]


def test_a_rollback_can_be_undone(saved: StateStore) -> None:
    saved.rollback()

    chosen, revision = saved.rollback()

    assert chosen.revision == 3
    assert revision == 5
    assert dicts(saved.load().orchestrator) == as_dicts(make_tasks("b", 4))


def test_rollback_to_a_named_backup(saved: StateStore) -> None:
    oldest = saved.backups()[-1]
    assert oldest.revision == 1

    chosen, revision = saved.rollback(oldest.path.name)

    assert chosen.path == oldest.path
    assert revision == 4
    loaded = saved.load()
    assert (loaded.revision, dicts(loaded.orchestrator)) == (4, [])


def test_rollback_to_an_unknown_name_changes_nothing(saved: StateStore) -> None:
    before = snapshot(saved.dir)

    with pytest.raises(NotFoundError) as info:
        saved.rollback("20990101T000000.000000Z-r000001.json")

    assert info.value.exit_code == ExitCode.NOT_FOUND
    assert "no backup named" in info.value.message
    assert "state backups" in info.value.hint
    assert snapshot(saved.dir) == before


def test_rollback_to_a_damaged_backup_changes_nothing(saved: StateStore) -> None:
    target = saved.backups()[1].path
    target.write_bytes(target.read_bytes()[:50])
    before = snapshot(saved.dir)

    with pytest.raises(StateCorruptedError) as info:
        saved.rollback(target.name)

    assert target.name in info.value.message
    assert snapshot(saved.dir) == before


def test_rollback_without_an_earlier_backup(bare: StateStore) -> None:
    bare.save(Orchestrator(make_tasks("only")), 1)
    before = snapshot(bare.dir)

    with pytest.raises(NotFoundError, match="no earlier valid backup"):
        bare.rollback()

    assert snapshot(bare.dir) == before


def test_rollback_skips_damaged_backups(saved: StateStore) -> None:
    saved.save(Orchestrator(make_tasks("c")), 4)
    middle = saved.backups()[1].path  # revision 3
    middle.write_bytes(b"{}")

    chosen, revision = saved.rollback()

    assert chosen.revision == 2
    assert revision == 5
    assert dicts(saved.load().orchestrator) == as_dicts(make_tasks("a"))


def test_rollback_with_a_damaged_state_file_restores_the_last_save(saved: StateStore) -> None:
    saved.path.write_bytes(b"not json")

    chosen, revision = saved.rollback()

    assert chosen.revision == 3
    assert revision == 4
    assert dicts(saved.load().orchestrator) == as_dicts(make_tasks("b", 4))


def test_rollback_goes_back_not_forward(saved: StateStore) -> None:
    """After a crash between writing a backup and replacing the state file, the newest
    backup is *newer* than the state; rolling back must still go to an older save."""
    in_flight = encode_state(as_dicts(make_tasks("in-flight")), 4, datetime.now(UTC))
    stamp = datetime.now(UTC) + timedelta(seconds=1)
    (saved.backups_dir / f"{stamp:%Y%m%dT%H%M%S.%fZ}-r000004.json").write_bytes(in_flight)

    chosen, revision = saved.rollback()

    assert chosen.revision == 2
    assert revision == 5
    assert dicts(saved.load().orchestrator) == as_dicts(make_tasks("a"))


# -- verify and backups ----------------------------------------------------------------------------


def test_verify_a_valid_state(saved: StateStore) -> None:
    state = saved.verify()

    assert state.valid
    assert (state.path, state.revision, state.tasks, state.problem) == (saved.path, 3, 4, "")
    assert state.saved_at is not None
    assert state.saved_at.utcoffset() == timedelta(0)


def test_verify_reports_damage_without_repairing(saved: StateStore) -> None:
    saved.path.write_bytes(_flip_byte(saved.path.read_bytes()))
    before = snapshot(saved.dir)

    state = saved.verify()

    assert not state.valid
    assert "checksum mismatch" in state.problem
    assert (state.revision, state.saved_at, state.tasks) == (None, None, None)
    assert snapshot(saved.dir) == before


def test_verify_reports_a_missing_state(saved: StateStore) -> None:
    saved.path.unlink()

    state = saved.verify()

    assert not state.valid
    assert state.problem == "missing"
    assert not saved.path.exists()


def test_backups_lists_newest_first_and_reports_problems(saved: StateStore) -> None:
    newest, middle, oldest = (b.path for b in saved.backups())
    middle.write_bytes(middle.read_bytes().replace(b"a task 0", b"a task X"))
    (saved.backups_dir / ".half-written.json").write_text("{")
    (saved.backups_dir / ".r.json.abc123.tmp").write_text("{")

    backups = saved.backups()

    assert [b.path for b in backups] == [newest, middle, oldest]
    assert [b.valid for b in backups] == [True, False, True]
    assert [b.revision for b in backups] == [3, None, 1]
    assert [b.tasks for b in backups] == [4, None, 0]
    assert "checksum mismatch" in backups[1].problem


def test_backups_reports_a_damaged_backup(saved: StateStore) -> None:
    (saved.backups_dir / "30000101T000000.000000Z-r999999.json").write_bytes(b"\x00garbage")

    first = saved.backups()[0]

    assert not first.valid
    assert first.problem
    assert first.revision is None


def test_backups_of_a_fresh_folder(bare: StateStore) -> None:
    assert bare.backups() == []
    assert bare.verify().problem == "missing"


def test_backup_to_dict(saved: StateStore) -> None:
    good, bad = saved.backups()[0], Backup(Path("/x/y.json"), None, None, None, "broken")
    assert good.saved_at is not None

    assert good.to_dict() == {
        "name": good.path.name,
        "path": str(good.path),
        "revision": 3,
        "saved_at": good.saved_at.isoformat(),
        "tasks": 4,
        "valid": True,
        "problem": "",
    }
    assert bad.to_dict() == {
        "name": "y.json",
        "path": "/x/y.json",
        "revision": None,
        "saved_at": None,
        "tasks": None,
        "valid": False,
        "problem": "broken",
    }


# -- atomic writes ---------------------------------------------------------------------------------


def test_atomic_write_creates_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "file.json"

    atomic_write(target, b"first")
    atomic_write(target, b"second")

    assert target.read_bytes() == b"second"
    assert list(tmp_path.iterdir()) == [target]


def _failing_on_call(real: Callable[..., Any], failing_call: int) -> Callable[..., Any]:
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == failing_call:
            raise OSError(5, "Input/output error")
        return real(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("function", ["fsync", "replace"])
def test_a_failed_atomic_write_keeps_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    target = tmp_path / "file.json"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, function, _failing_on_call(getattr(os, function), 1))

    with pytest.raises(OSError, match="Input/output error"):
        atomic_write(target, b"new")

    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_onto_a_directory_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()

    with pytest.raises(OSError):
        atomic_write(target, b"data")

    assert list(tmp_path.iterdir()) == [target]
    assert list(target.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_atomic_write_into_a_read_only_folder(tmp_path: Path) -> None:
    target = tmp_path / "file.json"
    target.write_bytes(b"old")
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            atomic_write(target, b"new")
        assert target.read_bytes() == b"old"
        assert list(tmp_path.iterdir()) == [target]
    finally:
        tmp_path.chmod(0o755)


def test_atomic_write_interrupted_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even Ctrl-C in the middle of a write removes the temp file."""
    target = tmp_path / "file.json"

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, b"new")

    assert list(tmp_path.iterdir()) == []


# A save makes four fsync calls: the backup's temp file, the backups folder, the state's
# temp file, the state folder. Whichever fails, the state is the old or the new one.
@pytest.mark.parametrize("failing_call", [1, 2, 3, 4])
def test_a_failed_save_leaves_the_old_or_the_new_state(
    saved: StateStore, monkeypatch: pytest.MonkeyPatch, failing_call: int
) -> None:
    before = snapshot(saved.dir)
    monkeypatch.setattr(os, "fsync", _failing_on_call(os.fsync, failing_call))

    with pytest.raises(OSError, match="Input/output error"):
        saved.save(Orchestrator(make_tasks("new")), 4)
    monkeypatch.undo()

    assert temp_files(saved.dir) == []
    loaded = saved.load()
    assert loaded.restored_from is None
    if failing_call <= 2:  # the backup's write failed: the new state is not the state
        assert dicts(loaded.orchestrator) == as_dicts(make_tasks("b", 4))
    if failing_call == 1:  # nothing at all was replaced
        assert snapshot(saved.dir) == before
    if failing_call == 3:  # the backup is written, the state file is still the old one
        assert saved.path.read_bytes() == before["tasks.json"]
        assert newest_backup(saved).read_bytes() != before["tasks.json"]
        assert dicts(loaded.orchestrator) == as_dicts(make_tasks("b", 4))
    if failing_call == 4:  # both replaced; only the final folder fsync failed
        assert dicts(loaded.orchestrator) == as_dicts(make_tasks("new"))
        assert newest_backup(saved).read_bytes() == saved.path.read_bytes()


# -- saving only what changed, and housekeeping ------------------------------------------


def test_a_transaction_that_changes_nothing_writes_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(Orchestrator(make_tasks("a")), 1)
    before = (store.path.read_bytes(), sorted(p.name for p in store.backups_dir.iterdir()))
    with store.transaction() as loaded:
        loaded.orchestrator.get("t-a-1")
        loaded.orchestrator.ready()
    after = (store.path.read_bytes(), sorted(p.name for p in store.backups_dir.iterdir()))
    assert after == before
    with store.transaction() as loaded:
        loaded.orchestrator.get("t-a-1").metadata["edited"] = "in place"
    assert store.load().revision == 2
    assert store.load().orchestrator.get("t-a-1").metadata["edited"] == "in place"


def test_a_save_removes_temp_files_left_by_a_killed_save(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(Orchestrator(make_tasks("a")), 1)
    leftovers = [tmp_path / ".tasks.json.abc123.tmp", store.backups_dir / ".x.json.q1.tmp"]
    for leftover in leftovers:
        leftover.write_bytes(b"half a state")
    store.save(Orchestrator(make_tasks("b")), 2)
    assert not any(p.exists() for p in leftovers)
    assert dicts(store.load().orchestrator) == as_dicts(make_tasks("b"))


def test_state_files_get_the_mode_a_plain_open_would_give(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    StateStore(tmp_path).save(Orchestrator(make_tasks("a")), 1)
    assert (tmp_path / "tasks.json").stat().st_mode & 0o777 == 0o666 & ~mask


def test_files_of_other_names_in_backups_are_not_backups(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(Orchestrator(make_tasks("a")), 1)
    (store.backups_dir / "mybackup.json").write_bytes(store.path.read_bytes())
    (store.backups_dir / "99991231T235959.999999Z-r000009.json").mkdir()
    store.path.write_bytes(b"damaged")
    loaded = store.load()
    assert loaded.restored_from is not None
    assert loaded.restored_from.name.endswith("-r000001.json")
    assert [b.path.name for b in store.backups()] == [loaded.restored_from.name]


def _version_1(tasks: list[dict[str, Any]]) -> bytes:
    document = {"revision": 4, "saved_at": MOMENT.isoformat(), "schema_version": 1}
    document["tasks"] = tasks
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    checksum = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return f'{{"checksum":"{checksum}",{canonical[1:]}\n'.encode()


def test_a_version_1_file_is_trusted_as_version_1_loads_trusted_it(tmp_path: Path) -> None:
    """Names that later versions refuse (an agent with a space) do not make a good file
    'damaged': that would roll the project back to an older backup."""
    task = make_tasks("old", 1)[0].to_dict()
    task.update(agent="qa team", tags=["needs review"], cost_usd=0)
    (tmp_path / "tasks.json").write_bytes(_version_1([task]))
    store = StateStore(tmp_path)

    loaded = store.load()

    assert loaded.restored_from is None
    (only,) = loaded.orchestrator.tasks.values()
    assert (only.agent, only.tags, only.cost_usd) == ("qa team", ["needs review"], 0)
    report = store.verify()
    assert not report.valid
    assert "agent must be a name" in report.problem


@pytest.mark.parametrize("version", [1, 2])
def test_a_repeated_task_id_is_damage(version: int) -> None:
    """Two tasks with one id would silently lose one of them."""
    first, second = make_tasks("r", 2)
    second.id = first.id
    if version == 1:
        data = _version_1([first.to_dict(), second.to_dict()])
    else:
        index = {
            "ids": [first.id] * 2,
            "status": ["in_progress", "pending"],
            "deps": [[], []],
            "priority": ["medium"] * 2,
            "hours": [None, None],
        }
        header = {"revision": 4, "saved_at": MOMENT.isoformat(), "schema_version": 2, "tasks": 2}
        data = seal(header, index, [first.to_compact_dict(), second.to_compact_dict()])
    for strict in (False, True):
        with pytest.raises(StateCorruptedError, match="two tasks have the same id"):
            decode_state(data, strict=strict)

"""Properties of the state store: arbitrary tasks round-trip; any damage is caught and healed."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from coditect.errors import StateCorruptedError
from coditect.tasks.model import AgentTask, Phase, Priority, Status
from coditect.tasks.orchestrator import Orchestrator
from coditect.tasks.statefile import decode_state, encode_state
from coditect.tasks.store import StateStore

PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,  # examples that save wait for fsync, whose time varies with the disk
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Examples that save and load: each waits for several fsyncs.
DISK_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=60)

# -- strategies ------------------------------------------------------------------------------------

text = st.text(max_size=40)
non_blank = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=offsets | st.just(UTC)
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=8,
)
names = st.from_regex(r"[^\s,{}=]+", fullmatch=True)  # agents and tags
transitions = st.fixed_dictionaries(
    {
        "at": moments.map(datetime.isoformat),
        "from": st.none() | st.sampled_from([s.value for s in Status]),
        "to": st.sampled_from([s.value for s in Status]),
        "note": text,
    }
)


@st.composite
def task_dicts(draw: st.DrawFn, task_id: str, earlier: list[str]) -> dict[str, Any]:
    """The dict form of a valid task, with every field drawn (optional ones often absent)."""
    optional_moment = st.none() | moments.map(datetime.isoformat)
    return {
        "id": task_id,
        "title": draw(non_blank),
        "description": draw(text),
        "agent": draw(st.none() | names),
        "priority": draw(st.sampled_from([p.value for p in Priority])),
        "phase": draw(st.sampled_from([p.value for p in Phase])),
        "status": draw(st.sampled_from([s.value for s in Status])),
        "dependencies": draw(
            st.lists(st.sampled_from(earlier), unique=True) if earlier else st.just([])
        ),
        "estimated_hours": draw(
            st.none() | st.floats(min_value=0.01, max_value=1e6, allow_infinity=False)
        ),
        "deliverables": draw(st.lists(text, max_size=2)),
        "success_criteria": draw(st.lists(text, max_size=2)),
        "acceptance": draw(st.none() | non_blank),
        "commands": draw(st.lists(text, max_size=2)),
        "tags": draw(st.lists(names, max_size=2)),
        "output_files": draw(st.lists(text, max_size=2)),
        "notes": draw(text),
        "section": draw(text),
        "error": draw(st.none() | text),
        "metadata": draw(st.dictionaries(text, json_values, max_size=3)),
        "attempts": draw(st.integers(min_value=0, max_value=1000)),
        "created_at": draw(moments.map(datetime.isoformat)),
        "started_at": draw(optional_moment),
        "completed_at": draw(optional_moment),
        "history": draw(st.lists(transitions, max_size=3)),
    }


@st.composite
def task_lists(draw: st.DrawFn, max_size: int = 5) -> list[AgentTask]:
    chosen = draw(st.lists(ids, unique=True, max_size=max_size))
    return [
        AgentTask.from_dict(draw(task_dicts(task_id, chosen[:i])))
        for i, task_id in enumerate(chosen)
    ]


def as_dicts(tasks: list[AgentTask] | Orchestrator) -> list[dict[str, Any]]:
    values = tasks.tasks.values() if isinstance(tasks, Orchestrator) else tasks
    return [task.to_dict() for task in values]


@contextmanager
def fresh_store() -> Iterator[StateStore]:
    """A store in its own temporary folder (hypothesis runs many examples per test)."""
    with tempfile.TemporaryDirectory(prefix="coditect-store-") as folder:
        yield StateStore(Path(folder) / "state", keep_backups=3)


def canonical(data: bytes) -> bytes:
    """The content of a state file: its header line independent of layout, then every
    other byte as it is."""
    header, _, rest = data.partition(b"\n")
    return orjson.dumps(orjson.loads(header), option=orjson.OPT_SORT_KEYS) + b"\n" + rest


# -- round trips -----------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(tasks=task_lists(), revision=st.integers(min_value=0, max_value=10**9), at=moments)
def test_encode_decode_round_trips(tasks: list[AgentTask], revision: int, at: datetime) -> None:
    document, decoded = decode_state(encode_state(as_dicts(tasks), revision, at))

    assert as_dicts(decoded) == as_dicts(tasks)
    assert document["revision"] == revision
    assert datetime.fromisoformat(document["saved_at"]) == at


@DISK_SETTINGS
@given(first=task_lists(), second=task_lists())
def test_save_load_round_trips(first: list[AgentTask], second: list[AgentTask]) -> None:
    with fresh_store() as store:
        store.save(Orchestrator(first), 1)
        assert as_dicts(store.load().orchestrator) == as_dicts(first)

        store.save(Orchestrator(second), 2)
        loaded = store.load()

        assert as_dicts(loaded.orchestrator) == as_dicts(second)
        assert loaded.revision == 2
        assert loaded.restored_from is None
        assert store.backups()[0].path.read_bytes() == store.path.read_bytes()


# -- damage ----------------------------------------------------------------------------------------


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> tuple[str, bytes]:
    """``data`` with one random change: a byte replaced, a truncation, an insertion, or a
    stretch overwritten with random bytes."""
    kind = draw(st.sampled_from(["replace", "truncate", "insert", "overwrite"]))
    if kind == "replace":
        at = draw(st.integers(0, len(data) - 1))
        byte = draw(st.integers(0, 255).filter(lambda b: b != data[at]))
        return kind, data[:at] + bytes([byte]) + data[at + 1 :]
    if kind == "truncate":
        return kind, data[: draw(st.integers(0, len(data) - 1))]
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return kind, data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    at = draw(st.integers(0, len(data) - 1))
    junk = draw(st.binary(min_size=1, max_size=64).filter(lambda j: data[at : at + len(j)] != j))
    return kind, data[:at] + junk + data[at + len(junk) :]


def check_damage_is_caught_and_healed(
    store: StateStore, last: list[AgentTask], mutated: bytes
) -> None:
    original = store.path.read_bytes()
    assert mutated != original

    try:
        decode_state(mutated)
    except StateCorruptedError:
        caught = True
    else:
        caught = False
        # Not caught is allowed only when no content changed: the checksum covers the
        # header's canonical encoding, so layout inside the header line (whitespace
        # between tokens, -0 for 0) may change. Nothing else may.
        assert canonical(mutated) == canonical(original)
    event(f"caught={caught}")

    store.path.write_bytes(mutated)
    loaded = store.load()

    assert as_dicts(loaded.orchestrator) == as_dicts(last)
    assert loaded.revision == 2
    if caught:
        assert loaded.restored_from == store.backups()[0].path
        assert loaded.damaged is not None
        assert loaded.damaged.read_bytes() == mutated
        assert store.path.read_bytes() == original
    else:
        assert loaded.restored_from is None


@DISK_SETTINGS
@given(before=task_lists(max_size=2), last=task_lists(max_size=5), data=st.data())
def test_any_damage_is_caught_and_the_last_save_restored(
    before: list[AgentTask], last: list[AgentTask], data: st.DataObject
) -> None:
    with fresh_store() as store:
        store.save(Orchestrator(before), 1)
        store.save(Orchestrator(last), 2)
        kind, mutated = data.draw(damaged(store.path.read_bytes()))
        event(kind)

        check_damage_is_caught_and_healed(store, last, mutated)


@PROPERTY_SETTINGS
@given(blob=st.binary(max_size=300))
def test_arbitrary_bytes_never_decode_as_state(blob: bytes) -> None:
    try:
        decode_state(blob)
    except StateCorruptedError:
        return
    raise AssertionError(f"{blob!r} decoded as a state")


@PROPERTY_SETTINGS
@given(value=json_values)
def test_arbitrary_json_never_decodes_as_state(value: Any) -> None:
    """Without the right checksum no JSON document is accepted, whatever its shape."""
    try:
        decode_state(orjson.dumps(value))
    except StateCorruptedError:
        return
    raise AssertionError(f"{value!r} decoded as a state")

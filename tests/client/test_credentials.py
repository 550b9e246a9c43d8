"""Credentials: the 0600 file store (atomic, locked), keyring selection, damaged entries."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coditect.client.credentials import (
    Credentials,
    FileStore,
    Session,
    open_store,
)
from coditect.errors import ExitCode, StateCorruptedError

SESSION = Session(
    server="http://127.0.0.1:8000",
    email="ada@example.com",
    user_id="u-1",
    session_id="s-1",
    access_token="access-token",
    refresh_token="refresh-token",
    refresh_expires_at="2026-12-01T00:00:00+00:00",
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_the_file_is_readable_only_by_the_user(tmp_path: Path) -> None:
    previous = os.umask(0)  # the most permissive umask must not leak into the file
    try:
        store = FileStore(tmp_path / "home" / "credentials.json")
        store.set("session@x", "secret")
    finally:
        os.umask(previous)
    assert _mode(store.path) == 0o600
    assert _mode(store.path.parent) == 0o700
    store.path.chmod(0o644)  # loosened by hand: the next write tightens it again
    store.set("other@x", "more")
    assert _mode(store.path) == 0o600


def test_set_get_delete(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "credentials.json")
    assert store.get("a") is None
    store.set("a", "1")
    store.set("b", "2")
    store.set("a", "3")
    assert (store.get("a"), store.get("b")) == ("3", "2")
    assert json.loads(store.path.read_text()) == {"version": 1, "secrets": {"a": "3", "b": "2"}}
    assert store.delete("a") is True
    assert store.delete("a") is False
    assert store.delete("b") is True
    assert not store.path.exists()  # nothing left: no file
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_sessions_and_licence_keys_are_kept_per_server(tmp_path: Path) -> None:
    credentials = Credentials(FileStore(tmp_path / "credentials.json"))
    credentials.save_session(SESSION)
    credentials.save_licence_key(SESSION.server, "CDT-KEY")
    assert credentials.session(SESSION.server) == SESSION
    assert credentials.session("https://other.example.com") is None
    assert credentials.forget_session(SESSION.server) is True
    assert credentials.session(SESSION.server) is None
    assert credentials.licence_key(SESSION.server) == "CDT-KEY"  # signing out keeps the licence


def test_a_damaged_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("{not json")
    store = FileStore(path)
    with pytest.raises(StateCorruptedError) as caught:
        store.get("a")
    assert caught.value.exit_code == ExitCode.CORRUPTED
    assert str(path) in caught.value.message and "login" in caught.value.hint
    with pytest.raises(StateCorruptedError):
        store.set("a", "1")
    assert path.read_text() == "{not json"


def test_a_damaged_session_entry_is_reported(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "credentials.json")
    store.set(f"session@{SESSION.server}", '{"email": "only this"}')
    with pytest.raises(StateCorruptedError, match="sign-in is damaged"):
        Credentials(store).session(SESSION.server)


WRITER = """
import sys
from pathlib import Path
from coditect.client.credentials import FileStore
store = FileStore(Path(sys.argv[1]))
for i in range(int(sys.argv[3])):
    store.set(sys.argv[2] + str(i), sys.argv[2] * 20000)
"""


def test_writes_are_atomic_and_locked(tmp_path: Path) -> None:
    """Four processes write at once while this one reads: every read sees a whole file,
    and no write is lost (the read-modify-write runs under the lock)."""
    path = tmp_path / "credentials.json"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "15"])
        for name in ("a", "b", "c", "d")
    ]
    reads = 0
    while any(w.poll() is None for w in writers):
        if path.exists():
            data = json.loads(path.read_bytes())  # never a half-written file
            assert set(data) == {"version", "secrets"}
            reads += 1
        time.sleep(0.005)
    assert [w.returncode for w in writers] == [0, 0, 0, 0]
    secrets = json.loads(path.read_text())["secrets"]
    assert sorted(secrets) == sorted(f"{n}{i}" for n in "abcd" for i in range(15))
    assert reads > 0


STORE_SCRIPT = """
from coditect.client.credentials import open_store
import sys
store = open_store(sys.argv[1])
store.set("session@http://s", "the-secret")
print(store.location.kind, store.location.detail, store.get("session@http://s"))
"""


def _store_in_subprocess(
    mode: str, backend: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": backend,
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
    }
    return subprocess.run(
        [sys.executable, "-c", STORE_SCRIPT, mode],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_no_keyring_means_the_file(tmp_path: Path, user_home: Path) -> None:
    result = _store_in_subprocess("auto", "keyring.backends.fail.Keyring", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["file", str(user_home / "credentials.json"), "the-secret"]
    assert (user_home / "credentials.json").exists()


def test_a_keyring_gets_the_tokens_not_the_file(tmp_path: Path, user_home: Path) -> None:
    """A real keyring backend (keyrings.alt's file keyring, chosen explicitly as users do
    with PYTHON_KEYRING_BACKEND) receives the secret; no credentials file is written."""
    result = _store_in_subprocess("auto", "keyrings.alt.file.PlaintextKeyring", tmp_path)
    assert result.returncode == 0, result.stderr
    kind, *_name, secret = result.stdout.split()
    assert (kind, secret) == ("keyring", "the-secret")
    assert not (user_home / "credentials.json").exists()
    kept = (tmp_path / "xdg-data" / "python_keyring" / "keyring_pass.cfg").read_text()
    assert "[coditect]" in kept


def test_forcing_a_missing_keyring_is_a_clear_error(tmp_path: Path) -> None:
    result = _store_in_subprocess("keyring", "keyring.backends.fail.Keyring", tmp_path)
    assert result.returncode != 0
    assert "no usable OS keyring" in result.stderr


def test_file_mode_ignores_the_keyring(tmp_path: Path, user_home: Path) -> None:
    assert open_store("file").location.kind == "file"
    result = _store_in_subprocess("file", "keyrings.alt.file.PlaintextKeyring", tmp_path)
    assert result.stdout.split()[0] == "file"

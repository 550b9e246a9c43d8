"""Local features need no account and no network; cloud commands fail clearly without one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli


class Trap:
    """A listening socket that records every connection made to it."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


@pytest.fixture
def traps(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Trap, Trap]]:
    """The cloud address and every proxy point at traps: any request would be counted."""
    service, proxy = Trap(), Trap()
    monkeypatch.setenv("CODITECT_CLOUD_SERVER", f"http://127.0.0.1:{service.port}")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    yield service, proxy
    service.close()
    proxy.close()


def test_tasks_and_runs_never_touch_the_network(
    traps: tuple[Trap, Trap], tmp_path: Path, user_home: Path
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    run_cli("init", cwd=root)
    first = json.loads(
        run_cli(
            "task",
            "add",
            "Write",
            "--command",
            "echo one > one.txt",
            "--executor",
            "script",
            "--json",
            cwd=root,
        ).stdout
    )
    run_cli(
        "task",
        "add",
        "Check",
        "--command",
        "test -f one.txt",
        "--executor",
        "script",
        "--depends",
        first["id"],
        cwd=root,
    )
    run_cli("task", "list", cwd=root)
    run_cli("run", cwd=root)
    report = json.loads(run_cli("report", "--json", cwd=root).stdout)
    assert (root / "one.txt").read_text() == "one\n"
    assert report["by_status"] == {"completed": 2}
    status = json.loads(run_cli("license", "status", "--json", cwd=root).stdout)
    assert status["state"] == "free" and status["plan"] == "free"
    service, proxy = traps
    assert (service.connections, proxy.connections) == (0, 0)
    assert not (user_home / "credentials.json").exists()
    # the traps work: a cloud command does reach the (fake) service address
    run_cli("user", "login", "a@example.com", "--password-stdin", input="pw\n", check=False)
    assert service.connections + proxy.connections > 0


def test_a_gated_command_without_a_licence_names_the_plan(traps: tuple[Trap, Trap]) -> None:
    result = run_cli("license", "features", "--check", "advanced_analytics", check=False)
    assert result.returncode == 5
    assert "advanced_analytics needs the Pro plan or higher" in result.stderr
    assert "this machine is on Free" in result.stderr
    assert "coditect license activate KEY" in result.stderr
    assert traps[0].connections == 0  # no licence: nothing to ask the service about


def test_not_signed_in_is_denied_without_a_request(traps: tuple[Trap, Trap]) -> None:
    result = run_cli("user", "whoami", check=False)
    assert result.returncode == 5
    assert "not signed in to http://127.0.0.1:" in result.stderr
    assert "coditect user login" in result.stderr
    assert traps[0].connections == 0


def test_the_cloud_settings_are_checked(user_home: Path) -> None:
    (user_home / "config.toml").write_text('[cloud]\nserver = "localhost:8000"\n')
    result = run_cli("user", "whoami", check=False)
    assert result.returncode == 4 and "cloud.server" in result.stderr
    (user_home / "config.toml").write_text('[cloud]\ncredentials = "vault"\n')
    result = run_cli("user", "whoami", check=False)
    assert result.returncode == 4 and "auto, keyring, file" in result.stderr


def test_the_help_does_not_load_the_cloud_client() -> None:
    code = (
        "import sys\n"
        "from coditect.cli import app\n"
        "print(','.join(m for m in sys.modules if m.startswith(('keyring', 'coditect.client'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def _read_until(fd: int, seen: bytearray, needle: bytes | None, timeout: float = 60) -> None:
    """Read the terminal into ``seen`` until ``needle`` shows, or (``None``) until it closes."""
    import select
    import time

    deadline = time.monotonic() + timeout
    while needle is None or needle not in seen:
        assert time.monotonic() < deadline, f"waited for {needle!r}; got {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                assert needle is None, f"closed before {needle!r}; got {bytes(seen)!r}"
                return
            seen.extend(chunk)


@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal")
def test_passwords_are_read_without_echo(traps: tuple[Trap, Trap]) -> None:
    import pty

    main, secondary = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "coditect", "user", "login", "a@example.com"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    seen = bytearray()
    try:
        # click prints "Password:", then getpass turns the echo off and prints " "
        _read_until(main, seen, b"Password: ")
        os.write(main, b"typed-in-secret\n")
        _read_until(main, seen, None)
    finally:
        os.close(main)
    assert child.wait(timeout=60) == 6  # the password was read, then the (trap) service failed
    assert b"typed-in-secret" not in seen
    assert sum(trap.connections for trap in traps) >= 1  # via the (trap) proxy

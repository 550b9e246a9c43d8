"""``coditect server`` as a real subprocess, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from coditect.cloud.db import Database
from coditect.cloud.models.base import utcnow
from coditect.cloud.models.session import AuthSession
from coditect.cloud.models.user import User
from coditect.cloud.openapi import render_spec
from tests.cloud.helpers import PASSWORD
from tests.conftest import run_cli

ADMIN_PASSWORD = "an admin passphrase"


@pytest.fixture
def server_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CODITECT_DATABASE_URL", database_url)
    return database_url


def _users(url: str) -> list[tuple[str, str]]:
    database = Database(url)
    try:
        with database.session() as db:
            return [(u.email, u.role) for u in db.scalars(select(User).order_by(User.email))]
    finally:
        database.dispose()


def test_migrate_is_idempotent(server_env: str) -> None:
    first = json.loads(run_cli("server", "migrate", "--json").stdout)
    assert first["before"] is None and first["changed"] is True
    again = run_cli("server", "migrate")
    assert again.stdout.startswith(f"Already at {first['after']}")
    down = run_cli("server", "migrate", "--down", "--to", "base", "--json")
    assert json.loads(down.stdout)["after"] is None
    assert run_cli("server", "migrate", "--down", check=False).returncode == 2


def test_commands_need_a_migrated_database(server_env: str) -> None:
    result = run_cli(
        "server",
        "create-admin",
        "a@example.com",
        "--password-stdin",
        input=ADMIN_PASSWORD,
        check=False,
    )
    assert result.returncode == 4
    assert "coditect server migrate" in result.stderr


def test_create_admin(server_env: str) -> None:
    run_cli("server", "migrate")
    short = run_cli(
        "server",
        "create-admin",
        "root@example.com",
        "--password-stdin",
        input="short\n",
        check=False,
    )
    assert short.returncode == 4 and "12 characters" in short.stderr
    assert _users(server_env) == []
    made = run_cli(
        "server",
        "create-admin",
        " Root@Example.com",
        "--password-stdin",
        "--json",
        input=ADMIN_PASSWORD + "\n",
    )
    assert json.loads(made.stdout)["role"] == "admin"
    twice = run_cli(
        "server",
        "create-admin",
        "root@example.com",
        "--password-stdin",
        input=ADMIN_PASSWORD + "\n",
        check=False,
    )
    assert twice.returncode == 4 and "--promote" in twice.stderr
    missing = run_cli("server", "create-admin", "nobody@example.com", "--promote", check=False)
    assert missing.returncode == 3
    bad = run_cli(
        "server",
        "create-admin",
        "not-an-email",
        "--password-stdin",
        input=ADMIN_PASSWORD,
        check=False,
    )
    assert bad.returncode == 4
    no_tty = run_cli("server", "create-admin", "x@example.com", check=False, input="")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    assert _users(server_env) == [("root@example.com", "admin")]


def test_seed_loads_plans_and_a_demo_account(server_env: str) -> None:
    run_cli("server", "migrate")
    first = json.loads(run_cli("server", "seed", "--json").stdout)
    assert first["plans"]["created"]
    assert first["demo_user"]["email"] == "demo@example.com"
    assert first["demo_password"]
    second = json.loads(run_cli("server", "seed", "--json").stdout)
    assert second["plans"]["created"] == [] and second["demo_password"] is None
    text = run_cli("server", "seed").stdout
    assert "plans unchanged:" in text and "demo@example.com already exists" in text
    assert _users(server_env) == [("demo@example.com", "user")]


def test_backup_and_restore(server_env: str, tmp_path: Path) -> None:
    run_cli("server", "migrate")
    run_cli("server", "create-admin", "root@example.com", "--password-stdin", input=ADMIN_PASSWORD)
    target = tmp_path / "backups" / "coditect.backup"
    made = json.loads(run_cli("server", "backup", str(target), "--json").stdout)
    assert made["bytes"] == target.stat().st_size > 0
    run_cli(
        "server", "create-admin", "second@example.com", "--password-stdin", input=ADMIN_PASSWORD
    )
    refused = run_cli("server", "restore", str(target), check=False, input="")
    assert refused.returncode == 2
    assert len(_users(server_env)) == 2
    run_cli("server", "restore", str(target), "--yes")
    assert _users(server_env) == [("root@example.com", "admin")]
    stray = tmp_path / "stray.txt"
    stray.write_text("nothing")
    assert run_cli("server", "restore", str(stray), "--yes", check=False).returncode == 4
    assert run_cli("server", "backup", str(target), "--format", "zip", check=False).returncode == 2


def test_cleanup_deletes_what_expired(server_env: str) -> None:
    run_cli("server", "migrate")
    run_cli("server", "create-admin", "root@example.com", "--password-stdin", input=ADMIN_PASSWORD)
    database = Database(server_env)
    try:
        with database.transaction() as db:
            user = db.scalar(select(User))
            assert user is not None
            now = utcnow()
            for number, expires in enumerate((now - timedelta(seconds=1), now + timedelta(days=1))):
                db.add(
                    AuthSession(
                        user_id=user.id, refresh_token_hash=f"{number:064d}", expires_at=expires
                    )
                )
        counts = json.loads(run_cli("server", "cleanup", "--json").stdout)
        assert counts == {"sessions": 1, "revoked_tokens": 0, "reset_tokens": 0}
        again = run_cli("server", "cleanup").stdout
        assert again.strip() == "0 sessions, 0 revoked tokens, 0 reset tokens deleted."
        with database.session() as db:
            assert len(list(db.scalars(select(AuthSession)))) == 1
    finally:
        database.dispose()


def test_unreachable_database_exits_6(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODITECT_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = run_cli("server", "migrate", check=False)
    assert result.returncode == 6
    assert "cannot use the database" in result.stderr and "Traceback" not in result.stderr


def test_invalid_settings_exit_4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODITECT_ENVIRONMENT", "production")
    result = run_cli("server", "migrate", check=False)
    assert result.returncode == 4
    assert "CODITECT_SECRET_KEY" in result.stderr


def test_openapi_command_prints_the_document(tmp_path: Path) -> None:
    assert run_cli("server", "openapi").stdout == render_spec()
    target = tmp_path / "api" / "openapi.json"
    run_cli("server", "openapi", "--output", str(target))
    assert target.read_text(encoding="utf-8") == render_spec()


def test_the_cli_does_not_import_the_server_at_startup() -> None:
    code = (
        "import sys, coditect.cli; "
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'coditect.cloud') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_server_run_serves_http(server_env: str, tmp_path: Path) -> None:
    """A real ``coditect server run`` on 127.0.0.1 with two workers, talked to over HTTP.

    It runs in development without secrets: the command invents them once, so a token
    signed by one worker is accepted by the other.
    """
    if not server_env.startswith("sqlite"):
        run_cli("server", "migrate")  # PostgreSQL is migrated explicitly; SQLite on start
    port = _free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "coditect",
                "server",
                "run",
                "--port",
                str(port),
                "--workers",
                "2",
                "--log-level",
                "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_ready(f"http://127.0.0.1:{port}", server, log_path)
            _talk_to(f"http://127.0.0.1:{port}/api/v1")
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    output = log_path.read_text()
    assert server.returncode == 0, output
    assert "CODITECT_SECRET_KEY is not set" in output


def _wait_until_ready(base: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)


def _talk_to(api: str) -> None:
    user = {"email": "http@example.com", "password": PASSWORD}
    with httpx.Client(base_url=api) as http:
        assert http.post("/auth/register", json=user).status_code == 201
        tokens = http.post("/auth/login", json=user).json()
        assert http.get("/nowhere").json()["error"]["code"] == "not_found"
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    for _ in range(8):  # new connections, spread over both workers
        me = httpx.get(f"{api}/auth/me", headers=headers, timeout=10)
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "http@example.com"

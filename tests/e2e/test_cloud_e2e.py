"""The cloud client end to end: a real `coditect server run` on 127.0.0.1 and the real
`coditect` CLI as subprocesses, on SQLite and on PostgreSQL.

Each client "machine" is a user dir of its own (CODITECT_HOME) with keyring's fail
backend, so tokens go to the 0600 file (and never to a developer's real keyring). The
PostgreSQL run gets a database of its own, created on the `postgres` database and
dropped afterwards; it skips without CODITECT_TEST_DATABASE_URL and fails under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the end-to-end cloud tests need the server extra")

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

TEST_DATABASE_URL = os.environ.get("CODITECT_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "an admin passphrase"
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODITECT_")}
    return {**env, "NO_COLOR": "1", **extra}


def _coditect(
    env: dict[str, str], *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coditect", *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def _fails(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stderr


class Server:
    """`coditect server run` as a subprocess, stopped and started at will."""

    def __init__(self, database_url: str, folder: Path) -> None:
        pem = Ed25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "server.log"
        self.env = _clean_env(
            CODITECT_HOME=str(folder / "server-home"),
            CODITECT_ENVIRONMENT="test",
            CODITECT_DATABASE_URL=database_url,
            CODITECT_SECRET_KEY=secrets.token_urlsafe(48),
            CODITECT_LICENCE_SIGNING_KEY=pem.decode(),
            CODITECT_ARGON2_MEMORY_KIB="1024",  # cheap hashing: allowed in "test" only
            CODITECT_ARGON2_TIME_COST="1",
            CODITECT_RATE_LIMIT_REGISTER_IP="1000/hour",
            CODITECT_RATE_LIMIT_LOGIN_IP="1000/minute",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def prepare(self) -> None:
        _ok(_coditect(self.env, "server", "migrate"))
        _ok(_coditect(self.env, "server", "seed"))
        _ok(
            _coditect(
                self.env,
                "server",
                "create-admin",
                ADMIN_EMAIL,
                "--password-stdin",
                input=ADMIN_PASSWORD + "\n",
            )
        )

    def start(self) -> None:
        command = [sys.executable, "-m", "coditect", "server", "run", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--log-level", "warning"], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def admin(self) -> httpx.Client:
        """An HTTP client signed in as the administrator."""
        login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        token = httpx.post(f"{self.url}/api/v1/auth/login", json=login).json()["access_token"]
        return httpx.Client(
            base_url=f"{self.url}/api/v1", headers={"Authorization": f"Bearer {token}"}
        )

    def issue_licence(self, email: str, plan: str) -> dict[str, Any]:
        """The administrator issues a licence through the admin API."""
        with self.admin() as admin:
            users = admin.get("/admin/users", params={"email": email}).json()["items"]
            issued = admin.post("/admin/licenses", json={"user_id": users[0]["id"], "plan": plan})
            assert issued.status_code == 201, issued.text
            licence: dict[str, Any] = issued.json()
            return licence

    def licence(self, licence_id: str) -> dict[str, Any]:
        with self.admin() as admin:
            found: dict[str, Any] = admin.get(f"/admin/licenses/{licence_id}").json()
            return found


@contextmanager
def _postgres_database(base_url: str) -> Iterator[str]:
    """A fresh database for this run, on the test PostgreSQL server."""
    import psycopg
    from sqlalchemy import make_url

    url = make_url(base_url)
    name = f"coditect_e2e_{uuid.uuid4().hex[:12]}"
    admin_url = url.set(drivername="postgresql", database="postgres")
    conninfo = admin_url.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp(f"cloud-{request.param}")
    if request.param == "sqlite":
        database: Any = nullcontext(f"sqlite:///{folder / 'cloud.db'}")
    elif TEST_DATABASE_URL:
        database = _postgres_database(TEST_DATABASE_URL)
    elif IN_CI:
        pytest.fail("PostgreSQL is not configured: set CODITECT_TEST_DATABASE_URL (CI=true)")
    else:
        pytest.skip("PostgreSQL is not configured: set CODITECT_TEST_DATABASE_URL")
    with database as url:
        running = Server(url, folder)
        running.prepare()
        running.start()
        try:
            yield running
        finally:
            running.stop()


class Machine:
    """One client machine: a user dir of its own, talking to ``server``."""

    def __init__(self, folder: Path, server_url: str) -> None:
        self.home = folder
        self.env = _clean_env(
            CODITECT_HOME=str(folder),
            CODITECT_CLOUD_SERVER=server_url,
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        )

    def __call__(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return _coditect(self.env, *args, input=input)

    def json(self, *args: str) -> Any:
        return json.loads(_ok(self(*args, "--json")).stdout)

    def sign_up(self, email: str, password: str = PASSWORD) -> None:
        _ok(self("user", "register", email, "--password-stdin", input=password + "\n"))
        _ok(self("user", "login", email, "--password-stdin", input=password + "\n"))

    @property
    def credentials(self) -> Path:
        return self.home / "credentials.json"

    @property
    def licence_cache(self) -> Path:
        return self.home / "licence" / "licence.json"


def _email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@example.com"


def _stored_session(machine: Machine, server_url: str) -> dict[str, Any]:
    secrets_ = json.loads(machine.credentials.read_text())["secrets"]
    session: dict[str, Any] = json.loads(secrets_[f"session@{server_url}"])
    return session


def _store_session(machine: Machine, server_url: str, session: dict[str, Any]) -> None:
    data = json.loads(machine.credentials.read_text())
    data["secrets"][f"session@{server_url}"] = json.dumps(session)
    machine.credentials.write_text(json.dumps(data))


def test_account_lifecycle(server: Server, tmp_path: Path) -> None:
    laptop = Machine(tmp_path / "laptop", server.url)
    email = _email("ada")
    _ok(laptop("user", "register", email, "--password-stdin", input=PASSWORD + "\n"))
    again = laptop("user", "register", email, "--password-stdin", input=PASSWORD + "\n")
    assert "already exists" in _fails(again, 4)

    wrong = laptop("user", "login", email, "--password-stdin", input="not the password\n")
    assert "wrong email or password" in _fails(wrong, 5)
    assert not laptop.credentials.exists()

    login = _ok(laptop("user", "login", email, "--password-stdin", input=PASSWORD + "\n"))
    assert f"credentials: file {laptop.credentials}" in login.stdout
    assert stat.S_IMODE(laptop.credentials.stat().st_mode) == 0o600
    assert PASSWORD not in laptop.credentials.read_text()

    whoami = _ok(laptop("user", "whoami")).stdout
    assert email in whoami and f"credentials: file {laptop.credentials}" in whoami
    me = laptop.json("user", "whoami")
    assert (me["email"], me["role"], me["server"]) == (email, "user", server.url)
    assert me["credentials"] == {"store": "file", "path": str(laptop.credentials)}
    [session] = laptop.json("user", "sessions")
    assert session["current"] is True and session["id"] == me["session_id"]

    # A rejected access token (401) is refreshed once, and the rotated pair is stored.
    before = _stored_session(laptop, server.url)
    _store_session(laptop, server.url, {**before, "access_token": "expired.or.forged"})
    assert laptop.json("user", "whoami")["email"] == email
    after = _stored_session(laptop, server.url)
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] not in (before["access_token"], "expired.or.forged")

    _refresh_together(laptop, server.url, email)

    # A second device; this one ends it, and that device finds itself signed out.
    phone = Machine(tmp_path / "phone", server.url)
    _ok(phone("user", "login", email, "--password-stdin", input=PASSWORD + "\n"))
    sessions = laptop.json("user", "sessions")
    assert len(sessions) == 2
    [other] = [s for s in sessions if not s["current"]]
    ended = laptop.json("user", "sessions", "--end", other["id"])
    assert ended == {"ended": other["id"], "signed_out": False}
    assert "session" in _fails(phone("user", "whoami"), 5)
    assert "not signed in" in _fails(phone("user", "whoami"), 5)  # its tokens were dropped

    logout = _ok(laptop("user", "logout"))
    assert "Signed out" in logout.stdout
    assert "not signed in" in _fails(laptop("user", "whoami"), 5)
    assert "Not signed in" in _ok(laptop("user", "logout")).stdout
    revoked = httpx.get(
        f"{server.url}/api/v1/auth/me",
        headers={"Authorization": f"Bearer {after['access_token']}"},
    )
    assert revoked.status_code == 401  # the server ended the session too


def _refresh_together(machine: Machine, server_url: str, email: str) -> None:
    """Clients refreshing at once spend the single-use refresh token once (a lock): a
    reused token would make the service end the whole session."""
    from coditect.client.api import CloudClient
    from coditect.client.credentials import Credentials, FileStore

    session = _stored_session(machine, server_url)
    _store_session(machine, server_url, {**session, "access_token": "expired.or.forged"})
    start = threading.Barrier(4)
    results: list[object] = []

    def whoami() -> None:
        client = CloudClient(server_url, credentials=Credentials(FileStore(machine.credentials)))
        start.wait()
        try:
            results.append(client.call("GET", "/auth/me", auth=True)["email"])
        except Exception as exc:
            results.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=whoami) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert results == [email] * 4
    assert machine.json("user", "whoami")["email"] == email  # the session is still alive


def _reset_code(server: Server, email: str) -> str:
    """The code the service "mailed" (no SMTP in tests: the mail is in the server's log)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        log = server.log.read_text(errors="replace")
        mail = log.rpartition(f"to {email}:")[2]
        found = re.search(r"Your reset code: (\S+)", mail)
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no reset mail for {email} in the server log")


def test_password_reset(server: Server, tmp_path: Path) -> None:
    laptop = Machine(tmp_path / "laptop", server.url)
    email = _email("grace")
    laptop.sign_up(email)
    asked = _ok(laptop("user", "reset-password", email))
    assert "reset code" in asked.stdout and "--code" in asked.stdout
    code = _reset_code(server, email)
    new_password = "a brand new passphrase"
    bad = laptop(
        "user", "reset-password", "--code", "not-a-code", "--password-stdin", input="x" * 20
    )
    assert "invalid or has expired" in _fails(bad, 4)
    _ok(
        laptop(
            "user", "reset-password", "--code", code, "--password-stdin", input=new_password + "\n"
        )
    )
    assert "session" in _fails(laptop("user", "whoami"), 5)  # a reset ends every session
    old = laptop("user", "login", email, "--password-stdin", input=PASSWORD + "\n")
    _fails(old, 5)
    _ok(laptop("user", "login", email, "--password-stdin", input=new_password + "\n"))
    both = laptop("user", "reset-password", email, "--code", code)
    assert "either" in _fails(both, 2)


def _tamper(path: Path, change: Any) -> str:
    original = path.read_text()
    data = json.loads(original)
    change(data)
    path.write_text(json.dumps(data))
    return original


def test_licence_lifecycle(server: Server, tmp_path: Path) -> None:
    laptop = Machine(tmp_path / "laptop", server.url)
    email = _email("linus")
    laptop.sign_up(email)
    gated = _fails(laptop("license", "features", "--check", "cloud_sync"), 5)
    assert "needs the Starter plan" in gated and "coditect license activate" in gated
    free = laptop.json("license", "status")
    assert free["state"] == "free" and free["licence"] is None

    issued = server.issue_licence(email, "pro")
    activated = _ok(laptop("license", "activate", issued["key"]))
    assert "Activated licence" in activated.stdout and "Pinned" in activated.stdout
    assert stat.S_IMODE(laptop.licence_cache.stat().st_mode) == 0o600
    assert issued["key"] not in laptop.licence_cache.read_text()  # the key is a credential

    status = laptop.json("license", "status")
    assert (status["state"], status["plan"], status["online"]) == ("valid", "pro", True)
    assert status["code"] == "VALID" and status["licence"]["license_id"] == issued["id"]
    assert 6.9 * 86400 < status["remaining_seconds"] <= 7 * 86400  # the offline file's TTL
    features = laptop.json("license", "features")
    assert features["entitlements"] == ["cloud_sync", "advanced_analytics"]
    _ok(laptop("license", "features", "--check", "advanced_analytics"))
    assert "needs the Enterprise plan" in _fails(laptop("license", "features", "--check", "sso"), 5)
    machines = server.licence(issued["id"])["machines"]
    assert [m["fingerprint"] for m in machines] == [status["fingerprint"]]

    # A forged answer in the cache is caught, offline and online alike.
    original = _tamper(
        laptop.licence_cache, lambda d: d["validation"]["entitlements"].append("sso")
    )
    assert "altered" in _fails(laptop("license", "status", "--offline"), 5)
    assert "altered" in _fails(laptop("license", "features", "--check", "sso"), 5)
    _tamper(laptop.licence_cache, lambda d: d["offline"]["payload"].update(plan="enterprise"))
    assert "altered" in _fails(laptop("license", "status"), 5)
    renewed = laptop.json("license", "renew")  # fresh signed copies replace the forgeries
    assert renewed["state"] == "valid" and renewed["plan"] == "pro"
    fresh = json.loads(laptop.licence_cache.read_text())
    assert (
        fresh["offline"]["payload"]["issued_at"]
        > json.loads(original)["offline"]["payload"]["issued_at"]
    )

    # With the service down the licence keeps working on its signed statements.
    server.stop()
    try:
        offline = laptop.json("license", "status")
        assert offline["state"] == "valid" and offline["online"] is False
        assert server.url in offline["offline_reason"]
        assert offline["remaining_seconds"] > 6.9 * 86400
        shown = _ok(laptop("license", "status")).stdout
        assert "works        offline for 6 days 23 hours more" in shown
        _ok(laptop("license", "features", "--check", "cloud_sync"))
        down = _fails(laptop("user", "whoami"), 6)
        assert f"{server.url}/api/v1/auth/me" in down
        assert server.url in _fails(laptop("license", "renew"), 6)
    finally:
        server.start()

    # Only the licence's owner frees its seat (the key alone activates; same fingerprint:
    # the service answers with the same machine).
    desk = Machine(tmp_path / "desk", server.url)
    desk.sign_up(_email("other"))
    assert desk.json("license", "activate", issued["key"])["machines_used"] == 1
    refused = _fails(desk("license", "deactivate"), 3)
    assert "Sign in as the licence's owner" in refused
    assert desk.licence_cache.exists()  # nothing was forgotten

    # Deactivation frees the seat on the service and forgets the licence here.
    gone = laptop.json("license", "deactivate")
    assert gone == {"license_id": issued["id"], "machine_id": machines[0]["id"], "seat_freed": True}
    assert server.licence(issued["id"])["machines"] == []
    assert laptop.json("license", "status")["state"] == "free"
    assert not laptop.licence_cache.exists()
    assert "no licence" in _fails(laptop("license", "deactivate"), 3)
    _ok(laptop("license", "activate", issued["key"]))  # the seat can be taken again
    _ok(laptop("user", "logout"))
    assert "not signed in" in _fails(laptop("license", "deactivate"), 5)
    assert laptop.json("license", "status")["plan"] == "pro"  # a licence outlives a sign-in


def test_a_revoked_licence_stops_working(server: Server, tmp_path: Path) -> None:
    laptop = Machine(tmp_path / "laptop", server.url)
    email = _email("rev")
    laptop.sign_up(email)
    issued = server.issue_licence(email, "starter")
    _ok(laptop("license", "activate", issued["key"]))
    _ok(laptop("license", "features", "--check", "cloud_sync"))
    with server.admin() as admin:
        revoked = admin.patch(f"/admin/licenses/{issued['id']}", json={"status": "revoked"})
        assert revoked.status_code == 200, revoked.text
    status = laptop.json("license", "status")
    assert (status["state"], status["code"], status["plan"]) == ("invalid", "REVOKED", "free")
    cache = json.loads(laptop.licence_cache.read_text())
    assert cache["offline"] is None  # the old offline file no longer speaks for the licence
    gated = _fails(laptop("license", "features", "--check", "cloud_sync", "--offline"), 5)
    assert "REVOKED" in gated
    assert "not valid" in _fails(laptop("license", "renew"), 5)


def test_trial(server: Server, tmp_path: Path) -> None:
    laptop = Machine(tmp_path / "laptop", server.url)
    laptop.sign_up(_email("trial"))
    started = laptop.json("license", "trial")
    assert started["key"].startswith("CDT-") and started["plan"] == "pro"
    assert started["state"] == "valid"
    assert "already uses licence" in _fails(laptop("license", "trial"), 4)
    _ok(laptop("license", "deactivate", "--local"))
    assert "trial" in _fails(laptop("license", "trial"), 4)  # one per account


def test_server_down_and_bad_input(tmp_path: Path) -> None:
    """No service at all: exit 6 naming the address; bad input: exit 4, nothing written."""
    down = f"http://127.0.0.1:{_free_port()}"
    laptop = Machine(tmp_path / "laptop", down)
    login = _fails(laptop("user", "login", "a@example.com", "--password-stdin", input="pw\n"), 6)
    assert f"{down}/api/v1/auth/login" in login
    from coditect.cloud.services.keys import generate_key

    key = generate_key().key
    assert down in _fails(laptop("license", "activate", key), 6)
    other = "0" if key[4] != "0" else "1"
    typo = _fails(laptop("license", "activate", key[:4] + other + key[5:]), 4)  # one symbol
    assert "typo" in typo
    bad = _fails(laptop("user", "whoami", "--server", "ftp://example.com"), 4)
    assert "http:// or https://" in bad
    no_tty = _fails(laptop("user", "login", "a@example.com"), 2)
    assert "--password-stdin" in no_tty
    assert not (tmp_path / "laptop" / "credentials.json").exists()
    assert not (tmp_path / "laptop" / "licence").exists()

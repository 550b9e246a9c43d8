"""PostgreSQL's async validation path (``services.validation_pg``): the pool the route uses
while the application runs, its recovery from dead connections, and a database that is down.

The codes, grace and signatures are covered for both paths by test_licences_validation.py
(its PostgreSQL variants run through this pool); these tests pin what is particular to it.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import make_url, text

from coditect.cloud.db import Database
from coditect.cloud.errors import ServiceUnavailable
from coditect.cloud.models.base import utcnow
from coditect.cloud.services.validation import VALIDATION_POOL_SIZE, validate
from coditect.cloud.services.validation_pg import (
    APPLICATION_NAME,
    AsyncValidator,
    Pool,
    connect_kwargs,
)
from coditect.cloud.settings import Settings
from coditect.signing import Signer, verify
from tests.cloud.conftest import TEST_DATABASE_URL, postgres_schema, unavailable
from tests.cloud.licence_helpers import (
    Account,
    activate,
    issue,
    patch,
    trusted_keys,
)
from tests.cloud.licence_helpers import validate as validate_over_http


@pytest.fixture
def database_url() -> Iterator[str]:
    """PostgreSQL only (this module overrides the conftest's SQLite-and-PostgreSQL one)."""
    if not TEST_DATABASE_URL:
        unavailable("PostgreSQL", "CODITECT_TEST_DATABASE_URL")
    with postgres_schema(TEST_DATABASE_URL) as url:
        yield url


def _pool(app: FastAPI) -> Pool:
    validator = app.state.async_licence_validator
    assert isinstance(validator, AsyncValidator)
    return validator.pool


async def _backend_pids(pool: Pool) -> set[int]:
    """The server process of every connection of the pool (all checked out at once)."""
    connections = [await pool.getconn() for _ in range(pool.max_size)]
    try:
        return {connection.info.backend_pid for connection in connections}
    finally:
        for connection in connections:
            await pool.putconn(connection)


def test_while_the_application_runs_validation_uses_the_async_pool(
    client: TestClient, app: FastAPI, admin: Account, alice: Account
) -> None:
    pool = _pool(app)
    licence = issue(client, admin, alice, plan="pro")
    activate(client, licence["key"], "m1")
    before = pool.get_stats().get("requests_num", 0)
    answer = validate_over_http(client, licence["key"], "m1", nonce="n-7")
    assert pool.get_stats()["requests_num"] == before + 1
    assert (answer["code"], answer["valid"], answer["nonce"]) == ("VALID", True, "n-7")
    assert verify(answer, trusted_keys(client))["entitlements"] == [
        "cloud_sync",
        "advanced_analytics",
    ]
    assert not hasattr(app.state, "licence_validator")  # the sync path was never needed
    with app.state.db.engine.connect() as connection:
        names = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
        assert connection.execute(names, {"name": APPLICATION_NAME}).scalar() >= 1


def test_both_paths_give_the_same_facts_and_verdicts(
    client: TestClient, app: FastAPI, admin: Account, alice: Account
) -> None:
    """The async row read as SQLAlchemy reads it: same facts (UTC timestamps, the plan's
    entitlements, machine counts), same verdict, for each kind of answer."""
    expired = (datetime.now(UTC) - timedelta(days=3)).isoformat()  # in its grace period
    licence = issue(client, admin, alice, plan="starter", expires_at=expired)
    key = licence["key"]
    activate(client, key, "m1")
    activate(client, key, "m2")
    validator: AsyncValidator = app.state.async_licence_validator
    assert client.portal is not None
    now = utcnow()

    def both(key: str, fingerprint: str) -> Any:
        expected = _sync_judge(app.state.db, key, fingerprint, now)
        assert client.portal is not None
        assert client.portal.call(validator.judge, key, fingerprint, now) == expected
        return expected

    facts, verdict = both(key, "m1")
    assert (verdict.code, verdict.valid) == ("EXPIRED", True)  # grace, 2 of 2 machines
    assert facts is not None and facts.expires_at is not None
    assert facts.expires_at.tzinfo == UTC
    assert facts.expires_at == datetime.fromisoformat(expired)
    assert (facts.plan, facts.active_machines, facts.machine_limit) == ("starter", 2, 2)
    assert facts.entitlements == ["cloud_sync"]
    assert both(key, "m9")[1].code == "FINGERPRINT_MISMATCH"
    patch(client, admin, licence["id"], machine_limit=1, expires_at=None)
    assert both(key, "m1")[1].code == "TOO_MANY_MACHINES"
    assert both("CDT-00000-00000-00000-00000-00000-0", "m1")[1].code == "NOT_FOUND"
    assert both("CDT-00000-00000-00000-00000-00000-1", "m1")[1].code == "NOT_FOUND"  # typo


def _sync_judge(database: Database, key: str, fingerprint: str, now: datetime) -> Any:
    with database.engine.connect() as connection:
        return validate(connection, key, fingerprint, now)


def test_a_suspension_is_seen_at_once_nothing_is_cached(
    client: TestClient, app: FastAPI, admin: Account, alice: Account
) -> None:
    licence = issue(client, admin, alice)
    activate(client, licence["key"], "m1")
    for _ in range(3):
        assert validate_over_http(client, licence["key"], "m1")["code"] == "VALID"
    patch(client, admin, licence["id"], status="suspended")
    assert validate_over_http(client, licence["key"], "m1")["code"] == "SUSPENDED"
    patch(client, admin, licence["id"], status="revoked")
    assert validate_over_http(client, licence["key"], "m1")["code"] == "REVOKED"


def test_every_dead_connection_is_replaced_without_an_error(
    client: TestClient, app: FastAPI, admin: Account, alice: Account
) -> None:
    """The server kills every connection of the pool (as a restart would): the next
    validation meets a dead one, the pool drops them all, and the query is retried once on
    a fresh connection."""
    pool = _pool(app)
    licence = issue(client, admin, alice)
    activate(client, licence["key"], "m1")
    assert client.portal is not None
    doomed = client.portal.call(_backend_pids, pool)
    assert len(doomed) == VALIDATION_POOL_SIZE
    autocommit = app.state.db.engine.execution_options(isolation_level="AUTOCOMMIT")
    with autocommit.connect() as other:  # pg_stat_activity is a snapshot per transaction
        for pid in doomed:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
        deadline = time.monotonic() + 10
        while other.execute(alive, {"pids": list(doomed)}).scalar() and time.monotonic() < deadline:
            time.sleep(0.05)
    answer = validate_over_http(client, licence["key"], "m1")
    assert (answer["code"], answer["valid"]) == ("VALID", True)
    assert pool.get_stats()["connections_lost"] == VALIDATION_POOL_SIZE - 1  # by the check
    assert not client.portal.call(_backend_pids, pool) & doomed


def test_a_statement_error_is_not_retried_nor_taken_for_an_outage(
    client: TestClient, app: FastAPI, admin: Account
) -> None:
    """Only a dead connection is retried, and only an unreachable database is a 503: a
    table that is gone is a bug (the route answers 500), and the connection stays."""
    with app.state.db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE machines RENAME TO machines_gone"))
    validator: AsyncValidator = app.state.async_licence_validator
    assert client.portal is not None
    with pytest.raises(psycopg.errors.UndefinedTable):
        client.portal.call(validator.fetch, "0" * 64, "m1")
    assert validator.pool.get_stats().get("connections_lost", 0) == 0


def test_a_database_that_is_down_answers_503(settings: Settings) -> None:
    with closed_port() as port:
        database = Database(make_url(settings.database_url).set(port=port).render_as_string())
        validator = AsyncValidator(database, Signer(Ed25519PrivateKey.generate()), timeout=0.5)

        async def attempt() -> None:
            await validator.open()
            try:
                await validator.answer("CDT-00000-00000-00000-00000-00000-0", "m", "n", utcnow())
            finally:
                await validator.close()

        try:
            with pytest.raises(ServiceUnavailable, match="database is unavailable"):
                asyncio.run(attempt())
        finally:
            database.dispose()


@contextmanager
def closed_port() -> Iterator[int]:
    """A local port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_the_connection_arguments_are_sqlalchemys(app: FastAPI) -> None:
    kwargs = connect_kwargs(app.state.db)
    assert "context" not in kwargs
    assert kwargs["options"].startswith("-csearch_path=")  # the test's own schema
    assert kwargs["application_name"] == APPLICATION_NAME


def test_an_async_validator_refuses_sqlite(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(ValueError, match="PostgreSQL"):
            AsyncValidator(database, Signer(Ed25519PrivateKey.generate()))
    finally:
        database.dispose()

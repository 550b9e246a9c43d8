"""Fixtures of the cloud service tests: every database test runs on SQLite and PostgreSQL.

PostgreSQL comes from ``CODITECT_TEST_DATABASE_URL`` and Redis from
``CODITECT_TEST_REDIS_URL`` (the Makefile sets both). Without them those variants skip
with the reason; under ``CI=true`` they fail instead. Each PostgreSQL test gets a schema
of its own (``search_path``), dropped afterwards; each Redis test a key prefix of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the cloud tests need the server extra")

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from coditect.cloud.app import create_app
from coditect.cloud.db import Database, normalise_url
from coditect.cloud.migrate import upgrade
from coditect.cloud.settings import Settings, generate_ed25519_pem
from tests.cloud.helpers import clear_redis, make_settings
from tests.cloud.licence_helpers import Account, account, admin_account, seed

# Read once at import: the autouse ``user_home`` fixture clears CODITECT_* for each test.
TEST_DATABASE_URL = os.environ.get("CODITECT_TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("CODITECT_TEST_REDIS_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(what: str, variable: str) -> None:
    """Skip (or fail under CI) a test whose service is not configured."""
    message = f"{what} is not configured: set {variable}"
    if IN_CI:
        pytest.fail(f"{message} (required when CI=true)")
    pytest.skip(message)


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A fresh schema in the test database; yields a URL whose search_path points at it."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
        url = make_url(normalise_url(base_url)).update_query_dict(
            {"options": f"-csearch_path={name}"}
        )
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cloud.db'}"
        return
    if not TEST_DATABASE_URL:
        unavailable("PostgreSQL", "CODITECT_TEST_DATABASE_URL")
    with postgres_schema(TEST_DATABASE_URL) as url:
        yield url


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """``database_url`` with every migration applied."""
    database = Database(database_url)
    try:
        upgrade(database.engine)
    finally:
        database.dispose()
    return database_url


@pytest.fixture(scope="session")
def licence_pem() -> str:
    return generate_ed25519_pem()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis (flushed of this test's keys afterwards)."""
    if not TEST_REDIS_URL:
        unavailable("Redis", "CODITECT_TEST_REDIS_URL")
    yield TEST_REDIS_URL


@pytest.fixture
def settings(migrated_url: str, licence_pem: str) -> Settings:
    return make_settings(migrated_url, licence_pem)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def redis_settings(migrated_url: str, licence_pem: str, redis_url: str) -> Iterator[Settings]:
    """Settings of an app that keeps rate limits and revoked tokens in Redis."""
    settings = make_settings(migrated_url, licence_pem, redis_url=redis_url)
    yield settings
    clear_redis(redis_url, settings.redis_key_prefix)


# -- accounts for the licence tests ----------------------------------------------------------


@pytest.fixture
def admin(client: TestClient, app: FastAPI) -> Account:
    """An administrator, with the plans seeded."""
    seed(app)
    return admin_account(client, app)


@pytest.fixture
def alice(client: TestClient, admin: Account) -> Account:
    return account(client, "alice@example.com")


@pytest.fixture
def bob(client: TestClient, admin: Account) -> Account:
    return account(client, "bob@example.com")

"""Backups and restores on SQLite and PostgreSQL, and between them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from coditect.cloud.app import create_app
from coditect.cloud.backup import backup, detect_format, restore
from coditect.cloud.db import Database
from coditect.cloud.migrate import current_revision, downgrade, head_revision, upgrade
from coditect.cloud.models.session import AuthSession
from coditect.cloud.models.user import User
from coditect.cloud.settings import Settings
from coditect.errors import ConflictError, UsageError, ValidationError
from tests.cloud.conftest import TEST_DATABASE_URL, postgres_schema, unavailable
from tests.cloud.helpers import login, make_settings, register


def _users(database: Database) -> list[tuple[str, str]]:
    with database.session() as db:
        return [(user.email, user.role) for user in db.scalars(select(User).order_by(User.email))]


def _populate(settings: Settings) -> dict[str, str]:
    with TestClient(create_app(settings)) as client:
        register(client, "kept@example.com")
        return login(client, "kept@example.com", **{"User-Agent": "O'Brien; DROP TABLE users;"})


@pytest.mark.parametrize("fmt", [None, "jsonl"])
def test_backup_then_restore_brings_back_the_data(
    settings: Settings, tmp_path: Path, fmt: str | None
) -> None:
    tokens = _populate(settings)
    database = Database(settings.database_url)
    try:
        target = tmp_path / "backup.out"
        used = backup(database, target, fmt)  # type: ignore[arg-type]
        assert used == (fmt or ("sqlite" if database.is_sqlite else "jsonl"))
        assert detect_format(target) == used
        with database.transaction() as db:
            db.add(User(email="later@example.com", password_hash="x", role="user"))
            kept = db.scalar(select(User).where(User.email == "kept@example.com"))
            assert kept is not None
            kept.role = "admin"
        assert restore(database, target) == head_revision()
        assert _users(database) == [("kept@example.com", "user")]
        with database.session() as db:
            session = db.get(AuthSession, tokens["session_id"])
            assert session is not None
            assert session.user_agent == "O'Brien; DROP TABLE users;"
            assert session.created_at.tzinfo is not None
    finally:
        database.dispose()


def test_jsonl_moves_data_from_sqlite_to_postgresql(tmp_path: Path, licence_pem: str) -> None:
    if not TEST_DATABASE_URL:
        unavailable("PostgreSQL", "CODITECT_TEST_DATABASE_URL")
    sqlite = Database(f"sqlite:///{tmp_path / 'source.db'}")
    upgrade(sqlite.engine)
    tokens = _populate(make_settings(sqlite.url, licence_pem))
    dump = tmp_path / "move.jsonl"
    backup(sqlite, dump, "jsonl")
    with postgres_schema(TEST_DATABASE_URL) as url:
        postgres = Database(url)
        try:
            assert current_revision(postgres.engine) is None
            restore(postgres, dump)  # migrates the empty target to the backup's revision
            assert current_revision(postgres.engine) == head_revision()
            assert _users(postgres) == _users(sqlite)
            with TestClient(create_app(make_settings(url, licence_pem))) as client:
                login(client, "kept@example.com")
                refreshed = client.post(
                    "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
                )
                assert refreshed.status_code == 200
        finally:
            postgres.dispose()
            sqlite.dispose()


def test_restore_refuses_another_schema_revision(settings: Settings, tmp_path: Path) -> None:
    database = Database(settings.database_url)
    try:
        dump = tmp_path / "b.jsonl"
        backup(database, dump, "jsonl")
        downgrade(database.engine, "0001_accounts")
        with pytest.raises(ConflictError, match="revision"):
            restore(database, dump)
        assert current_revision(database.engine) == "0001_accounts"
    finally:
        database.dispose()


def test_a_broken_dump_changes_nothing(settings: Settings, tmp_path: Path) -> None:
    _populate(settings)
    database = Database(settings.database_url)
    try:
        dump = tmp_path / "b.jsonl"
        backup(database, dump, "jsonl")
        lines = dump.read_text().splitlines()
        lines.append(json.dumps({"table": "no_such_table", "row": {}}))
        dump.write_text("\n".join(lines) + "\n")
        with pytest.raises(ValidationError, match=r"b\.jsonl:\d+"):
            restore(database, dump)
        assert _users(database) == [("kept@example.com", "user")]
    finally:
        database.dispose()


def test_foreign_files_and_formats_are_refused(settings: Settings, tmp_path: Path) -> None:
    database = Database(settings.database_url)
    try:
        stray = tmp_path / "notes.txt"
        stray.write_text("hello")
        with pytest.raises(ValidationError, match="not a CODITECT backup"):
            restore(database, stray)
        header = tmp_path / "future.jsonl"
        header.write_text(
            json.dumps({"format": "coditect-backup", "version": 1, "revision": "9999_future"})
            + "\n"
        )
        with pytest.raises(ValidationError, match="9999_future"):
            restore(database, header)
        if not database.is_sqlite:
            with pytest.raises(UsageError):
                backup(database, tmp_path / "x.db", "sqlite")
        assert _users(database) == []
    finally:
        database.dispose()

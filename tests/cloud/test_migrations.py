"""Alembic migrations on SQLite and PostgreSQL: from empty, idempotent, down and up again,
and always matching the models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import coditect.cloud.models  # noqa: F401
from coditect.cloud.db import Base, Database
from coditect.cloud.migrate import (
    MIGRATIONS,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    is_known_revision,
    upgrade,
)


def _tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names())


def test_upgrade_from_empty_is_idempotent_and_matches_the_models(database_url: str) -> None:
    database = Database(database_url)
    try:
        assert current_revision(database.engine) is None
        upgrade(database.engine)
        assert current_revision(database.engine) == head_revision()
        assert set(Base.metadata.tables) <= _tables(database)
        upgrade(database.engine)
        assert current_revision(database.engine) == head_revision()
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        database.dispose()


def test_every_revision_goes_down_and_up_again(database_url: str) -> None:
    database = Database(database_url)
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [revision.revision for revision in script.walk_revisions()]  # newest first
    try:
        upgrade(database.engine)
        for older in [*revisions[1:], "base"]:
            downgrade(database.engine, older)
            assert current_revision(database.engine) == (None if older == "base" else older)
        assert _tables(database) <= {"alembic_version"}
        upgrade(database.engine)
        assert set(Base.metadata.tables) <= _tables(database)
    finally:
        database.dispose()


def test_revision_ids_are_short_and_named_like_their_files() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    for revision in script.walk_revisions():
        assert len(revision.revision) <= 32
        assert revision.path is not None
        assert Path(revision.path).stem == revision.revision
        assert Path(revision.path).parent == MIGRATIONS / "versions"
    assert script.get_revision("0001_accounts") is not None
    assert is_known_revision("0001_accounts")
    assert not is_known_revision("9999_nothing")

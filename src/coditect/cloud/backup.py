"""Backups of the service's database, and restoring them.

Two formats:

- ``sqlite``: a consistent copy of a SQLite database, taken online with SQLite's backup API
  (the server may keep running). The default for SQLite.
- ``jsonl``: a portable dump, one JSON object per line: a header (format, schema revision,
  time), then one line per row, tables in dependency order. The default for PostgreSQL
  (read in one REPEATABLE READ snapshot), and the way to move between SQLite and PostgreSQL.

pg_dump is deliberately not used: it must match the server's major version and be
installed next to the service, while the dump above needs nothing but the connection.
Restoring replaces every row of the target in one transaction; the target is first
migrated to the backup's revision when it is empty, and refused when it is at another.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

from sqlalchemy import Connection, Engine, Table, delete, insert, select
from sqlalchemy.types import TypeDecorator

import coditect.cloud.models  # noqa: F401  (every table on Base.metadata)
from coditect.cloud.db import Base, Database
from coditect.cloud.migrate import current_revision, is_known_revision, upgrade
from coditect.cloud.models.base import utcnow
from coditect.errors import ConflictError, UsageError, ValidationError

__all__ = ["FORMAT_NAME", "BackupFormat", "backup", "detect_format", "restore"]

FORMAT_NAME = "coditect-backup"
FORMAT_VERSION = 1
BackupFormat = Literal["sqlite", "jsonl"]
_SQLITE_MAGIC = b"SQLite format 3\x00"
_BATCH = 500


def backup(database: Database, path: Path, fmt: BackupFormat | None = None) -> BackupFormat:
    """Write a backup of ``database`` to ``path``; returns the format used."""
    fmt = fmt or ("sqlite" if database.is_sqlite else "jsonl")
    if fmt == "sqlite" and not database.is_sqlite:
        raise UsageError("the sqlite format backs up SQLite databases only", "Use --format jsonl.")
    revision = current_revision(database.engine)
    if revision is None:
        raise ValidationError(
            "the database has no schema yet: nothing to back up",
            "Run `coditect server migrate` first.",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    if fmt == "sqlite":
        _backup_sqlite(database.engine, partial)
    else:
        with partial.open("w", encoding="utf-8") as out:
            _dump_jsonl(database.engine, revision, out)
    partial.replace(path)
    return fmt


def _sqlite_file(engine: Engine) -> str:
    return engine.url.database or ""


def _backup_sqlite(engine: Engine, target: Path) -> None:
    source = sqlite3.connect(_sqlite_file(engine))
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _dump_jsonl(engine: Engine, revision: str, out: IO[str]) -> None:
    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "revision": revision,
        "dialect": engine.dialect.name,
        "created_at": utcnow().isoformat(),
    }
    out.write(json.dumps(header) + "\n")
    options = {} if engine.dialect.name == "sqlite" else {"isolation_level": "REPEATABLE READ"}
    with engine.connect().execution_options(**options) as connection, connection.begin():
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                line = {"table": table.name, "row": {k: _encode(v) for k, v in row.items()}}
                out.write(json.dumps(line) + "\n")


def detect_format(path: Path) -> BackupFormat:
    """The format of the backup file at ``path``; ``ValidationError`` if it is neither."""
    try:
        with path.open("rb") as file:
            start = file.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ValidationError(f"cannot read the backup {path}: {exc.strerror}") from exc
    if start == _SQLITE_MAGIC:
        return "sqlite"
    if start.startswith(b'{"format"'):
        return "jsonl"
    raise ValidationError(f"{path} is not a CODITECT backup", "Give a file `server backup` wrote.")


def restore(database: Database, path: Path) -> str:
    """Replace every row of ``database`` with the backup at ``path``; returns its revision."""
    fmt = detect_format(path)
    if fmt == "sqlite":
        return _restore_sqlite(database, path)
    with path.open(encoding="utf-8") as lines:
        revision = _read_header(path, next(lines, ""))
        for _ in _rows(path, lines):  # check every line before anything changes
            pass
    _prepare_target(database.engine, revision)
    with path.open(encoding="utf-8") as lines, database.engine.begin() as connection:
        next(lines)
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
        _load_rows(connection, _rows(path, lines))
    return revision


def _read_header(path: Path, line: str) -> str:
    """The schema revision named by the header line, checked against the shipped ones."""
    try:
        header = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path}: the header line is not JSON") from exc
    if header.get("format") != FORMAT_NAME or header.get("version") != FORMAT_VERSION:
        raise ValidationError(f"{path}: not a version {FORMAT_VERSION} CODITECT backup")
    revision = header.get("revision")
    if not isinstance(revision, str) or not is_known_revision(revision):
        raise ValidationError(
            f"{path}: schema revision {revision!r} is not one this version of coditect knows",
            "Restore with the version of coditect that wrote the backup, or a newer one.",
        )
    return revision


def _prepare_target(engine: Engine, revision: str) -> None:
    """Migrate an empty target to ``revision``; refuse one at another revision."""
    current = current_revision(engine)
    if current is None:
        upgrade(engine, revision)
    elif current != revision:
        raise ConflictError(
            f"the backup is at schema revision {revision}, the database at {current}",
            "Restore into an empty database, or one migrated to the backup's revision; "
            "then run `coditect server migrate`.",
        )


def _rows(path: Path, lines: Iterator[str]) -> Iterator[tuple[Table, dict[str, Any]]]:
    tables = Base.metadata.tables
    for number, line in enumerate(lines, start=2):
        try:
            entry = json.loads(line)
            table = tables[entry["table"]]
            row = {name: _decode(table, name, value) for name, value in entry["row"].items()}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"{path}:{number}: not a valid backup line ({exc})") from exc
        yield table, row


def _decode(table: Table, name: str, value: Any) -> Any:
    if value is None:
        return None
    column_type = table.columns[name].type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return value
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    if python_type is Decimal:
        return Decimal(value)
    if python_type is bytes:
        return base64.b64decode(value)
    return value


def _load_rows(connection: Connection, rows: Iterator[tuple[Table, dict[str, Any]]]) -> None:
    batch: list[dict[str, Any]] = []
    current: Table | None = None
    for table, row in rows:
        if table is not current and batch and current is not None:
            connection.execute(insert(current), batch)
            batch = []
        current = table
        batch.append(row)
        if len(batch) >= _BATCH:
            connection.execute(insert(table), batch)
            batch = []
    if batch and current is not None:
        connection.execute(insert(current), batch)


def _restore_sqlite(database: Database, path: Path) -> str:
    if not database.is_sqlite:
        raise UsageError(
            "a SQLite backup restores into a SQLite database only",
            "Back up with --format jsonl to move between SQLite and PostgreSQL.",
        )
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        revision = _sqlite_revision(source, path)
        database.dispose()  # no pooled connection may hold the old file open
        destination = sqlite3.connect(_sqlite_file(database.engine))
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()
    return revision


def _sqlite_revision(source: sqlite3.Connection, path: Path) -> str:
    try:
        row = source.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ValidationError(f"{path} is not a CODITECT database backup ({exc})") from exc
    if row is None:
        raise ValidationError(f"{path} is not a CODITECT database backup (no schema revision)")
    return str(row[0])

"""What the ``coditect server`` commands do, as functions: one call per command.

This is the boundary where database and domain errors become ``CoditectError``s with an
exit code: an unreachable database is ``ServiceUnavailableError`` (exit 6), a schema that
is not migrated an ``InvalidInputError`` (exit 4) that says to run ``server migrate``.
"""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coditect.errors import (
    CoditectError,
    ConflictError,
    DeniedError,
    InvalidInputError,
    NotFoundError,
    ServiceUnavailableError,
    ValidationError,
)

if TYPE_CHECKING:
    from coditect.cloud.backup import BackupFormat
    from coditect.cloud.db import Database
    from coditect.cloud.settings import Settings

__all__ = [
    "MigrationResult",
    "SeedResult",
    "backup_database",
    "cleanup",
    "create_admin",
    "migrate",
    "open_database",
    "restore_database",
    "seed",
]

DEMO_EMAIL = "demo@example.com"


def safe_url(url: str) -> str:
    """``url`` with its password masked, for messages."""
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def boundary(url: str) -> Iterator[None]:
    """Translate SQLAlchemy and domain errors raised inside into ``CoditectError``s."""
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    from coditect.cloud import errors as domain

    try:
        yield
    except CoditectError:
        raise
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ServiceUnavailableError(
            f"cannot use the database {safe_url(url)}: {reason}",
            "Check CODITECT_DATABASE_URL and that the database server is running.",
        ) from exc
    except SQLAlchemyError as exc:
        raise InvalidInputError(
            f"the database refused the operation: {str(exc).splitlines()[0]}",
            "Run `coditect server migrate`; nothing was changed.",
        ) from exc
    except domain.Conflict as exc:
        raise ConflictError(exc.message) from exc
    except domain.NotFound as exc:
        raise NotFoundError(exc.message) from exc
    except (domain.Unauthorized, domain.Forbidden) as exc:
        raise DeniedError(exc.message) from exc
    except domain.DomainError as exc:
        raise InvalidInputError(exc.message) from exc


def open_database(settings: Settings, *, require_schema: bool = True) -> Database:
    """The database, reachable, and (unless told otherwise) migrated to the newest revision."""
    from coditect.cloud.db import Database
    from coditect.cloud.migrate import current_revision, head_revision

    database = Database(settings.database_url)
    with boundary(settings.database_url):
        database.ping()
        if require_schema:
            current, head = current_revision(database.engine), head_revision()
            if current != head:
                database.dispose()
                raise InvalidInputError(
                    f"the database schema is at {current or 'nothing'}, not {head}",
                    "Run `coditect server migrate` first.",
                )
    return database


@dataclass(frozen=True)
class MigrationResult:
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def migrate(settings: Settings, *, revision: str = "head", down: bool = False) -> MigrationResult:
    """Upgrade to ``revision`` (or downgrade with ``down``); running it again does nothing."""
    from coditect.cloud import migrate as alembic_ops

    if revision not in ("head", "base") and not alembic_ops.is_known_revision(revision):
        raise ValidationError(
            f"unknown schema revision {revision!r}",
            "`coditect server migrate --help` names the revisions.",
        )
    database = open_database(settings, require_schema=False)
    try:
        with boundary(settings.database_url):
            before = alembic_ops.current_revision(database.engine)
            if down:
                alembic_ops.downgrade(database.engine, revision)
            else:
                alembic_ops.upgrade(database.engine, revision)
            return MigrationResult(before, alembic_ops.current_revision(database.engine))
    finally:
        database.dispose()


def create_admin(settings: Settings, email: str, password: str | None, *, promote: bool) -> Any:
    """A new administrator account, or (``promote``) an existing account made administrator."""
    from coditect.cloud.passwords import MIN_PASSWORD_LENGTH, Passwords
    from coditect.cloud.schemas.common import normalise_email
    from coditect.cloud.services import accounts

    try:
        email = normalise_email(email)
    except ValueError as exc:
        raise ValidationError(f"invalid email: {exc}") from exc
    database = open_database(settings)
    try:
        with boundary(settings.database_url), database.transaction() as db:
            existing = accounts.find_by_email(db, email)
            if existing is None and promote:
                raise NotFoundError(
                    f"no account with the email {email}", "Drop --promote to create it."
                )
            if existing is not None:
                if not promote:
                    raise ConflictError(
                        f"an account with the email {email} already exists",
                        "Pass --promote to make it an administrator.",
                    )
                existing.role, existing.is_active = "admin", True
                db.flush()
                return _account(existing)
            if password is None or len(password) < MIN_PASSWORD_LENGTH:
                raise ValidationError(
                    f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
                )
            user = accounts.create_user(
                db, Passwords.from_settings(settings), email, password, role="admin"
            )
            return _account(user)
    finally:
        database.dispose()


def _account(user: Any) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "role": user.role, "is_active": user.is_active}


@dataclass
class SeedResult:
    plans: dict[str, list[str]] = field(default_factory=dict)
    demo_user: dict[str, Any] | None = None
    demo_password: str | None = None


def seed(settings: Settings) -> SeedResult:
    """Load the plan catalogue (when the licences module is installed) and, in development,
    a demo account; running it twice changes nothing the second time."""
    result = SeedResult()
    database = open_database(settings)
    try:
        with boundary(settings.database_url), database.transaction() as db:
            if importlib.util.find_spec("coditect.cloud.services.plans") is not None:
                from coditect.cloud.services.plans import seed_plans

                seeded = seed_plans(db)
                result.plans = {
                    "created": list(seeded.created),
                    "updated": list(seeded.updated),
                    "unchanged": list(seeded.unchanged),
                }
            if settings.environment == "development":
                _seed_demo(db, settings, result)
    finally:
        database.dispose()
    return result


def _seed_demo(db: Any, settings: Settings, result: SeedResult) -> None:
    from coditect.cloud.passwords import Passwords
    from coditect.cloud.services import accounts

    user = accounts.find_by_email(db, DEMO_EMAIL)
    if user is None:
        result.demo_password = secrets.token_urlsafe(12)
        passwords = Passwords.from_settings(settings)
        user = accounts.create_user(db, passwords, DEMO_EMAIL, result.demo_password)
    result.demo_user = _account(user)


def cleanup(settings: Settings) -> dict[str, int]:
    """Delete expired sessions, revoked tokens past expiry and used or expired reset codes."""
    from coditect.cloud.services.maintenance import cleanup as run_cleanup

    database = open_database(settings)
    try:
        with boundary(settings.database_url), database.transaction() as db:
            return run_cleanup(db).as_dict()
    finally:
        database.dispose()


def backup_database(settings: Settings, path: Path, fmt: BackupFormat | None) -> BackupFormat:
    from coditect.cloud.backup import backup

    database = open_database(settings)
    try:
        with boundary(settings.database_url):
            return backup(database, path, fmt)
    finally:
        database.dispose()


def restore_database(settings: Settings, path: Path) -> str:
    from coditect.cloud.backup import detect_format, restore

    detect_format(path)  # a missing or foreign file is refused before connecting
    database = open_database(settings, require_schema=False)
    try:
        with boundary(settings.database_url):
            return restore(database, path)
    finally:
        database.dispose()

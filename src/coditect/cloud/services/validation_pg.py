"""Licence validation on PostgreSQL, on the event loop: psycopg 3's async pool, no ORM.

``services.validation`` decides; this module only asks PostgreSQL the same question
faster. The statement is ``validation.facts_query()`` compiled once by the service's
dialect, so both paths send the same SQL, and the row becomes ``LicenceFacts`` as
SQLAlchemy would read it (timestamps in UTC, as ``UTCDateTime`` returns them).

Per request, the route awaits one query on a pooled ``AsyncConnection``: no thread-pool
hop, no SQLAlchemy. The pool (``psycopg_pool.AsyncConnectionPool``) is fixed in size,
autocommit (one SELECT needs no BEGIN and ROLLBACK), checks nothing at checkout, and the
statement is prepared server-side on each connection the first time it runs there.

A connection found dead when used is discarded by the pool, the idle connections are
checked (a server restart kills them all at once), and the query is retried once. A
database that stays unreachable answers ``ServiceUnavailable`` (503), as the sync path's
``OperationalError`` does. Nothing about a licence is cached: every answer reads the
database, so a suspension on one instance is seen by all.

The pool belongs to the application's lifespan (``open`` / ``close``); an application
served without one uses the sync ``Validator`` instead (``routes.licences``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from coditect.cloud.db import Database
from coditect.cloud.errors import ServiceUnavailable
from coditect.cloud.services.keys import LicenceKeyError, hash_key
from coditect.cloud.services.validation import (
    VALIDATION_POOL_SIZE,
    LicenceFacts,
    Verdict,
    evaluate,
    facts_query,
    validation_payload,
)
from coditect.signing import Signer

__all__ = [
    "APPLICATION_NAME",
    "CHECKOUT_TIMEOUT_S",
    "AsyncValidator",
    "connect_kwargs",
    "facts_from_row",
    "facts_sql",
]

CHECKOUT_TIMEOUT_S = 5.0
"""How long a validation waits for a connection before answering 503."""

APPLICATION_NAME = "coditect-validation"
"""How validation's connections appear in ``pg_stat_activity`` (unless the URL names one)."""

Pool = AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]


def facts_sql(database: Database) -> str:
    """``facts_query()`` as the service's PostgreSQL dialect writes it, with
    ``%(key_hash)s`` and ``%(fingerprint)s`` placeholders."""
    return str(facts_query().compile(dialect=database.engine.dialect))


def connect_kwargs(database: Database) -> dict[str, Any]:
    """What SQLAlchemy would pass to ``psycopg.connect`` for the service's URL."""
    engine = database.engine
    _args, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs.pop("context", None)  # SQLAlchemy's own adapters, for its sync connections
    kwargs.setdefault("application_name", APPLICATION_NAME)
    return dict(kwargs)


def facts_from_row(row: TupleRow) -> LicenceFacts:
    """A row of ``facts_sql()`` as ``LicenceFacts``."""
    lid, status, expires_at, is_trial, plan, entitlements, limit, active, known = row
    return LicenceFacts(
        id=lid,
        status=status,
        expires_at=None if expires_at is None else expires_at.astimezone(UTC),
        is_trial=bool(is_trial),
        plan=plan,
        entitlements=list(entitlements),
        machine_limit=int(limit),
        active_machines=int(active),
        machine_active=bool(known),
    )


class AsyncValidator:
    """Answers validations with signed payloads from an async pool (module docstring)."""

    def __init__(
        self,
        database: Database,
        signer: Signer,
        *,
        size: int = VALIDATION_POOL_SIZE,
        timeout: float = CHECKOUT_TIMEOUT_S,
    ) -> None:
        if database.is_sqlite:
            raise ValueError("AsyncValidator needs PostgreSQL")
        self.signer = signer
        self.sql = facts_sql(database)
        self.pool: Pool = AsyncConnectionPool(
            kwargs={**connect_kwargs(database), "autocommit": True},
            min_size=size,
            max_size=size,
            open=False,
            timeout=timeout,
            max_lifetime=1800,
            name=APPLICATION_NAME,
        )

    async def open(self) -> None:
        """Start the pool; connections are made in the background (a database that is down
        at start-up does not stop the service from starting)."""
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    async def fetch(self, key_hash: str, fingerprint: str) -> TupleRow | None:
        """The row of ``self.sql``, retried once on a connection that turned out dead."""
        params = {"key_hash": key_hash, "fingerprint": fingerprint}
        try:
            for attempt in (1, 2):
                # getconn/putconn rather than ``pool.connection()``: no commit or rollback
                # to consider (autocommit), and less Python per request
                connection = await self.pool.getconn()
                try:
                    cursor = await connection.execute(self.sql, params, prepare=True)
                    return await cursor.fetchone()
                except psycopg.OperationalError:
                    if attempt == 2 or not connection.broken:
                        raise
                finally:
                    await self.pool.putconn(connection)  # discarded and replaced if dead
                await self.pool.check()  # the other dead ones too (a restart kills them all)
        except psycopg.OperationalError as exc:  # PoolTimeout included
            raise ServiceUnavailable("the database is unavailable; try again later") from exc
        raise AssertionError("unreachable")

    async def judge(
        self, key: str, fingerprint: str, now: datetime
    ) -> tuple[LicenceFacts | None, Verdict]:
        """``validation.validate`` on the async pool: same checks, same order."""
        try:
            key_hash = hash_key(key)
        except LicenceKeyError as exc:
            return None, Verdict(False, "NOT_FOUND", str(exc))
        row = await self.fetch(key_hash, fingerprint)
        facts = None if row is None else facts_from_row(row)
        return facts, evaluate(facts, now)

    async def answer(self, key: str, fingerprint: str, nonce: str, now: datetime) -> dict[str, Any]:
        """The signed answer to a validation."""
        facts, verdict = await self.judge(key, fingerprint, now)
        payload = validation_payload(facts, verdict, fingerprint=fingerprint, nonce=nonce, now=now)
        return self.signer.sign(payload)

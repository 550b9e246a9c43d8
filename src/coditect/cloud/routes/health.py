"""Probes for orchestrators: ``/healthz`` (the process is alive), ``/readyz`` (it can serve)."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from coditect.cloud.db import Database
from coditect.cloud.errors import ServiceUnavailable, error_responses

__all__ = ["router"]

log = logging.getLogger("coditect.cloud")
router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/healthz", response_model=Health, summary="The process is alive")
def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Health,
    summary="The database (and Redis, when configured) answer",
    responses=error_responses(503),
)
def readyz(request: Request) -> Health:
    database: Database = request.app.state.db
    try:
        database.ping()
    except SQLAlchemyError as exc:
        log.warning("readiness: database unreachable: %s", exc)
        raise ServiceUnavailable("the database is unreachable") from exc
    redis = getattr(request.app.state, "redis", None)
    if redis is not None:
        from redis import RedisError

        try:
            redis.ping()
        except RedisError as exc:
            log.warning("readiness: redis unreachable: %s", exc)
            raise ServiceUnavailable("redis is unreachable") from exc
    return Health()

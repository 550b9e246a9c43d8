"""The application factory: ``create_app(settings)`` builds everything; importing builds nothing.

``uvicorn --factory coditect.cloud.app:create_app`` reads the settings from the
environment (``CODITECT_*``); tests pass their own ``Settings``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from coditect import __version__

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.routing import APIRoute

    from coditect.cloud.settings import Settings

__all__ = ["create_app"]

DESCRIPTION = (
    "Accounts, sessions and licences of the CODITECT cloud service. Every error answers "
    'with `{"error": {"code", "message", "details"}}`.'
)


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}_{route.name}" if route.tags else route.name


def _common_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """Document on every operation the errors answered before its code runs: 400 (a body that
    cannot be decoded) and 413 (over the size limit) where it takes a body, 422 (validation,
    in the standard error body) where it takes input. Idempotent: FastAPI caches the
    document this edits."""
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation["responses"]
            if "requestBody" in operation:
                for status, description in (
                    ("400", "Malformed Body"),
                    ("413", "Content Too Large"),
                ):
                    responses.setdefault(status, {"description": description, "content": content})
            if "requestBody" in operation or operation.get("parameters"):
                current = responses.get("422")
                if current is None or "HTTPValidationError" in json.dumps(current):
                    responses["422"] = {"description": "Unprocessable Content", "content": content}
    schemas = spec.get("components", {}).get("schemas", {})
    if "HTTPValidationError" not in json.dumps(spec.get("paths", {})):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return spec


def _attach_state(app: FastAPI, settings: Settings) -> None:
    from coditect.cloud.db import Database
    from coditect.cloud.mail import build_mailer
    from coditect.cloud.passwords import Passwords
    from coditect.cloud.ratelimit import RateLimiter
    from coditect.cloud.revocation import DatabaseDenylist, Denylist, RedisDenylist

    app.state.settings = settings
    app.state.db = Database(settings.database_url)
    app.state.limiter = RateLimiter(settings.redis_url, key_prefix=settings.redis_key_prefix)
    denylist: Denylist = DatabaseDenylist()
    app.state.redis = None
    if settings.redis_url:
        redis_denylist = RedisDenylist.from_url(
            settings.redis_url, key_prefix=settings.redis_key_prefix
        )
        app.state.redis = redis_denylist.client
        denylist = redis_denylist
    app.state.denylist = denylist
    app.state.mailer = build_mailer(settings)
    app.state.passwords = Passwords.from_settings(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service, configured by ``settings`` (default: from the environment)."""
    from fastapi import FastAPI
    from fastapi.middleware.cors import CORSMiddleware

    from coditect.cloud.bodylimit import BodySizeLimit
    from coditect.cloud.errors import error_responses, install_error_handlers
    from coditect.cloud.routes import API_PREFIX, ROUTERS, health
    from coditect.cloud.settings import Settings

    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from coditect.cloud.routes.licences import close_validation, open_validation

        await open_validation(app)  # PostgreSQL: validation's async pool
        yield
        await close_validation(app)
        app.state.db.dispose()
        if app.state.redis is not None:
            app.state.redis.close()

    app = FastAPI(
        title="CODITECT cloud",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    _attach_state(app, settings)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.include_router(health.router, responses=error_responses(500))
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=error_responses(500, 503))
    original_openapi = app.openapi
    app.openapi = lambda: _common_errors(original_openapi())  # type: ignore[method-assign]
    return app

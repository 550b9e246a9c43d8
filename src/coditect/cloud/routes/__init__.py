"""The API's routers. ``create_app`` mounts every router of ``ROUTERS`` under ``/api/v1``.

Each router carries its own ``prefix`` and ``tags``; add a new one to ``ROUTERS``. Routes
own the transaction (``db.commit()``) and document every status they can answer with
(``responses=error_responses(...)``).
"""

from __future__ import annotations

from fastapi import APIRouter

from coditect.cloud.routes import admin, admin_licences, auth, licences, sessions

__all__ = ["API_PREFIX", "ROUTERS", "admin", "auth", "sessions"]

API_PREFIX = "/api/v1"

ROUTERS: list[APIRouter] = [
    licences.router,  # first: requests are matched route by route, and validation is hot
    auth.router,
    sessions.router,
    admin.router,
    admin_licences.router,
]

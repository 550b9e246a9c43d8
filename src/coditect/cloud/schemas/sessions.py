"""Bodies of ``/sessions``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

__all__ = ["SessionOut"]


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool

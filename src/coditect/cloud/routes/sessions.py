"""``/sessions``: the signed-in user's sessions; ending one signs that device out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from coditect.cloud.deps import AccessToken, CurrentUser, DbSession, DenylistDep
from coditect.cloud.errors import error_responses
from coditect.cloud.models.session import AuthSession
from coditect.cloud.schemas.sessions import SessionOut
from coditect.cloud.services import sessions

__all__ = ["router"]

router = APIRouter(prefix="/sessions", tags=["sessions"])

SessionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[\w-]+$")]


def _out(session: AuthSession, current_id: str) -> SessionOut:
    return SessionOut(
        id=session.id,
        created_at=session.created_at,
        last_used_at=session.last_used_at,
        expires_at=session.expires_at,
        user_agent=session.user_agent,
        ip=session.ip,
        current=session.id == current_id,
    )


@router.get("", summary="The live sessions of the signed-in user", responses=error_responses(401))
def list_sessions(db: DbSession, user: CurrentUser, claims: AccessToken) -> list[SessionOut]:
    return [_out(session, claims.session_id) for session in sessions.list_active(db, user.id)]


@router.get("/current", summary="The session of this access token", responses=error_responses(401))
def current_session(db: DbSession, user: CurrentUser, claims: AccessToken) -> SessionOut:
    return _out(sessions.get_owned(db, user.id, claims.session_id), claims.session_id)


@router.delete(
    "/{session_id}",
    status_code=204,
    response_class=Response,
    summary="End one of your sessions",
    responses=error_responses(401, 404, 422),
)
def end_session(
    session_id: SessionId,
    db: DbSession,
    user: CurrentUser,
    claims: AccessToken,
    denylist: DenylistDep,
) -> None:
    session = sessions.get_owned(db, user.id, session_id)
    sessions.revoke_session(db, session, "ended_by_user")
    if session.id == claims.session_id:
        denylist.revoke(db, claims.jti, claims.expires_at)
    db.commit()

"""Accounts: registration, sign-in checks, passwords, and what administrators may change."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coditect.cloud.errors import Conflict, Forbidden, NotFound, Unauthorized
from coditect.cloud.models.base import utcnow
from coditect.cloud.models.user import ROLES, User
from coditect.cloud.passwords import Passwords
from coditect.cloud.schemas.common import normalise_email
from coditect.cloud.services.sessions import revoke_all

__all__ = [
    "authenticate",
    "change_password",
    "create_user",
    "find_by_email",
    "lenient_email",
    "list_users",
    "register",
    "set_password",
    "update_user",
]


def lenient_email(raw: str) -> str:
    """The stored form of ``raw`` if it is a valid address, else ``raw`` stripped and lowercased
    (matches no account, and is still a stable throttling key)."""
    try:
        return normalise_email(raw)
    except ValueError:
        return raw.strip().lower()


def find_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == email))


def create_user(
    db: Session, passwords: Passwords, email: str, password: str, *, role: str = "user"
) -> User:
    """A new account; ``Conflict`` when the (normalised) email is taken."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    email = normalise_email(email)
    if find_by_email(db, email) is not None:
        raise Conflict("an account with this email already exists", details={"field": "email"})
    now = utcnow()
    user = User(
        email=email,
        password_hash=passwords.hash(password),
        role=role,
        is_active=True,
        password_changed_at=now,
    )
    db.add(user)
    db.flush()
    return user


def register(db: Session, passwords: Passwords, email: str, password: str) -> User:
    """Self-service registration: always the ``user`` role."""
    return create_user(db, passwords, email, password, role="user")


def authenticate(db: Session, passwords: Passwords, email: str, password: str) -> User:
    """The active account ``email`` with ``password``; ``Unauthorized`` otherwise.

    Unknown emails are verified against a dummy hash, so they cost the same time.
    """
    user = find_by_email(db, lenient_email(email))
    ok, new_hash = passwords.verify_or_dummy(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        raise Unauthorized("wrong email or password")
    if new_hash is not None:  # the Argon2 parameters changed since this hash was made
        user.password_hash = new_hash
    user.last_login_at = utcnow()
    db.flush()
    return user


def set_password(db: Session, passwords: Passwords, user: User, password: str) -> None:
    user.password_hash = passwords.hash(password)
    user.password_changed_at = utcnow()
    db.flush()


def change_password(
    db: Session,
    passwords: Passwords,
    user: User,
    current: str,
    new: str,
    *,
    keep_session: str | None = None,
) -> int:
    """Replace the password after checking the current one; other sessions end.

    Returns how many sessions were revoked.
    """
    ok, _ = passwords.verify(current, user.password_hash)
    if not ok:
        raise Forbidden("the current password is wrong", details={"field": "current_password"})
    set_password(db, passwords, user, new)
    return revoke_all(db, user.id, "password_changed", keep=keep_session)


def list_users(
    db: Session, *, limit: int, offset: int, email_contains: str | None = None
) -> tuple[list[User], int]:
    """A page of accounts, oldest first, and the total that match."""
    query = select(User)
    if email_contains:
        query = query.where(User.email.contains(email_contains.lower(), autoescape=True))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = db.scalars(query.order_by(User.created_at, User.id).limit(limit).offset(offset))
    return list(page), total


def update_user(
    db: Session, user_id: str, *, role: str | None = None, is_active: bool | None = None
) -> User:
    """Change an account's role or whether it may sign in; the last admin is kept.

    Deactivating an account ends its sessions.
    """
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("no user with this id")
    demoting = (role is not None and role != "admin") or is_active is False
    if user.is_admin and user.is_active and demoting and _active_admins(db) <= 1:
        raise Conflict("this is the last active administrator; promote another one first")
    if role is not None:
        user.role = role
    if is_active is not None:
        user.is_active = is_active
        if not is_active:
            revoke_all(db, user.id, "account_disabled")
    db.flush()
    return user


def _active_admins(db: Session) -> int:
    query = select(func.count()).where(User.role == "admin", User.is_active.is_(True))
    return db.scalar(query.select_from(User)) or 0

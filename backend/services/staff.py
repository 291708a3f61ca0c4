"""Staff accounts: sign-in slowed per (account, address) (backend.services.throttle), and
the admin's staff management (B1, B2)."""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.errors import BadRequest
from backend.models import Branch, StaffUser
from backend.services import throttle
from backend.services.permissions import clean_permissions
from backend.services.throttle import TooManyAttempts

__all__ = ["TooManyAttempts", "authenticate"]  # TooManyAttempts: views import it from here

MIN_PASSWORD_LENGTH = 8
_USERNAME = re.compile(r"[a-z0-9_.-]{3,64}")
# A hash computed once, checked when the username is unknown, so the answer takes as long
# as for a known user and does not reveal which usernames exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def authenticate(session: Session, username: str, password: str, *, ip: str = "",
                 now: datetime | None = None) -> StaffUser | None:
    """The active user with these credentials, or None. Every attempt is recorded and
    committed; while this address must wait for this account (throttle.begin),
    TooManyAttempts is raised before the password is even checked."""
    now = now or datetime.now().astimezone()
    username = username.strip().lower()[:64]
    attempt = throttle.begin(session, username, ip, now)
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).one_or_none()
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    ok = user is not None and user.is_active and valid
    throttle.finish(attempt, ok)
    session.commit()
    return user if ok else None


@dataclass(frozen=True)
class StaffChange:
    full_name: str
    role: str
    branch_id: int | None
    permissions: list[str]
    is_active: bool = True
    locale: str = "fa"


def _check(session: Session, change: StaffChange) -> None:
    if not change.full_name.strip():
        raise BadRequest("full_name", "This field is required.")
    if change.role not in ("admin", "operator"):
        raise BadRequest("role", "Choose a role.")
    if change.role == "operator" and change.branch_id is None:
        raise BadRequest("branch_id", "An operator works at a branch.")
    if change.branch_id is not None and session.get(Branch, change.branch_id) is None:
        raise BadRequest("branch_id", "Choose a branch.")
    if change.locale not in ("fa", "en"):
        raise BadRequest("locale", "Choose a language.")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest("password", "A password has at least 8 characters.")


def create_staff(session: Session, *, username: str, password: str,
                 change: StaffChange) -> StaffUser:
    username = username.strip().lower()
    if not _USERNAME.fullmatch(username):
        raise BadRequest("username", "3–64 characters: a–z, digits, dot, dash, underscore.")
    if session.scalars(select(StaffUser).where(StaffUser.username == username)).first():
        raise BadRequest("username", "This username is taken.")
    _check(session, change)
    _check_password(password)
    user = StaffUser(username=username, password_hash=hash_password(password),
                     full_name=change.full_name.strip(), role=change.role,
                     branch_id=change.branch_id, is_active=change.is_active,
                     permissions=clean_permissions(change.permissions), locale=change.locale)
    session.add(user)
    session.commit()
    return user


def update_staff(session: Session, user_id: int, change: StaffChange, *,
                 acting_user_id: int, new_password: str = "") -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise BadRequest("user", "No such staff user.")
    _check(session, change)
    if user_id == acting_user_id and (change.role != "admin" or not change.is_active):
        # The last way back in must not be locked by its own owner by mistake.
        raise BadRequest("role", "You cannot demote or deactivate yourself.")
    user.full_name, user.role = change.full_name.strip(), change.role
    user.branch_id = change.branch_id
    user.permissions = clean_permissions(change.permissions)
    user.locale = change.locale
    if user.is_active and not change.is_active:
        user.session_version += 1  # signs the user out everywhere
    user.is_active = change.is_active
    if new_password:
        _check_password(new_password)
        user.password_hash = hash_password(new_password)
        user.session_version += 1
    session.commit()
    return user


def end_sessions(session: Session, user_id: int) -> None:
    """Sign the user out everywhere: every session's stored id carries the old version
    (backend.web.auth.load_user), so a copied cookie ends with the real one."""
    user = session.get(StaffUser, user_id)
    if user is not None:
        user.session_version += 1
        session.commit()


def set_locale(session: Session, user_id: int, locale: str) -> None:
    if locale not in ("fa", "en"):
        raise BadRequest("locale", "Choose a language.")
    session.get(StaffUser, user_id).locale = locale
    session.commit()


def change_own_password(session: Session, user_id: int, current: str, new: str) -> None:
    user = session.get(StaffUser, user_id)
    if not check_password_hash(user.password_hash, current):
        raise BadRequest("current_password", "The current password is not right.")
    _check_password(new)
    user.password_hash = hash_password(new)
    user.session_version += 1
    session.commit()

"""Staff accounts: sign-in slowed per (account, address) (backend.services.throttle), and
the admin's staff management (B1, B2)."""

import re
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.errors import BadRequest
from backend.models import Branch, StaffUser
from backend.services import throttle
from backend.services.permissions import clean_permissions
from backend.services.throttle import TooManyAttempts
from backend.unit_of_work import Actor, unit_of_work

# TooManyAttempts: views import it from here
__all__ = ["TooManyAttempts", "authenticate", "sign_in"]

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
    # The try and its outcome are committed in the throttle's own units (a failure stays
    # recorded whatever the caller does next); this function reads nothing else it writes.
    attempt = throttle.begin(session, username, ip, now)
    user = session.scalars(
        select(StaffUser).where(StaffUser.username == username)).one_or_none()
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    ok = user is not None and user.is_active and valid
    throttle.finish(attempt, ok)
    return user if ok else None


def sign_in(session: Session, username: str, password: str, *, actor: Actor,
            now: datetime | None = None) -> StaffUser | None:
    """authenticate (its try recorded in the throttle's own units, before this use case),
    then the `sign_in` audit row of the user who signed in (the actor, who was nobody
    until now) in a unit of its own."""
    user = authenticate(session, username, password, ip=actor.ip, now=now)
    if user is not None:
        with unit_of_work(session, actor) as work:
            work.audit("sign_in", "staff_user", user.id,
                       actor=replace(actor, staff_user_id=user.id))
    return user


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


def _audit_details(username: str, change: StaffChange, password_changed: bool) -> dict:
    return {"username": username, "role": change.role, "branch_id": change.branch_id,
            "permissions": change.permissions, "is_active": change.is_active,
            "password_changed": password_changed}


def create_staff(session: Session, *, username: str, password: str, change: StaffChange,
                 actor: Actor) -> StaffUser:
    with unit_of_work(session, actor) as work:
        user = add_staff_user(session, username, password, change)
        # entity_id stays empty, as in the rows written before the id existed
        work.audit("create_staff", "staff_user", "",
                   _audit_details(username, change, bool(password)))
        return user


def add_staff_user(session: Session, username: str, password: str,
                   change: StaffChange) -> StaffUser:
    """The checked new account, in the caller's unit of work and without an audit row of
    its own (first_run audits the club it is part of)."""
    if not password:
        raise BadRequest("password", "This field is required.")
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
    session.flush()
    return user


def update_staff(session: Session, user_id: int, change: StaffChange, *, actor: Actor,
                 new_password: str = "") -> StaffUser:
    with unit_of_work(session, actor) as work:
        user = _update_staff(session, user_id, change, actor.staff_user_id, new_password)
        work.audit("edit_staff", "staff_user", user_id,
                   _audit_details(user.username, change, bool(new_password)))
        return user


def _update_staff(session: Session, user_id: int, change: StaffChange,
                  acting_user_id: int | None, new_password: str) -> StaffUser:
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
    return user


def end_sessions(session: Session, user_id: int, *, actor: Actor) -> None:
    """Sign the user out everywhere: every session's stored id carries the old version
    (backend.web.auth.load_user), so a copied cookie ends with the real one."""
    with unit_of_work(session, actor):
        user = session.get(StaffUser, user_id)
        if user is not None:
            user.session_version += 1


def set_locale(session: Session, user_id: int, locale: str, *, actor: Actor) -> None:
    with unit_of_work(session, actor):
        if locale not in ("fa", "en"):
            raise BadRequest("locale", "Choose a language.")
        session.get(StaffUser, user_id).locale = locale


def change_own_password(session: Session, user_id: int, current: str, new: str, *,
                        actor: Actor) -> None:
    with unit_of_work(session, actor) as work:
        user = session.get(StaffUser, user_id)
        if not check_password_hash(user.password_hash, current):
            raise BadRequest("current_password", "The current password is not right.")
        _check_password(new)
        user.password_hash = hash_password(new)
        user.session_version += 1
        work.audit("change_password", "staff_user", user_id)

"""Bearer tokens for the JSON API (O5): issue, resolve, revoke.

A token is 32 random bytes (URL-safe text) shown once; the table keeps its SHA-256, a
short prefix to tell tokens apart, its owner, expiry and revocation. A token acts with
exactly its owner's rights: a staff user's permissions and branch, or one member's data.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.errors import BadRequest, Unauthorized
from backend.models import ApiToken, Member, StaffUser
from backend.unit_of_work import SYSTEM, Actor, unit_of_work

TOKEN_PREFIX = "vafa_"
STAFF_TOKEN_TTL = timedelta(hours=1)
MEMBER_TOKEN_TTL = timedelta(days=30)
MAX_INTEGRATION_TOKEN_DAYS = 3650
# last_used_at is written at most this often per token, so reads stay reads.
LAST_USED_RESOLUTION = timedelta(minutes=5)
MAX_ACTIVE_INTEGRATION_TOKENS = 20


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    row: ApiToken


def issue(session: Session, *, kind: str, now: datetime, ttl: timedelta | None,
          staff_user_id: int | None = None, member_id: int | None = None,
          name: str = "") -> IssuedToken:
    """Make a token and commit it (in the caller's unit of work if it has one); the plain
    token exists only in the return value."""
    assert kind in ("staff", "member", "integration"), kind
    assert (staff_user_id is None) != (member_id is None), "a token has exactly one owner"
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with unit_of_work(session, SYSTEM):
        row = ApiToken(kind=kind, token_hash=digest(token), prefix=token[:12], name=name[:80],
                       staff_user_id=staff_user_id, member_id=member_id, created_at=now,
                       expires_at=now + ttl if ttl is not None else None)
        session.add(row)
    return IssuedToken(token, row)


def issue_integration(session: Session, *, name: str, valid_days: int | None, now: datetime,
                      actor: Actor) -> IssuedToken:
    """A long-lived token a staff user (the actor) makes in the panel for a CRM or
    accounting system, audited `create_api_token`. It acts as that user (their
    permissions and branch) until it expires or is revoked."""
    with unit_of_work(session, actor) as work:
        work.audit("create_api_token", "api_token", "", {"name": name})
        return _issue_integration(session, actor.staff_user_id, name, valid_days, now)


def _issue_integration(session: Session, staff_user_id: int, name: str,
                       valid_days: int | None, now: datetime) -> IssuedToken:
    name = (name or "").strip()
    if not name:
        raise BadRequest("name", "Give the token a name, e.g. the system that will use it.")
    if len(name) > 80:
        raise BadRequest("name", "At most 80 characters.")
    if valid_days is not None and not 1 <= valid_days <= MAX_INTEGRATION_TOKEN_DAYS:
        raise BadRequest("valid_days", "Between 1 and 3650 days, or empty for no expiry.")
    active = session.scalars(select(ApiToken.id).where(
        ApiToken.staff_user_id == staff_user_id, ApiToken.kind == "integration",
        ApiToken.revoked_at.is_(None))).all()
    if len(active) >= MAX_ACTIVE_INTEGRATION_TOKENS:
        raise BadRequest("name", "At most 20 integration tokens; revoke an old one first.")
    ttl = timedelta(days=valid_days) if valid_days is not None else None
    return issue(session, kind="integration", staff_user_id=staff_user_id, name=name, ttl=ttl,
                 now=now)


def resolve(session: Session, token: str, now: datetime,
            staff_ttl: timedelta | None = None) -> ApiToken:
    """The live token row for a presented token, with its owner still allowed in.
    `staff_ttl` is the configured life of sign-in staff tokens: shortening it in the
    configuration shortens the tokens already out, too."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest(token))).first() \
        if token.startswith(TOKEN_PREFIX) and len(token) <= 100 else None
    if row is None:
        raise Unauthorized("the token is not valid")
    if row.revoked_at is not None:
        raise Unauthorized("the token has been revoked")
    if (row.expires_at is not None and row.expires_at <= now) or (
            row.kind == "staff" and staff_ttl is not None and row.created_at + staff_ttl <= now):
        raise Unauthorized("the token has expired; ask for a new one")
    if row.staff_user_id is not None:
        user = session.get(StaffUser, row.staff_user_id)
        if user is None or not user.is_active:
            raise Unauthorized("the token's user no longer exists or is disabled")
    else:
        member = session.get(Member, row.member_id)
        if member is None or member.is_gift_account:
            raise Unauthorized("the token's member no longer exists")
    if row.last_used_at is None or row.last_used_at <= now - LAST_USED_RESOLUTION:
        # The one write of a request that may be a GET: when the token was last used.
        with unit_of_work(session, SYSTEM):
            row.last_used_at = now
    return row


def token_state(row: ApiToken, now: datetime) -> str:
    """"revoked", "expired" or "live": what `resolve` would decide by the row's dates."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "live"


def revoke(session: Session, token_id: int, now: datetime, *, staff_user_id: int | None = None,
           member_id: int | None = None) -> ApiToken:
    """Revoke a token of this owner (a token of anyone else is "not found")."""
    with unit_of_work(session, SYSTEM):
        row = session.get(ApiToken, token_id)
        if row is None or (staff_user_id is not None and row.staff_user_id != staff_user_id) \
                or (member_id is not None and row.member_id != member_id):
            raise BadRequest("token", "No such token.")
        if row.revoked_at is None:
            row.revoked_at = now
        return row


def revoke_integration(session: Session, token_id: int, now: datetime, *,
                       actor: Actor) -> ApiToken:
    """The panel's revocation of the actor's own integration token, audited."""
    with unit_of_work(session, actor) as work:
        row = revoke(session, token_id, now, staff_user_id=actor.staff_user_id)
        work.audit("revoke_api_token", "api_token", token_id)
        return row


def revoke_all_of_member(session: Session, member_id: int, now: datetime) -> int:
    """Sign a member out of every app, in the caller's transaction (a password change
    commits with its revocations, or neither happens)."""
    return session.execute(
        update(ApiToken)
        .where(ApiToken.member_id == member_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount

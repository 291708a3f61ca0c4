"""Member sign-in and passwords in units of work (issue 20): a refused sign-in keeps its
recorded failure (the throttle's own unit), a refused password change changes nothing,
and a member acting for themselves leaves no audit row."""

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from backend.errors import BadRequest
from backend.models import ApiToken, AuditLog, LoginAttempt, Member
from backend.services import api_tokens, member_auth
from backend.unit_of_work import Actor
from tests import factories
from tests.conftest import NOW

MEMBER_PORTAL = Actor(None, "10.0.0.8", "portal")


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_a_failed_sign_in_stays_recorded_as_a_failure(db):
    factories.club(db)
    member = factories.member(db, mobile="09121110000")
    member_auth.set_password(db, member.id, "member-pass-1", actor=MEMBER_PORTAL)
    assert member_auth.authenticate(db, "09121110000", "wrong", ip="10.0.0.1", now=NOW) is None
    db.rollback()  # whatever the caller does next, the failure was committed
    [attempt] = db.scalars(select(LoginAttempt)).all()
    assert (attempt.username, attempt.succeeded) == ("member:09121110000", False)
    assert member_auth.authenticate(db, "09121110000", "member-pass-1", ip="10.0.0.1",
                                    now=NOW).id == member.id
    db.rollback()
    assert sorted(db.scalars(select(LoginAttempt.succeeded))) == [False, True]


def test_a_refused_password_change_changes_nothing(db):
    factories.club(db)
    member = factories.member(db)
    member_auth.set_password(db, member.id, "member-pass-1", actor=MEMBER_PORTAL)
    before = db.get(Member, member.id).password_hash
    with pytest.raises(BadRequest, match="current password"):
        member_auth.set_password(db, member.id, "member-pass-2", current_password="wrong",
                                 actor=MEMBER_PORTAL)
    db.expire_all()
    assert db.get(Member, member.id).password_hash == before
    assert count(db, AuditLog) == 0


def test_a_new_password_ends_the_apps_in_the_same_unit(db):
    factories.club(db)
    member = factories.member(db)
    member_auth.set_password(db, member.id, "member-pass-1", actor=MEMBER_PORTAL)
    api_tokens.issue(db, kind="member", now=NOW, ttl=None, member_id=member.id)
    member_auth.set_password(db, member.id, "member-pass-2", current_password="member-pass-1",
                             actor=MEMBER_PORTAL)
    db.rollback()  # committed by the use case itself
    member = db.get(Member, member.id)
    assert check_password_hash(member.password_hash, "member-pass-2")
    assert db.scalar(select(func.count()).select_from(ApiToken).where(
        ApiToken.member_id == member.id, ApiToken.revoked_at.is_(None))) == 0
    assert count(db, AuditLog) == 0  # the member acted for themselves


def test_signing_out_ends_every_session_and_commits(db):
    factories.club(db)
    member = factories.member(db)
    db.commit()
    before = member_auth.fingerprint(member)
    member_auth.end_sessions(db, member.id, actor=MEMBER_PORTAL)
    db.rollback()
    assert member_auth.fingerprint(db.get(Member, member.id)) != before

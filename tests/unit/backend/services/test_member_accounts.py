"""Joining, signing in and resetting by SMS code in units of work (issue 20): a code's
try is counted in its own unit and survives a refusal; the code is used up only with
the change it allowed; a member acting for themselves leaves no audit row."""

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from backend.errors import BadRequest
from backend.models import AuditLog, Member, Message, VerificationCode
from backend.services import member_accounts
from backend.services.verification import CodeRefused
from backend.unit_of_work import Actor
from tests import factories
from tests.conftest import NOW

SECRET = "test-secret"
MEMBER_PORTAL = Actor(None, "10.0.0.8", "portal")


def latest_code(db, mobile: str) -> str:
    return db.scalars(select(Message).where(Message.recipient == mobile)
                      .order_by(Message.id.desc())).first().params["code"]


def the_code_row(db) -> VerificationCode:
    db.expire_all()
    return db.scalars(select(VerificationCode).order_by(VerificationCode.id.desc())).first()


@pytest.fixture
def member(db) -> Member:
    factories.club(db)
    row = factories.member(db, mobile="09121112222")
    db.commit()
    return row


def test_a_wrong_sign_in_code_stays_counted(db, member):
    member_accounts.start_sign_in(db, mobile=member.mobile, ip="10.0.0.1", now=NOW,
                                  secret=SECRET)
    with pytest.raises(CodeRefused, match="not right"):
        member_accounts.complete_sign_in(db, mobile=member.mobile, code="x", now=NOW,
                                         secret=SECRET, actor=MEMBER_PORTAL)
    row = the_code_row(db)
    assert (row.attempts, row.consumed_at) == (1, None)
    code = latest_code(db, member.mobile)
    assert member_accounts.complete_sign_in(db, mobile=member.mobile, code=code, now=NOW,
                                            secret=SECRET, actor=MEMBER_PORTAL).id == member.id
    assert the_code_row(db).consumed_at is not None


def test_a_refused_join_leaves_the_code_unused_and_no_new_member(db, member):
    member_accounts.start_join(db, first_name="Negar", last_name="Rad", mobile="09351234567",
                               ip="10.0.0.1", now=NOW, secret=SECRET)
    code = latest_code(db, "09351234567")
    factories.member(db, mobile="09351234567")  # enrolled at the counter meanwhile
    db.commit()
    with pytest.raises(BadRequest):
        member_accounts.complete_join(
            db, actor=MEMBER_PORTAL, first_name="Negar", last_name="Rad",
            mobile="09351234567", code=code, password="negar-pass-1", referrer_id=None,
            now=NOW, secret=SECRET, card_prefix="990002")
    assert the_code_row(db).consumed_at is None  # used up only with the new member
    assert db.scalar(select(func.count()).select_from(Member).where(
        Member.mobile == "09351234567")) == 1


def test_a_reset_sets_the_password_and_uses_the_code_together(db, member):
    member_accounts.start_sign_in(db, mobile=member.mobile, ip="10.0.0.1", now=NOW,
                                  secret=SECRET, purpose="reset")
    code = latest_code(db, member.mobile)
    with pytest.raises(BadRequest, match="8 characters"):
        member_accounts.complete_reset(db, mobile=member.mobile, code=code, password="short",
                                       now=NOW, secret=SECRET, actor=MEMBER_PORTAL)
    assert the_code_row(db).consumed_at is None
    member_accounts.complete_reset(db, mobile=member.mobile, code=code,
                                   password="member-pass-9", now=NOW, secret=SECRET,
                                   actor=MEMBER_PORTAL)
    db.rollback()  # committed by the use case itself
    assert the_code_row(db).consumed_at is not None
    assert check_password_hash(db.get(Member, member.id).password_hash, "member-pass-9")
    assert db.scalar(select(func.count()).select_from(AuditLog)) == 0

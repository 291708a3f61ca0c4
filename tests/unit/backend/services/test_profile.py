"""The member's profile in one unit of work (issue 20): a profile saved with a new
password is one use case, so a refused password leaves the profile as it was and a
refused profile leaves the password; no audit row (the member acts for themselves)."""

from datetime import date

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from backend.errors import BadRequest
from backend.models import AuditLog, Member
from backend.services import member_auth, profile
from backend.unit_of_work import Actor
from tests import factories
from tests.conftest import NOW

MEMBER_PORTAL = Actor(None, "10.0.0.8", "portal")


def save(db, member_id, **changes):
    fields = dict(email="", promotional_opt_out=False, message_language="fa",
                  birth_date=None, city="Shiraz", gender="", now=NOW, actor=MEMBER_PORTAL)
    fields.update(changes)
    return profile.update_own_profile(db, member_id=member_id, **fields)


@pytest.fixture
def member(db) -> Member:
    factories.club(db)
    row = factories.member(db)
    member_auth.set_password(db, row.id, "member-pass-1", actor=MEMBER_PORTAL)
    return row


def test_a_wrong_current_password_refuses_the_whole_save(db, member):
    with pytest.raises(BadRequest, match="current password"):
        save(db, member.id, city="Tabriz", new_password="member-pass-2",
             current_password="wrong")
    db.expire_all()
    row = db.get(Member, member.id)
    assert row.city != "Tabriz"
    assert check_password_hash(row.password_hash, "member-pass-1")


def test_a_refused_profile_keeps_the_old_password(db, member):
    with pytest.raises(BadRequest, match="past"):
        save(db, member.id, birth_date=date(2100, 1, 1), new_password="member-pass-2",
             current_password="member-pass-1")
    db.expire_all()
    assert check_password_hash(db.get(Member, member.id).password_hash, "member-pass-1")


def test_a_profile_with_a_new_password_is_saved_together_and_not_audited(db, member):
    save(db, member.id, city="Tabriz", new_password="member-pass-2",
         current_password="member-pass-1")
    db.rollback()  # committed by the use case itself
    row = db.get(Member, member.id)
    assert row.city == "Tabriz" and check_password_hash(row.password_hash, "member-pass-2")
    assert db.scalar(select(func.count()).select_from(AuditLog)) == 0

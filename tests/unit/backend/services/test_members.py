"""Members' use cases in one unit of work (issue 20): a change a staff user made leaves
exactly one audit row, a refused change none."""

import pytest
from sqlalchemy import select

from backend.errors import BadRequest
from backend.models import Member
from backend.services import members
from backend.unit_of_work import Actor
from tests import factories
from tests.conftest import NOW


def enrol(db, actor: Actor, *, mobile="09121234567", serial=7001) -> Member:
    return members.register_member(db, actor=actor, first_name="Sara", last_name="Ahmadi",
                                   mobile=mobile, card_number=factories.card_number(serial),
                                   now=NOW)


def test_a_staff_enrolment_leaves_one_audit_row_with_what_the_panel_recorded(db, staff, audit_rows):
    member = enrol(db, staff)
    [row] = audit_rows("create_member")
    assert (row.staff_user_id, row.ip, row.entity, row.entity_id) == \
        (staff.staff_user_id, "10.0.0.9", "member", "")
    assert row.details == {"mobile": "09121234567",
                           "card": factories.card_number(7001)[-4:]}
    assert db.get(Member, member.id) is not None


def test_a_refused_enrolment_leaves_no_member_and_no_audit_row(db, staff, audit_rows):
    enrol(db, staff)
    with pytest.raises(BadRequest):
        enrol(db, staff, serial=7002)  # the same mobile again
    assert len(audit_rows("create_member")) == 1
    assert db.scalars(select(Member).where(Member.mobile == "09121234567")).one()


def test_an_edit_through_the_api_is_audited_once_with_its_via(db, staff, audit_rows):
    member = enrol(db, staff)
    api = Actor(staff.staff_user_id, "10.0.0.5", "api")
    members.update_member(db, member.id, actor=api, first_name="Sara", last_name="Karimi",
                          mobile="09121234567", national_code=None, birth_date=None,
                          wedding_date=None, branch_id=None, profile={}, custom_fields={})
    with pytest.raises(BadRequest):
        members.update_member(db, member.id, actor=api, first_name="", last_name="Karimi",
                              mobile="09121234567", national_code=None, birth_date=None,
                              wedding_date=None, branch_id=None, profile={},
                              custom_fields={})
    [row] = audit_rows("edit_member")
    assert (row.entity, row.entity_id, row.details) == ("member", str(member.id),
                                                        {"via": "api"})
    assert db.get(Member, member.id).last_name == "Karimi"

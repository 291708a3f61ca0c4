"""The member side's use cases write their own audit row (issue 20): a change a staff user
made leaves exactly one row, a refused change none, and a member acting for themselves
none (the audit log records staff actions)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.errors import BadRequest, DomainError
from backend.models import AuditLog, CreditTransfer, Member
from backend.services import card_lifecycle, counter, members, wallet
from backend.unit_of_work import Actor
from tests import factories
from tests.conftest import NOW

PANEL = Actor(staff_user_id=None, ip="10.0.0.9", via="panel")  # its user is set per test
MEMBER_PORTAL = Actor(None, "10.0.0.8", "portal")


def audit_rows(db, action: str) -> list[AuditLog]:
    return list(db.scalars(select(AuditLog).where(AuditLog.action == action)))


@pytest.fixture
def staff(db) -> Actor:
    factories.club(db, max_transfer_rials=1_000_000, max_transfer_per_day_rials=2_000_000)
    factories.tier(db)
    user = factories.staff_user(db)
    return Actor(user.id, PANEL.ip, "panel")


def enrol(db, actor: Actor, *, mobile="09121234567", serial=7001) -> Member:
    return members.register_member(db, actor=actor, first_name="Sara", last_name="Ahmadi",
                                   mobile=mobile, card_number=factories.card_number(serial),
                                   now=NOW)


def test_a_staff_enrolment_leaves_one_audit_row_with_what_the_panel_recorded(db, staff):
    member = enrol(db, staff)
    [row] = audit_rows(db, "create_member")
    assert (row.staff_user_id, row.ip, row.entity, row.entity_id) == \
        (staff.staff_user_id, "10.0.0.9", "member", "")
    assert row.details == {"mobile": "09121234567",
                           "card": factories.card_number(7001)[-4:]}
    assert db.get(Member, member.id) is not None


def test_a_refused_enrolment_leaves_no_member_and_no_audit_row(db, staff):
    enrol(db, staff)
    with pytest.raises(BadRequest):
        enrol(db, staff, serial=7002)  # the same mobile again
    assert len(audit_rows(db, "create_member")) == 1
    assert db.scalars(select(Member).where(Member.mobile == "09121234567")).one()


def test_an_edit_through_the_api_is_audited_once_with_its_via(db, staff):
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
    [row] = audit_rows(db, "edit_member")
    assert (row.entity, row.entity_id, row.details) == ("member", str(member.id),
                                                        {"via": "api"})
    assert db.get(Member, member.id).last_name == "Karimi"


def test_a_transfer_is_audited_once_and_a_refused_or_repeated_one_not_at_all(db, staff):
    sara = factories.member(db, credit_rials=100_000)
    ali = factories.member(db)
    wallet.transfer_credit(db, actor=staff, from_member_id=sara.id, to_member_id=ali.id,
                           amount_rials=30_000, idempotency_key="audit-transfer", now=NOW)
    wallet.transfer_credit(db, actor=staff, from_member_id=sara.id, to_member_id=ali.id,
                           amount_rials=30_000, idempotency_key="audit-transfer", now=NOW)
    with pytest.raises(DomainError):
        wallet.transfer_credit(db, actor=staff, from_member_id=sara.id, to_member_id=ali.id,
                               amount_rials=10_000_000, idempotency_key="too-much", now=NOW)
    [row] = audit_rows(db, "transfer_credit")
    assert (row.entity_id, row.details) == (str(sara.id),
                                            {"to_member_id": ali.id, "amount_rials": 30_000})
    assert len(list(db.scalars(select(CreditTransfer)))) == 1


def test_a_member_converting_their_own_points_leaves_ledger_rows_not_audit_rows(db, staff):
    sara = factories.member(db, points=500)
    wallet.convert_points(db, actor=MEMBER_PORTAL, member_id=sara.id, points=200,
                          idempotency_key="portal-convert", now=NOW)
    wallet.convert_points(db, actor=staff, member_id=sara.id, points=200,
                          idempotency_key="panel-convert", now=NOW)
    [row] = audit_rows(db, "convert_points")
    assert (row.staff_user_id, row.details) == (staff.staff_user_id, {"points": 200})


def test_a_tier_grant_is_audited_against_the_tier(db, staff):
    tier = factories.tier(db, code="gold", rank=3)
    factories.member(db, tier_id=tier.id)
    grant = wallet.grant_credit(db, actor=staff, amount_rials=5_000, reason="Nowruz",
                                tier_id=tier.id, now=NOW,
                                expires_at=NOW + timedelta(days=10))
    with pytest.raises(BadRequest):
        wallet.grant_credit(db, actor=staff, amount_rials=5_000, reason=" ",
                            tier_id=tier.id, now=NOW)
    [row] = audit_rows(db, "grant_tier_credit")
    assert (row.entity, row.entity_id, row.details) == \
        ("tier", str(tier.id), {"amount_rials": 5_000, "reason": "Nowruz"})
    assert grant.member_count == 1


def test_blocking_and_replacing_cards_are_audited_once_each(db, staff):
    sara = factories.member(db)
    lost = factories.card_of(sara)
    db.commit()  # the refusal below rolls back what is not committed
    with pytest.raises(DomainError):
        card_lifecycle.report_lost_card(db, actor=staff, card_number=factories.card_number(1),
                                        now=NOW)
    card_lifecycle.report_lost_card(db, actor=staff, card_number=lost, now=NOW)
    new = factories.card_number(7101)
    card_lifecycle.issue_replacement(db, actor=staff, member_id=sara.id, new_card_number=new,
                                     lost_card_number=lost, now=NOW)
    [blocked] = audit_rows(db, "block_card")
    assert (blocked.entity, blocked.entity_id, blocked.details) == \
        ("card", lost[-4:], {"member_id": sara.id})
    [replaced] = audit_rows(db, "replace_card")
    assert replaced.details == {"lost": lost[-4:], "new": new[-4:]}


def test_a_top_up_is_audited_once_and_a_refused_one_not_at_all(db, staff):
    sara = factories.member(db)
    db.commit()  # the refusal below rolls back what is not committed
    with pytest.raises(BadRequest):
        counter.top_up(db, actor=staff, member_id=sara.id, amount_rials=0,
                       request_key="audit-top-up-refused", now=NOW)
    counter.top_up(db, actor=staff, member_id=sara.id, amount_rials=25_000,
                   request_key="audit-top-up-done", now=NOW)
    [row] = audit_rows(db, "top_up")
    assert (row.entity, row.entity_id, row.details) == \
        ("member", str(sara.id), {"amount_rials": 25_000})
    assert db.get(Member, sara.id).credit_balance_rials == 25_000

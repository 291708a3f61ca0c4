"""Wallet use cases in one unit of work (issue 20): a staff user's change leaves exactly
one audit row, a refused or repeated one none, a member acting for themselves none."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.errors import BadRequest, DomainError
from backend.models import CreditTransfer
from backend.services import wallet
from backend.unit_of_work import Actor
from tests import factories
from tests.conftest import NOW

MEMBER_PORTAL = Actor(None, "10.0.0.8", "portal")


def test_a_transfer_is_audited_once_and_a_refused_or_repeated_one_not_at_all(db, staff, audit_rows):
    sara = factories.member(db, credit_rials=100_000)
    ali = factories.member(db)
    wallet.transfer_credit(db, actor=staff, from_member_id=sara.id, to_member_id=ali.id,
                           amount_rials=30_000, idempotency_key="audit-transfer", now=NOW)
    wallet.transfer_credit(db, actor=staff, from_member_id=sara.id, to_member_id=ali.id,
                           amount_rials=30_000, idempotency_key="audit-transfer", now=NOW)
    with pytest.raises(DomainError):
        wallet.transfer_credit(db, actor=staff, from_member_id=sara.id, to_member_id=ali.id,
                               amount_rials=10_000_000, idempotency_key="too-much", now=NOW)
    [row] = audit_rows("transfer_credit")
    assert (row.entity_id, row.details) == (str(sara.id),
                                            {"to_member_id": ali.id, "amount_rials": 30_000})
    assert len(list(db.scalars(select(CreditTransfer)))) == 1


def test_a_member_converting_their_own_points_leaves_ledger_rows_not_audit_rows(
        db, staff, audit_rows):
    sara = factories.member(db, points=500)
    wallet.convert_points(db, actor=MEMBER_PORTAL, member_id=sara.id, points=200,
                          idempotency_key="portal-convert", now=NOW)
    wallet.convert_points(db, actor=staff, member_id=sara.id, points=200,
                          idempotency_key="panel-convert", now=NOW)
    [row] = audit_rows("convert_points")
    assert (row.staff_user_id, row.details) == (staff.staff_user_id, {"points": 200})


def test_a_tier_grant_is_audited_against_the_tier(db, staff, audit_rows):
    tier = factories.tier(db, code="gold", rank=3)
    factories.member(db, tier_id=tier.id)
    grant = wallet.grant_credit(db, actor=staff, amount_rials=5_000, reason="Nowruz",
                                tier_id=tier.id, now=NOW,
                                expires_at=NOW + timedelta(days=10))
    with pytest.raises(BadRequest):
        wallet.grant_credit(db, actor=staff, amount_rials=5_000, reason=" ",
                            tier_id=tier.id, now=NOW)
    [row] = audit_rows("grant_tier_credit")
    assert (row.entity, row.entity_id, row.details) == \
        ("tier", str(tier.id), {"amount_rials": 5_000, "reason": "Nowruz"})
    assert grant.member_count == 1

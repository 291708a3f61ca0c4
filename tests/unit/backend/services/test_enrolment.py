"""Enrolment tokens in units of work (issue 20): a token is committed by the use case
that issues it, a refused one leaves nothing, and a redeemed token registers its terminal
in the same unit that marks it used."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.errors import BadRequest
from backend.models import AuditLog, Device, EnrolmentToken
from backend.services import enrolment
from tests import factories
from tests.conftest import NOW


@pytest.fixture
def branch(db):
    factories.club(db)
    row = factories.branch(db)
    db.commit()
    return row


def test_an_issued_token_is_committed_by_its_use_case(db, branch):
    issued = enrolment.issue_token(db, device_id="t21", branch_id=branch.id, now=NOW)
    db.rollback()
    assert db.scalars(select(EnrolmentToken.device_id)).all() == ["t21"]
    assert issued.expires_at == NOW + enrolment.TOKEN_LIFETIME


def test_a_refused_token_leaves_nothing(db, branch):
    with pytest.raises(BadRequest):
        enrolment.issue_token(db, device_id="t22", branch_id=branch.id + 99, now=NOW)
    assert db.scalar(select(func.count()).select_from(EnrolmentToken)) == 0


def test_redeeming_uses_the_token_and_registers_the_terminal_together(db, branch):
    issued = enrolment.issue_token(db, device_id="t23", branch_id=branch.id, now=NOW)
    with pytest.raises(enrolment.TokenRefused, match="expired"):
        enrolment.redeem_token(db, issued.token, now=NOW + timedelta(hours=1))
    assert db.get(Device, "t23") is None
    enrolment.redeem_token(db, issued.token, now=NOW)
    db.rollback()  # committed by the use case itself
    assert db.get(Device, "t23") is not None
    assert db.scalars(select(EnrolmentToken.used_at)).one() is not None
    assert db.scalar(select(func.count()).select_from(AuditLog)) == 0

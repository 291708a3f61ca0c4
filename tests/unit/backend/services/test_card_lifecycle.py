"""Card lifecycle use cases in one unit of work (issue 20): each leaves exactly one audit
row, a refused one none."""

import pytest

from backend.errors import DomainError
from backend.services import card_lifecycle
from tests import factories
from tests.conftest import NOW


def test_blocking_and_replacing_cards_are_audited_once_each(db, staff, audit_rows):
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
    [blocked] = audit_rows("block_card")
    assert (blocked.entity, blocked.entity_id, blocked.details) == \
        ("card", lost[-4:], {"member_id": sara.id})
    [replaced] = audit_rows("replace_card")
    assert replaced.details == {"lost": lost[-4:], "new": new[-4:]}

"""The card inventory (C3): a batch's cards are in stock as `issued` until the counter
gives one to a member; numbers the club never issued are refused, cards printed before
the club's first batch are still accepted."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend.errors import BadRequest, CardUnknown
from backend.models import AuditLog, Card, CardBatch, Member
from backend.services import card_lifecycle, cards, members, terminal
from backend.unit_of_work import SYSTEM, Actor
from card_spec import make_card_number
from tests import factories

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
PREFIX = "990007"


@pytest.fixture
def club(db):
    factories.club(db)
    factories.tier(db, rank=1)
    return db


def register(db, number, mobile="09121234567", **fields):
    return members.register_member(db, actor=SYSTEM,
                                   first_name="Nika", last_name="Sadeghi", mobile=mobile,
                                   card_number=number, now=NOW, **fields)


def card(db, number) -> Card:
    return db.scalars(select(Card).where(Card.number == number)).one()


def test_a_batch_puts_its_cards_in_stock(club):
    batch = cards.create_batch(club, actor=SYSTEM,
                               prefix=PREFIX, count=3, label=" spring ", now=NOW)
    stocked = club.scalars(select(Card).where(Card.batch_id == batch.id).order_by(Card.number))
    assert [(row.number, row.status, row.member_id) for row in stocked] == [
        (number, "issued", None) for number in sorted(batch.numbers)]
    assert batch.label == "spring"
    assert cards.stock_counts(club, [batch.id, 999]) == {
        batch.id: {"issued": 3, "active": 0, "blocked": 0},
        999: {"issued": 0, "active": 0, "blocked": 0}}


def test_a_new_member_gets_a_card_from_stock(club):
    batch = cards.create_batch(club, actor=SYSTEM,
                               prefix=PREFIX, count=2, now=NOW - timedelta(days=3))
    number = batch.numbers[1]
    member = register(club, "-".join(number[i:i + 4] for i in range(0, 16, 4)))
    row = card(club, number)
    assert (row.member_id, row.status, row.batch_id) == (member.id, "active", batch.id)
    assert row.assigned_at == NOW and row.issued_at == NOW - timedelta(days=3)
    assert cards.stock_counts(club, [batch.id])[batch.id] == {"issued": 1, "active": 1,
                                                             "blocked": 0}
    assert club.scalar(select(func.count()).select_from(Card)) == 2  # no second row
    with pytest.raises(BadRequest, match="already belongs to a member") as refused:
        register(club, number, mobile="09121234568")
    assert refused.value.field == "card"


def test_a_number_the_club_never_issued_is_refused(club):
    batch = cards.create_batch(club, actor=SYSTEM, prefix=PREFIX, count=2, now=NOW)
    first = batch.first_serial
    not_yet_issued = make_card_number(PREFIX, first + 2)
    with pytest.raises(BadRequest, match="no card with this number was issued") as refused:
        register(club, not_yet_issued)
    assert refused.value.field == "card"
    assert club.scalar(select(func.count()).select_from(Member)) == 0
    assert club.scalars(select(Card).where(Card.number == not_yet_issued)).first() is None


def test_cards_printed_before_the_first_batch_are_still_accepted(club):
    legacy = make_card_number(PREFIX, 5)  # before the batches' range
    club.add(Card(number=make_card_number(PREFIX, 9), status="blocked"))  # the highest old card
    club.flush()
    batch = cards.create_batch(club, actor=SYSTEM, prefix=PREFIX, count=1, now=NOW)
    assert batch.first_serial == 10
    member = register(club, legacy)
    assert (card(club, legacy).member_id, card(club, legacy).status) == (member.id, "active")
    other_prefix = make_card_number("990008", 12345)  # no batch was ever made for it
    register(club, other_prefix, mobile="09121234568")
    assert card(club, other_prefix).batch_id is None


def test_a_blocked_card_from_stock_is_refused(club):
    batch = cards.create_batch(club, actor=SYSTEM, prefix=PREFIX, count=1, now=NOW)
    card(club, batch.numbers[0]).status = "blocked"  # spoiled in print
    with pytest.raises(BadRequest, match="blocked"):
        register(club, batch.numbers[0])


def test_replacement_and_gift_cards_come_from_stock_too(club):
    batch = cards.create_batch(club, actor=SYSTEM, prefix=PREFIX, count=2, now=NOW)
    member = register(club, make_card_number("990008", 1))
    card_lifecycle.issue_replacement(club, actor=SYSTEM,
                                     member_id=member.id, new_card_number=batch.numbers[0],
                                     now=NOW)
    assert card(club, batch.numbers[0]).member_id == member.id
    assert card(club, make_card_number("990008", 1)).status == "blocked"
    gift = card_lifecycle.issue_gift_card(club, actor=SYSTEM,
                                          card_number=batch.numbers[1], value_rials=500_000,
                                          expires_at=NOW + timedelta(days=30), now=NOW)
    assert gift.id == card(club, batch.numbers[1]).id and gift.status == "active"
    assert gift.member.is_gift_account and gift.member.credit_balance_rials == 500_000
    with pytest.raises(BadRequest, match="no card with this number was issued"):
        card_lifecycle.issue_replacement(club, actor=SYSTEM, member_id=member.id,
                                         new_card_number=make_card_number(PREFIX, 999), now=NOW)


def test_a_card_in_stock_is_unknown_at_the_terminal(club):
    batch = cards.create_batch(club, actor=SYSTEM, prefix=PREFIX, count=1, now=NOW)
    with pytest.raises(CardUnknown):
        terminal.find_member_by_card(club, batch.numbers[0])


def test_the_club_logo_goes_on_the_front(club, tmp_path):
    from PIL import Image

    Image.new("RGBA", (64, 64), (255, 0, 0, 255)).save(tmp_path / "logo-abc.png")
    club.get(type(factories.club(club)), 1).logo_filename = "logo-abc.png"
    artwork = cards.artwork(club, tmp_path)
    assert artwork.club_name == "Test Club" and artwork.logo == tmp_path / "logo-abc.png"
    assert cards.artwork(club, tmp_path / "elsewhere").logo is None
    assert cards.artwork(club, tmp_path, club_name="Other").club_name == "Other"


def test_a_refused_batch_leaves_nothing_a_staff_batch_one_audit_row(club):
    panel = Actor(factories.staff_user(club).id, "10.0.0.9", "panel")
    club.commit()  # a refused batch rolls its unit back: the club must outlive it
    with pytest.raises(BadRequest):
        cards.create_batch(club, actor=panel, prefix=PREFIX, count=0, now=NOW)
    with pytest.raises(BadRequest):
        cards.create_batch(club, actor=panel, prefix=PREFIX, count=1, label="x" * 121,
                           now=NOW)
    assert club.scalars(select(AuditLog)).all() == []
    assert club.scalars(select(CardBatch)).all() == []
    cards.create_batch(club, actor=panel, prefix=PREFIX, count=2, now=NOW)
    cards.create_batch(club, actor=SYSTEM, prefix=PREFIX, count=1, now=NOW)  # the CLI
    [row] = club.scalars(select(AuditLog)).all()
    assert (row.action, row.entity, row.ip, row.details) == (
        "create_card_batch", "card_batch", "10.0.0.9", {"count": 2, "prefix": PREFIX})

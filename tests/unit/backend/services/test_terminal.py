import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.errors import (
    CardBlocked,
    CardUnknown,
    InsufficientCredit,
    Replay,
    Stale,
    UnknownDevice,
)
from backend.models import Device, LedgerEntry, Purchase, TerminalRequest
from backend.protocol import Request
from backend.services import terminal
from tests import factories
from tests.conftest import NOW


def request(card, seq=1, op="purchase", amount=250_000, use_credit=0, offline=False, ts=None,
            request_id=None):
    return Request(id=request_id or f"t01-{seq:06d}", seq=seq,
                   ts=ts if ts is not None else int(NOW.timestamp()), op=op, card=card,
                   amount=amount if op == "purchase" else None, use_credit=use_credit,
                   items=None, ref=None, offline=offline)


@pytest.fixture
def till(db):
    factories.device(db, device_id="t01")
    db.commit()
    return "t01"


def count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_purchase_is_priced_recorded_and_answered(db, till):
    member = factories.member(db, credit_rials=50_000)
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member)), NOW))
    assert body["ok"] is True and body["code"] == "OK"
    assert body["member"] == {"name": "Sara A.", "tier": "silver"}
    assert body["tx"] == {"amount": 250_000, "discount": 12_500, "credit_used": 0,
                          "payable": 237_500, "credit_earned": 11_875, "points_earned": 25,
                          "offers": []}
    assert body["bal"] == {"credit": 61_875, "points": 25}
    assert "To pay: 237,500" in body["receipt"]
    purchase = db.scalars(select(Purchase).where(Purchase.member_id == member.id)).one()
    assert (purchase.payable_rials, purchase.device_id) == (237_500, "t01")
    assert ledger.balance_from_entries(db, member.id, "credit") == 61_875
    assert db.get(Device, till).last_seq == 1


def test_spending_credit_goes_through_the_ledger(db, till):
    member = factories.member(db, credit_rials=123_000)
    body = json.loads(terminal.answer(
        db, till, request(factories.card_of(member), use_credit=100_000), NOW))
    assert body["tx"]["credit_used"] == 100_000 and body["tx"]["payable"] == 137_500
    assert body["bal"]["credit"] == 123_000 - 100_000 + 6_875
    amounts = db.scalars(select(LedgerEntry.amount).where(
        LedgerEntry.member_id == member.id, LedgerEntry.account == "credit")
        .order_by(LedgerEntry.id)).all()
    assert amounts == [123_000, -100_000, 6_875]


def test_repeated_id_gets_the_stored_bytes_and_changes_nothing(db, till):
    member = factories.member(db)
    card = factories.card_of(member)
    first = terminal.answer(db, till, request(card), NOW)
    entries = count(db, LedgerEntry)
    again = terminal.answer(db, till, request(card), NOW + timedelta(minutes=3))
    assert again == first
    assert count(db, LedgerEntry) == entries
    assert count(db, Purchase) == 1


def test_new_id_with_an_old_seq_is_a_replay(db, till):
    member = factories.member(db)
    card = factories.card_of(member)
    terminal.answer(db, till, request(card, seq=5), NOW)
    db.commit()
    with pytest.raises(Replay):
        terminal.answer(db, till, request(card, seq=5, request_id="t01-other"), NOW)
    assert count(db, Purchase) == 1


def test_lookup_answers_balances_without_a_transaction(db, till):
    member = factories.member(db, credit_rials=7_000, points=12)
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member), op="lookup"),
                                      NOW))
    assert body["bal"] == {"credit": 7_000, "points": 12}
    assert "tx" not in body
    assert count(db, Purchase) == 0


@pytest.mark.parametrize(("setup", "error"), [
    ("unknown", CardUnknown), ("blocked", CardBlocked), ("overspend", InsufficientCredit),
    ("stale", Stale),
])
def test_refusals_change_nothing(db, till, setup, error):
    member = factories.member(db, credit_rials=1_000,
                              card_status="blocked" if setup == "blocked" else "active")
    card = "9900011234567898" if setup == "unknown" else factories.card_of(member)
    db.commit()  # the service rolls back on refusal; the set-up must survive that
    entries = count(db, LedgerEntry)
    req = request(card, use_credit=5_000 if setup == "overspend" else 0,
                  offline=setup == "stale",
                  ts=int((NOW - timedelta(days=8)).timestamp()) if setup == "stale" else None)
    with pytest.raises(error):
        terminal.answer(db, till, req, NOW)
    assert count(db, LedgerEntry) == entries
    assert count(db, Purchase) == 0
    assert count(db, TerminalRequest) == 0
    assert db.get(Device, till).last_seq == 0


def test_offline_replay_inside_the_window_is_accepted(db, till):
    member = factories.member(db)
    req = request(factories.card_of(member), offline=True,
                  ts=int((NOW - timedelta(days=6)).timestamp()))
    body = json.loads(terminal.answer(db, till, req, NOW))
    assert body["ok"] is True
    assert db.scalars(select(Purchase.offline)).one() is True


def test_revoked_device_is_refused(db, till):
    db.get(Device, till).status = "revoked"
    member = factories.member(db)
    db.commit()
    with pytest.raises(UnknownDevice):
        terminal.answer(db, till, request(factories.card_of(member)), NOW)

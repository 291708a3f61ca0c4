"""What a terminal may do with money (issue 17 item 5, issue 15 item 8): top-ups off by
default and within limits, refunds only with the PIN, in the window, of the scanned
card's purchase; every refusal audited, and five wrong PINs lock the terminal's refunds."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.errors import NotAllowed, PinWrong, RefUnknown, TooLate
from backend.models import AuditLog, Branch, Card, Device, LedgerEntry, Member, Refund
from backend.protocol import Request
from backend.services import terminal, terminal_policy
from backend.unit_of_work import SYSTEM
from card_spec import make_card_number
from tests import factories
from tests.conftest import NOW

PIN = "2468"


class Till:
    """One terminal and one member; requests numbered as the terminal numbers them."""

    def __init__(self, db, device_id="t01", lang="en"):
        self.db = db
        self.branch = factories.branch(db)
        factories.device(db, device_id=device_id, branch_id=self.branch.id, lang=lang)
        self.device_id = device_id
        self.member = factories.member(db, credit_rials=10_000)
        self.card = factories.card_of(self.member)
        self.seq = 0
        db.commit()  # refusals roll back; the set-up must survive that

    def request(self, op, *, card=None, amount=None, ref=None, pin=None, sold_at=None
                ) -> Request:
        self.seq += 1
        fields = dict(id=f"{self.device_id}-{self.seq:06d}", seq=self.seq,
                      ts=int((sold_at or NOW).timestamp()), op=op, card=card or self.card,
                      amount=amount, use_credit=0, items=None, ref=ref,
                      offline=sold_at is not None)
        return Request(**fields, pin=pin)

    def answer(self, request, at=NOW) -> dict:
        return json.loads(terminal.answer(self.db, self.device_id, request, at))

    def buy(self, amount=100_000, card=None, at=NOW) -> str:
        body = self.answer(self.request("purchase", card=card, amount=amount), at)
        assert body["ok"], body
        return body["id"]

    def refund(self, ref, pin=PIN, amount=None, card=None, at=NOW) -> dict:
        return self.answer(self.request("refund", ref=ref, pin=pin, amount=amount, card=card), at)

    def top_up(self, amount, at=NOW) -> dict:
        return self.answer(self.request("topup", amount=amount), at)

    @property
    def device(self) -> Device:
        return self.db.get(Device, self.device_id)

    def settings(self, **changes):
        current = {name: getattr(self.device, name)
                   for name in ("topup_allowed", "topup_max_rials", "topup_max_per_day_rials",
                                "refund_allowed", "refund_max_rials", "refund_max_per_day_rials",
                                "refund_window_hours")}
        terminal_policy.save_terminal_settings(
            self.db, self.device_id, terminal_policy.TerminalSettings(**{**current, **changes}),
            actor=SYSTEM)
        self.db.commit()

    def branch_pin(self, pin=PIN, window_hours=24):
        terminal_policy.save_branch_refund_settings(self.db, self.branch.id, pin=pin,
                                                    window_hours=window_hours, actor=SYSTEM)
        self.db.commit()

    def credit(self) -> int:
        return self.db.get(Member, self.member.id).credit_balance_rials

    def audits(self, action=None):
        statement = select(AuditLog).where(AuditLog.entity == "device",
                                           AuditLog.entity_id == self.device_id)
        if action:
            statement = statement.where(AuditLog.action == action)
        return self.db.scalars(statement.order_by(AuditLog.id)).all()


@pytest.fixture
def till(db):
    return Till(db)


def detail(body) -> str:
    """What the screen shows after the code's own text ("Wrong or missing PIN: …")."""
    assert body["ok"] is False, body
    return body["msg"].split(": ", 1)[1]


def count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_a_new_terminal_may_not_top_up_and_the_refusal_is_audited(db, till):
    entries = count(db, LedgerEntry)
    refused = till.top_up(10**13)
    assert refused["code"] == NotAllowed.code, refused
    assert refused["msg"] == (
        "Not allowed on this terminal: top-up is off here; set it in the panel")
    assert (till.credit(), count(db, LedgerEntry)) == (10_000, entries)
    (row,) = till.audits()
    assert row.action == "terminal_refused"
    assert row.details == {"op": "topup", "request_id": "t01-000001", "card": till.card[-4:],
                           "amount_rials": 10**13, "code": "NOT_ALLOWED",
                           "reason": "topup_off"}


def test_top_ups_within_the_limits_per_transaction_and_per_local_day(db, till):
    till.settings(topup_allowed=True, topup_max_rials=500_000,
                  topup_max_per_day_rials=1_000_000)
    refused = till.top_up(500_001)
    assert refused["code"] == NotAllowed.code, refused
    assert detail(refused) == "at most 500,000 per top-up"
    assert till.top_up(500_000)["ok"] and till.top_up(300_000)["ok"]
    refused = till.top_up(200_001)
    assert refused["code"] == NotAllowed.code, refused
    assert detail(refused) == "daily top-up limit 1,000,000, 200,000 left today"
    # Above both limits, the lower one is named: what may still be done now.
    refused = till.top_up(600_000)
    assert detail(refused) == "daily top-up limit 1,000,000, 200,000 left today"
    assert till.top_up(200_000)["ok"]
    assert till.credit() == 10_000 + 1_000_000
    # NOW is 13:00 in Tehran; the next local day starts at 20:30 UTC.
    assert till.top_up(500_000, at=NOW + timedelta(hours=11, minutes=1))["ok"]
    assert [row.details["reason"] for row in till.audits("terminal_refused")] == [
        "topup_each", "topup_day", "topup_day"]


def test_top_ups_are_never_allowed_without_both_limits(db, till):
    with pytest.raises(Exception) as refused:
        till.settings(topup_allowed=True, topup_max_rials=500_000)
    assert refused.value.field == "topup_max_per_day_rials"
    assert till.device.topup_allowed is False


def test_a_persian_terminal_is_told_in_persian(db):
    till = Till(db, device_id="t09", lang="fa")
    till.settings(topup_allowed=True, topup_max_rials=500_000, topup_max_per_day_rials=600_000)
    assert till.top_up(400_000)["ok"]
    refused = till.top_up(300_000)
    assert refused["code"] == NotAllowed.code, refused
    assert detail(refused) == "سقف روزانهٔ شارژ 600,000 ریال، 200,000 ریال مانده"
    ref = till.buy()
    refused = till.refund(ref)
    assert refused["code"] == PinWrong.code, refused
    assert refused["msg"] == (
        "رمز نادرست است: رمز بازگشت خرید را در پنل تعیین کنید")


def test_refund_without_a_pin_set_anywhere_is_refused(db, till):
    ref = till.buy()
    refused = till.refund(ref)
    assert refused["code"] == PinWrong.code, refused
    assert detail(refused) == "set a refund PIN in the panel"
    assert count(db, Refund) == 0
    assert till.audits(terminal_policy.AUDIT_REFUSED)[-1].details["reason"] == "pin_missing"


def test_the_branch_pin_and_the_terminal_override(db, till):
    ref = till.buy()
    till.branch_pin("۱۳۵۷")  # typed in Persian digits
    assert till.refund(ref, pin=PIN)["code"] == PinWrong.code
    assert till.refund(ref, pin="1357", amount=10_000)["ok"]
    till.settings(refund_pin="٢٤٦٨")  # Arabic-Indic digits; the branch's no longer works
    assert till.refund(ref, pin="1357", amount=10_000)["code"] == PinWrong.code
    assert till.refund(ref, pin=PIN, amount=10_000)["ok"]
    assert PIN not in till.device.refund_pin_hash  # a hash, not the PIN
    till.settings(clear_refund_pin=True)
    assert till.refund(ref, pin="1357")["ok"]
    assert db.get(Branch, till.branch.id).refund_pin_hash.startswith("scrypt:")


@pytest.mark.parametrize("typed", ["123", "123456789", "12a4", ""])
def test_a_pin_is_four_to_eight_digits(db, till, typed):
    with pytest.raises(Exception) as refused:
        terminal_policy.hash_pin(typed)
    assert refused.value.field == "refund_pin"


def test_five_wrong_pins_in_15_minutes_lock_refunds_for_15_minutes(db, till):
    ref = till.buy()
    till.branch_pin()
    messages = []
    for minute in range(5):
        refused = till.refund(ref, pin="0000", at=NOW + timedelta(minutes=minute))
        assert refused["code"] == PinWrong.code, refused
        messages.append(detail(refused))
    assert messages == ["tries left: 4", "tries left: 3", "tries left: 2", "tries left: 1",
                        "refunds locked for 15 min"]
    locked_at = NOW + timedelta(minutes=4)
    assert till.device.refund_locked_until == locked_at + timedelta(minutes=15)
    # The right PIN, while locked:
    refused = till.refund(ref, at=locked_at + timedelta(minutes=14))
    assert refused["code"] == PinWrong.code, refused
    assert detail(refused) == "refunds locked for 1 min"
    assert count(db, Refund) == 0
    assert till.refund(ref, at=locked_at + timedelta(minutes=15))["ok"]
    assert len(till.audits("terminal_refund_pin_wrong")) == 5
    assert len(till.audits("terminal_refunds_locked")) == 1


def test_wrong_pins_spread_over_more_than_15_minutes_do_not_lock(db, till):
    ref = till.buy()
    till.branch_pin()
    for minute in (0, 4, 8, 12, 16):  # the first has expired when the fifth comes
        refused = till.refund(ref, pin="0000", at=NOW + timedelta(minutes=minute))
        assert refused["code"] == PinWrong.code
    assert till.device.refund_locked_until is None
    assert till.refund(ref, at=NOW + timedelta(minutes=17))["ok"]


def test_refund_window_of_the_branch_and_of_the_terminal(db, till):
    ref = till.buy()
    till.branch_pin()
    refused = till.refund(ref, at=NOW + timedelta(hours=24, seconds=1))
    assert refused["code"] == TooLate.code, refused
    assert detail(refused) == "refund only within 24 h"
    till.settings(refund_window_hours=48)
    assert till.refund(ref, at=NOW + timedelta(hours=47))["ok"]
    assert till.audits(terminal_policy.AUDIT_REFUSED)[-1].details["reason"] == "too_late"


def test_offline_sales_are_refunded_within_the_window_from_their_sale(db, till):
    till.branch_pin()
    early, late = (till.answer(till.request("purchase", amount=80_000, sold_at=NOW - ago))
                   for ago in (timedelta(hours=25), timedelta(hours=20)))
    assert early["ok"] and late["ok"]
    assert till.refund(early["id"])["code"] == TooLate.code  # 25 h after the sale
    assert till.refund(late["id"])["ok"]


def test_refund_names_a_purchase_of_the_scanned_card(db, till):
    till.branch_pin()
    ref = till.buy()
    other = factories.member(db)
    # The same member's second card: a purchase of one card is not the other's.
    second = Card(number=make_card_number("990001", 990_123), member_id=till.member.id,
                  status="active")
    db.add(second)
    db.commit()
    for card in (factories.card_of(other), second.number):
        assert till.refund(ref, card=card)["code"] == RefUnknown.code
    assert till.refund("t01-999999")["code"] == RefUnknown.code
    assert till.refund(ref)["ok"]
    assert till.refund(ref)["code"] == RefUnknown.code  # refunded already


def test_refunds_can_be_turned_off_or_limited(db, till):
    till.branch_pin()
    ref = till.buy(amount=300_000)
    till.settings(refund_allowed=False)
    refused = till.refund(ref)
    assert refused["code"] == NotAllowed.code, refused
    assert detail(refused) == "refund is off here; set it in the panel"
    till.settings(refund_allowed=True, refund_max_rials=100_000, refund_max_per_day_rials=150_000)
    refused = till.refund(ref)  # the whole purchase: 300,000
    assert refused["code"] == NotAllowed.code, refused
    assert detail(refused) == "at most 100,000 per refund"
    assert till.refund(ref, amount=100_000)["ok"]
    refused = till.refund(ref, amount=60_000)
    assert refused["code"] == NotAllowed.code, refused
    assert detail(refused) == "daily refund limit 150,000, 50,000 left today"
    assert till.refund(ref, amount=50_000)["ok"]

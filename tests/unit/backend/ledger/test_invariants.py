"""Stateful property test: random sequences of terminal purchases, replays, refunds,
top-ups, expiring grants, transfers and expiry runs, against a real database.

After every step: each member's cached balance equals the sum of their ledger entries and
the sum of their credit lots, nothing is negative, no cap is exceeded, and the machine's
own simple model of every balance agrees with the database."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select

from backend import ledger
from backend.errors import DomainError
from backend.extensions import db as flask_db
from backend.models import Club, LedgerEntry, LedgerTransaction, Member
from backend.protocol import Request
from backend.services import purchases, terminal, wallet
from backend.unit_of_work import SYSTEM
from tests import factories

START = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
MEMBERS = 3
INVOICE_CAP_RIALS = 150_000
REFUND_PIN = "1234"
REFUND_HOURS = 2160
POINT_VALUE_RIALS = 100


@pytest.fixture(scope="module")
def live_app(tmp_path_factory, databases, app):
    from tests.conftest import build_app

    return build_app(tmp_path_factory, databases, app.database_kind)


class LedgerMachine(RuleBasedStateMachine):
    app = None

    @initialize()
    def set_up(self):
        self.context = self.app.app_context()
        self.context.push()
        self.session = flask_db.session
        self.now = START
        # Points expire (L1): every purchase's points open a lot the nightly job expires.
        factories.club(self.session, max_transfer_rials=10**9, max_transfer_per_day_rials=10**9,
                       points_expiry_days=20, point_value_rials=POINT_VALUE_RIALS)
        branch = factories.branch(self.session)
        tier = factories.tier(self.session, max_credit_per_invoice_rials=INVOICE_CAP_RIALS)
        self.device = f"d{branch.id:05d}"
        # This terminal may top up (limits above anything drawn here) and knows its refund
        # PIN; refunds stay inside their longest window unless time passes beyond it.
        factories.device(self.session, device_id=self.device, branch_id=branch.id,
                         topup_allowed=True, topup_max_rials=10**12,
                         topup_max_per_day_rials=10**12, refund_window_hours=REFUND_HOURS,
                         refund_pin_hash=factories.cheap_password_hash(REFUND_PIN))
        self.members = [factories.member(self.session, tier_id=tier.id) for _ in range(MEMBERS)]
        self.session.commit()
        self.ids = [member.id for member in self.members]
        self.cards = [factories.card_of(member) for member in self.members]
        self.expected = {member_id: 0 for member_id in self.ids}
        self.seq = 0
        self.sent: list[tuple[Request, bytes]] = []
        self.purchases: list[tuple[int, str]] = []  # (member id, request id)

    def teardown(self):
        flask_db.session.remove()
        self.context.pop()

    def request(self, **fields) -> Request:
        self.seq += 1
        base = dict(id=f"r{self.seq}", seq=self.seq, ts=int(self.now.timestamp()),
                    op="purchase", card=self.cards[0], amount=None, use_credit=0, items=None,
                    ref=None, offline=False)
        base.update(fields)
        return Request(**base)

    def answer(self, request: Request):
        body = terminal.answer(self.session, self.device, request, self.now)
        # Refusals are stored answers too: replaying one must give the same bytes.
        self.sent.append((request, body))
        reply = json.loads(body)
        if not reply["ok"]:
            refusal = DomainError(reply["msg"])
            refusal.code = reply["code"]
            return refusal
        return reply

    @rule(who=st.integers(0, MEMBERS - 1), amount=st.integers(1, 2_000_000),
          use_credit=st.sampled_from([0, -1, 10_000, 200_000]))
    def buy(self, who, amount, use_credit):
        reply = self.answer(self.request(card=self.cards[who], amount=amount,
                                         use_credit=use_credit))
        if isinstance(reply, DomainError):
            assert reply.code in ("INSUFFICIENT_CREDIT", "LIMIT")
            return
        tx = reply["tx"]
        assert tx["credit_used"] <= INVOICE_CAP_RIALS
        self.expected[self.ids[who]] += tx["credit_earned"] - tx["credit_used"]
        self.purchases.append((self.ids[who], reply["id"]))

    @precondition(lambda self: self.sent)
    @rule(index=st.integers(0, 10**6))
    def replay(self, index):
        request, body = self.sent[index % len(self.sent)]
        before = dict(self.balances())
        assert terminal.answer(self.session, self.device, request, self.now) == body
        assert self.balances() == before

    @precondition(lambda self: self.purchases)
    @rule(index=st.integers(0, 10**6), part=st.sampled_from([None, 1, 3]))
    def refund(self, index, part):
        member_id, request_id = self.purchases[index % len(self.purchases)]
        who = self.ids.index(member_id)
        purchase = purchases.by_terminal_request(self.session, self.device, request_id)
        left = purchase.amount_rials - purchase.refunded_amount_rials
        amount = None if part is None else max(1, left // part)
        reply = self.answer(self.request(op="refund", card=self.cards[who], ref=request_id,
                                         amount=amount, pin=REFUND_PIN))
        if isinstance(reply, DomainError):
            too_late = self.now - purchase.created_at > timedelta(hours=REFUND_HOURS)
            assert (left == 0 and reply.code == "REF_UNKNOWN") or (
                too_late and reply.code == "TOO_LATE")
            return
        tx = reply["tx"]
        self.expected[member_id] += tx["credit_returned"] - tx["credit_taken"]

    @rule(who=st.integers(0, MEMBERS - 1), amount=st.integers(1, 500_000))
    def top_up(self, who, amount):
        reply = self.answer(self.request(op="topup", card=self.cards[who], amount=amount))
        assert reply["ok"]
        self.expected[self.ids[who]] += amount

    @rule(who=st.integers(0, MEMBERS - 1), amount=st.integers(1, 300_000),
          days=st.integers(1, 20))
    def grant(self, who, amount, days):
        wallet.grant_credit(self.session, actor=SYSTEM,
                            member_id=self.ids[who], amount_rials=amount,
                            reason="test", expires_at=self.now + timedelta(days=days),
                            now=self.now)
        self.expected[self.ids[who]] += amount

    @rule(giver=st.integers(0, MEMBERS - 1), taker=st.integers(0, MEMBERS - 1),
          amount=st.integers(1, 300_000))
    def transfer(self, giver, taker, amount):
        if giver == taker:
            return
        try:
            wallet.transfer_credit(self.session, actor=SYSTEM, from_member_id=self.ids[giver],
                                   to_member_id=self.ids[taker], amount_rials=amount,
                                   idempotency_key=f"{self.device}-t{self.seq}", now=self.now)
        except DomainError:
            self.session.rollback()
            return
        finally:
            self.seq += 1
        self.expected[self.ids[giver]] -= amount
        self.expected[self.ids[taker]] += amount

    @rule(who=st.integers(0, MEMBERS - 1), points=st.integers(1, 60))
    def convert_points(self, who, points):
        member_id = self.ids[who]
        try:
            wallet.convert_points(self.session, actor=SYSTEM, member_id=member_id, points=points,
                                  idempotency_key=f"convert-{self.seq}", now=self.now)
        except DomainError:
            # Refused (more than the unexpired points): nothing moved.
            return
        finally:
            self.seq += 1
        self.expected[member_id] += points * POINT_VALUE_RIALS

    @rule(days=st.integers(1, 15))
    def time_passes(self, days):
        self.now += timedelta(days=days)
        wallet.expire_points(self.session, self.now)
        before = self.balances()
        wallet.expire_credit(self.session, self.now)
        after = self.balances()
        for member_id in self.ids:
            expired = -self.session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                .join(LedgerTransaction)
                .where(LedgerEntry.member_id == member_id, LedgerTransaction.kind == "expiry",
                       LedgerEntry.created_at == self.now))
            # Expiry leaves the balance only through its own ledger entries.
            assert before[member_id] - after[member_id] == expired
            self.expected[member_id] -= expired

    def balances(self) -> dict[int, int]:
        self.session.expire_all()
        return {member_id: self.session.get(Member, member_id).credit_balance_rials
                for member_id in self.ids}

    @invariant()
    def books_balance(self):
        if not hasattr(self, "ids"):
            return
        self.session.expire_all()
        for member_id in self.ids:
            member = self.session.get(Member, member_id)
            credit = ledger.balance_from_entries(self.session, member_id, "credit")
            points = ledger.balance_from_entries(self.session, member_id, "points")
            assert credit == member.credit_balance_rials == ledger.credit_in_lots(
                self.session, member_id)
            assert points == member.points_balance
            assert credit >= 0 and points >= 0
            assert 0 <= ledger.points_in_lots(self.session, member_id) <= points
            assert 0 <= ledger.spendable_points(self.session, member, self.now) <= points
            assert credit == self.expected[member_id]
        self.session.rollback()


def test_ledger_invariants_hold_under_random_operations(live_app):
    LedgerMachine.app = live_app
    runner = LedgerMachine.TestCase
    runner.settings = settings(max_examples=20, stateful_step_count=25, deadline=None,
                               suppress_health_check=list(HealthCheck))
    runner().runTest()


def test_club_is_set_up_once(live_app):
    # Every example of the machine runs `set_up` against the same module database: the
    # second one must find the club the first made (one row, id 1, with the settings the
    # machine relies on), not add another or lose its settings.
    LedgerMachine.app = live_app
    for _ in range(2):
        machine = LedgerMachine()
        machine.set_up()
        machine.teardown()
    with live_app.app_context():
        clubs = flask_db.session.scalars(select(Club)).all()
        assert [(club.id, club.points_expiry_days, club.point_value_rials,
                 club.max_transfer_rials) for club in clubs] == [
            (1, 20, POINT_VALUE_RIALS, 10**9)]

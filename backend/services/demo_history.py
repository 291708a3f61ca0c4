"""The demo club's past: every member's purchases, simulated with the real rules and
written in bulk (backend.services.demo calls `write_history`).

Why simulated: the demo's tiers must be earned. Each purchase is priced by the engine
(`engine.price_purchase`: tier discount, offers, credit spent, credit and points earned,
the weekday multiplier) with the member's tier at that moment; a purchase that meets a
higher tier's thresholds moves the member up (`engine.decide_tier`, as
`services.tiers.apply_on_purchase` does), and the nightly run after a purchase leaves the
club's tier window moves them down again if they no longer qualify (as
`services.tiers.evaluate_all` does). Referrers earn their join bonus, first-purchase
bonus and commission. Then the rows go in with one executemany per table — the same rows
the services write: ledger transactions, entries, credit lots and allocations (credit
spent oldest lot first), purchases, offer redemptions, tier changes, and the happy calls
of the last day's purchases. Members' cached balances, spend, purchase counts and tiers
are the simulation's final state, so the ledger adds up (`reports.seed.check_ledger`)
and the nightly tier job finds nothing to move.

Why fast: `make run` seeds on first start and the tests seed often; about a thousand
purchases go in a fraction of a second this way, where a service call per purchase
takes tens of seconds.

Not written for the past: the thank-you SMS of each purchase (they would have used the
demo's SMS quota long ago), and happy calls for purchases older than a day (as if the
calls were made and closed before the demo's day one; see docs/panel.md).
"""

import heapq
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backend import engine
from backend.engine.calendar import CLUB_TIMEZONE, local
from backend.models import (
    CallTask,
    CreditAllocation,
    CreditLot,
    LedgerEntry,
    LedgerTransaction,
    Member,
    Offer,
    OfferRedemption,
    Purchase,
    Tier,
    TierChange,
    the_club,
)
from backend.services import happy_calls
from backend.services.purchase_pipeline.rules import club_rules, engine_offer, tier_rules
from backend.services.reports.seed import fix_sequences

BASIS_POINTS = 10_000
NIGHTLY_LOCAL_HOUR = 1  # backend.jobs.daily runs "nightly" from 01:00 Tehran


@dataclass
class PlannedPurchase:
    moment: datetime
    amount_rials: int
    branch_id: int
    use_credit: bool = False


@dataclass
class PlannedMember:
    """A member row already flushed (its id known) and what it will do."""

    member: Member
    welcome_credit_rials: int
    purchases: list[PlannedPurchase] = field(default_factory=list)
    # The tier the member starts in; None: the lowest, as the counter enrols them.
    start_tier: Tier | None = None


@dataclass
class _State:
    plan: PlannedMember
    tier: Tier
    card_id: int
    credit: int = 0
    points: int = 0
    spend: int = 0
    count: int = 0
    last_visit: datetime | None = None
    # Open credit lots' rows, oldest first. The demo's credit never expires and the club
    # spends it at every branch, so the ledger takes them in id order (ledger._open_lots).
    lots: list[dict] = field(default_factory=list)
    window: list[tuple[datetime, int]] = field(default_factory=list)  # (moment, payable)
    offer_uses: dict[int, int] = field(default_factory=dict)
    credit_spent_on: dict[date, int] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryResult:
    purchases: int
    tier_changes: int


class _Writer:
    """Rows with ids handed out here, inserted table by table at the end."""

    ORDER = (LedgerTransaction, LedgerEntry, CreditLot, CreditAllocation, Purchase,
             OfferRedemption, TierChange, CallTask)

    def __init__(self, session: Session):
        self.rows: dict[type, list[dict]] = {model: [] for model in self.ORDER}
        self.next_id = {model: int(session.scalar(select(func.coalesce(func.max(model.id), 0))))
                        + 1 for model in self.ORDER}

    def add(self, model, **values) -> int:
        row_id = self.next_id[model]
        self.next_id[model] += 1
        self.rows[model].append({"id": row_id, **values})
        return row_id

    def flush(self, session: Session) -> None:
        for model in self.ORDER:
            if self.rows[model]:
                session.execute(insert(model.__table__), self.rows[model])
        fix_sequences(session, self.ORDER)


def nightly_after(moment: datetime) -> datetime:
    """The first nightly run at or after `moment` (01:00 Tehran)."""
    day = local(moment).date()
    run = datetime.combine(day, time(NIGHTLY_LOCAL_HOUR), tzinfo=CLUB_TIMEZONE)
    return run if run >= moment else run + timedelta(days=1)


class _Club:
    """The rules and the running state of every member, in time order."""

    def __init__(self, session: Session, writer: _Writer, now: datetime):
        self.writer = writer
        self.now = now
        self.club = the_club(session)
        assert self.club.credit_cross_branch and not self.club.instant_cashback, \
            "the demo's simulation spends credit at every branch and pays it as credit"
        self.window = timedelta(days=self.club.tier_window_days)
        self.tiers = list(session.scalars(select(Tier).order_by(Tier.rank)))
        self.tier_by_code = {tier.code: tier for tier in self.tiers}
        self.thresholds = [engine.TierThreshold(
            code=tier.code, rank=tier.rank, min_spend_rials=tier.min_spend_rials,
            min_purchases=tier.min_purchases, mode=tier.qualify_mode) for tier in self.tiers]
        self.offers = [engine_offer(row) for row in session.scalars(
            select(Offer).where(Offer.is_active).order_by(Offer.id))]
        self.states: dict[int, _State] = {}
        self.purchases = 0
        self.tier_changes = 0

    # The ledger, as ledger.post writes it.

    def _transaction(self, state: _State, key: str, kind: str, reason: str,
                     moment: datetime) -> int:
        return self.writer.add(LedgerTransaction, idempotency_key=key, kind=kind,
                               member_id=state.plan.member.id, reason=reason,
                               created_at=moment)

    def _credit_in(self, state: _State, transaction_id: int, amount: int, moment: datetime,
                   branch_id: int | None) -> None:
        self.writer.add(LedgerEntry, transaction_id=transaction_id,
                        member_id=state.plan.member.id, account="credit", amount=amount,
                        created_at=moment)
        self.writer.add(CreditLot, member_id=state.plan.member.id,
                        transaction_id=transaction_id, branch_id=branch_id,
                        amount_rials=amount, remaining_rials=amount, expires_at=None,
                        created_at=moment)
        # The row itself: spending lowers its remaining amount before it is written.
        state.lots.append(self.writer.rows[CreditLot][-1])
        state.credit += amount

    def _credit_out(self, state: _State, transaction_id: int, amount: int,
                    moment: datetime) -> None:
        entry_id = self.writer.add(LedgerEntry, transaction_id=transaction_id,
                                   member_id=state.plan.member.id, account="credit",
                                   amount=-amount, created_at=moment)
        needed = amount
        for lot in state.lots:
            take = min(lot["remaining_rials"], needed)
            if take:
                lot["remaining_rials"] -= take
                needed -= take
                self.writer.add(CreditAllocation, entry_id=entry_id, lot_id=lot["id"],
                                amount_rials=take)
            if not needed:
                break
        assert needed == 0, "the engine spends no more than the lots hold"
        state.lots = [lot for lot in state.lots if lot["remaining_rials"]]
        state.credit -= amount

    def _points_in(self, state: _State, transaction_id: int, points: int,
                   moment: datetime) -> None:
        self.writer.add(LedgerEntry, transaction_id=transaction_id,
                        member_id=state.plan.member.id, account="points", amount=points,
                        created_at=moment)
        state.points += points

    # Events.

    def join(self, plan: PlannedMember, card_id: int) -> None:
        member = plan.member
        state = _State(plan, plan.start_tier or self.tiers[0], card_id)
        self.states[member.id] = state
        if plan.welcome_credit_rials:
            transaction = self._transaction(state, f"demo:welcome:{member.id}", "welcome",
                                            "welcome bonus", member.joined_at)
            self._credit_in(state, transaction, plan.welcome_credit_rials, member.joined_at,
                            None)
        if member.referrer_id is not None and self.club.referral_join_bonus_rials:
            sponsor = self.states[member.referrer_id]
            transaction = self._transaction(sponsor, f"referral-join:{member.id}", "referral",
                                            f"member {member.id} joined", member.joined_at)
            self._credit_in(sponsor, transaction, self.club.referral_join_bonus_rials,
                            member.joined_at, None)

    def _window_totals(self, state: _State, moment: datetime) -> tuple[int, int]:
        inside = [payable for when, payable in state.window
                  if moment - self.window < when <= moment]
        return sum(inside), len(inside)

    def _move_tier(self, state: _State, moment: datetime, allow_downgrade: bool) -> None:
        spend, count = self._window_totals(state, moment)
        decision = engine.decide_tier(self.thresholds, state.tier.code, spend, count,
                                      self.club.tier_window_days, allow_downgrade)
        if decision is None:
            return
        target = self.tier_by_code[decision.code]
        self.writer.add(TierChange, member_id=state.plan.member.id, from_tier_id=state.tier.id,
                        to_tier_id=target.id, reason=decision.reason, created_at=moment)
        state.tier = target
        self.tier_changes += 1

    def nightly(self, member_id: int, moment: datetime) -> None:
        self._move_tier(self.states[member_id], moment, allow_downgrade=True)

    def purchase(self, member_id: int, planned: PlannedPurchase) -> None:
        """services.purchase_pipeline.run, without the messages."""
        state, moment = self.states[member_id], planned.moment
        member = state.plan.member
        day = local(moment).date()
        outcome = engine.price_purchase(
            engine.PurchaseRequest(planned.amount_rials,
                                   engine.USE_ALL_CREDIT if planned.use_credit else 0,
                                   state.credit),
            tier_rules(state.tier), club=club_rules(self.club),
            member=engine.MemberContext(
                previous_visits=state.count, last_visit_at=state.last_visit,
                birth_date=member.birth_date, wedding_date=member.wedding_date,
                credit_spent_today_rials=state.credit_spent_on.get(day, 0),
                offer_uses=dict(state.offer_uses)),
            offers=self.offers, now=moment)
        assert not outcome.gift_credit, "the demo's offers give no expiring credit"
        self.purchases += 1
        key = f"demo:purchase:{self.purchases}"
        transaction = self._transaction(state, key, "purchase",
                                        f"purchase of {outcome.amount_rials:,} rials", moment)
        if outcome.credit_used_rials:
            self._credit_out(state, transaction, outcome.credit_used_rials, moment)
            state.credit_spent_on[day] = state.credit_spent_on.get(day, 0) \
                + outcome.credit_used_rials
        if outcome.credit_earned_rials:
            self._credit_in(state, transaction, outcome.credit_earned_rials, moment,
                            planned.branch_id)
        if outcome.points_earned:
            self._points_in(state, transaction, outcome.points_earned, moment)
        commission, referrer = 0, None
        if member.referrer_id is not None:
            referrer = self.states[member.referrer_id]
            commission = outcome.payable_rials * self.club.referral_commission_bp // BASIS_POINTS
            bonus = self.club.referral_first_purchase_bonus_rials if state.count == 0 else 0
            if commission:
                reward = self._transaction(
                    referrer, f"{key}:commission", "commission",
                    f"commission on purchase {self.writer.next_id[Purchase]} by member "
                    f"{member.id}", moment)
                self._credit_in(referrer, reward, commission, moment, None)
            if bonus:
                reward = self._transaction(referrer, f"{key}:referral-first", "referral",
                                           f"member {member.id}'s first purchase", moment)
                self._credit_in(referrer, reward, bonus, moment, None)
        purchase_id = self.writer.add(
            Purchase, member_id=member.id, card_id=state.card_id, branch_id=planned.branch_id,
            device_id=None, ledger_transaction_id=transaction,
            amount_rials=outcome.amount_rials, discount_rials=outcome.discount_rials,
            credit_used_rials=outcome.credit_used_rials, payable_rials=outcome.payable_rials,
            credit_earned_rials=outcome.credit_earned_rials,
            points_earned=outcome.points_earned, offline=False,
            commission_member_id=referrer.plan.member.id if commission else None,
            commission_rials=commission, refunded_amount_rials=0, created_at=moment)
        for offer in outcome.offers:
            self.writer.add(OfferRedemption, offer_id=offer.offer_id, member_id=member.id,
                            purchase_id=purchase_id, discount_rials=offer.discount_rials,
                            points=offer.points, credit_rials=offer.credit_rials,
                            created_at=moment)
            state.offer_uses[offer.offer_id] = state.offer_uses.get(offer.offer_id, 0) + 1
        if moment > self.now - happy_calls.CALL_WITHIN:
            self.writer.add(CallTask, purchase_id=purchase_id, member_id=member.id,
                            branch_id=planned.branch_id,
                            due_at=moment + happy_calls.CALL_WITHIN, status="open",
                            attempts=0, note="", staff_user_id=None, closed_at=None)
        state.spend += outcome.payable_rials
        state.count += 1
        state.last_visit = moment
        state.window.append((moment, outcome.payable_rials))
        self._move_tier(state, moment, allow_downgrade=False)


@dataclass(frozen=True)
class Snapshot:
    """A member as the simulation leaves them at a moment."""

    tier_code: str
    last_visit: datetime | None
    spend_rials: int
    purchases: int


def _simulate(session: Session, plans: list[PlannedMember], card_ids: dict[int, int],
              now: datetime, until: datetime) -> _Club:
    writer = _Writer(session)
    club = _Club(session, writer, now)
    # (moment, order, sequence, kind, payload): joins first at a moment, then nightly
    # runs, then purchases; the sequence keeps the plan's order among equals.
    events: list[tuple] = []
    sequence = 0
    for plan in plans:
        member = plan.member
        assert member.joined_at < now and member.credit_balance_rials == 0
        events.append((member.joined_at, 0, sequence, "join", plan))
        sequence += 1
        for planned in plan.purchases:
            assert member.joined_at < planned.moment < now, "a purchase between join and now"
            events.append((planned.moment, 2, sequence, "purchase", (member.id, planned)))
            sequence += 1
            # The nightly run after this purchase leaves the window may move them down.
            check = nightly_after(planned.moment + club.window)
            if check < now:
                events.append((check, 1, sequence, "nightly", member.id))
                sequence += 1
    heapq.heapify(events)
    while events and events[0][0] < until:
        moment, _, _, kind, payload = heapq.heappop(events)
        if kind == "join":
            club.join(payload, card_ids[payload.member.id])
        elif kind == "nightly":
            club.nightly(payload, moment)
        else:
            club.purchase(*payload)
    return club


def snapshots(session: Session, plans: list[PlannedMember], card_ids: dict[int, int],
              now: datetime, moment: datetime) -> dict[int, Snapshot]:
    """Members (by id) as the plans leave them just before `moment`, writing nothing: to
    pick a past campaign's audience by what members were then."""
    club = _simulate(session, plans, card_ids, now, moment)
    return {member_id: Snapshot(state.tier.code, state.last_visit, state.spend, state.count)
            for member_id, state in club.states.items()}


def write_history(session: Session, plans: list[PlannedMember], card_ids: dict[int, int],
                  now: datetime, *, settle_tiers: bool = True) -> HistoryResult:
    """Simulate `plans` (members already flushed, joined before `now`, none with a
    balance yet) in time order and write their rows; the members' cached columns and
    tiers are set to where the simulation leaves them — with `settle_tiers`, after the
    nightly run `now` would make. The caller commits."""
    club = _simulate(session, plans, card_ids, now, now)
    if settle_tiers:
        for member_id in club.states:  # the nightly run of the seed day, as if run now
            club.nightly(member_id, now)
    club.writer.flush(session)
    for state in club.states.values():
        member = state.plan.member
        member.tier_id = state.tier.id
        member.credit_balance_rials = state.credit
        member.points_balance = state.points
        member.total_spend_rials = state.spend
        member.purchase_count = state.count
        member.last_visit_at = state.last_visit
    session.flush()
    return HistoryResult(club.purchases, club.tier_changes)

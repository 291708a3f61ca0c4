"""Did an offer or a campaign pay? (R3 "campaign ROI / offer effectiveness")

One measure for both, `measure_effect`: a treated group exposed at one instant against a
control group, compared by difference in differences over equal windows before and after
the exposure:

    change per member  = (sales after − sales before) / members, for each group
    incremental sales  = (change per treated member − change per control member)
                         × treated members
    ROI                = (incremental sales − cost) / cost

Sales are list amounts net of refunds (`amount − refunded`), so the discounts an offer
gives are counted once, in its cost, not also as lost revenue. ROI is on revenue: Vafa
does not know the shop's margins.

How sure: each member's change (after − before) varies, so the difference of the two
groups' mean changes has a standard error (Welch's: √(s²ₜ/nₜ + s²꜀/n꜀), with members who
bought nothing in either window counted as a change of 0). ±1.96 standard errors is the
95 % interval under the normal approximation (`Effect.margin_per_member_rials`): an
incremental figure inside it could be chance. The approximation is fair from a few dozen
members per group; below that the figure is a hint, and the pages say so.

Campaigns (backend.services.reports.campaign_effects) call `measure_effect` with their
recipients as the treated group, the hold-out chosen at random at send time as the
control, and the send time as the exposure: randomisation makes the two groups
comparable. Offers have no hold-out: they apply by themselves at the till.
`offer_effects` therefore compares the members who redeemed an offer in the period with
the members who also bought in the period (same branch and tier filters, in the offer's
target tiers) but did not redeem it. Both groups came to the shop, so coming is not
mistaken for the offer's effect; the difference in differences removes their different
spending levels. What remains is selection by the offer's own conditions (a "spend over
5 million" offer picks big spenders), so the result is an estimate, not an experiment —
the page and docs/reports.md say so. An offer that brings lapsed members back is
under-counted, because coming back is what is held equal.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Float,
    Integer,
    Select,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from backend.models import (
    Member,
    MemberMonthSales,
    Offer,
    OfferRedemption,
    Purchase,
    Tier,
    the_club,
)
from backend.services.reports import periods, summaries
from backend.services.reports.sql import (
    Filters,
    as_int,
    branch_and_tier,
    counted_purchase,
    net_sales,
    ratio,
)

# Two-sided 95 % for the normal approximation of the difference of two means.
Z_95 = 1.96
TREATED, CONTROL = 1, 0  # offer_effects' groups in its one statement


@dataclass(frozen=True)
class GroupOutcome:
    members: int
    buyers_after: int
    sales_before_rials: int
    sales_after_rials: int
    # Σ over the group's members of (sales after − sales before)², for the spread of the
    # change; None when not measured (offer_effects).
    change_sum_squares: float | None = None

    @property
    def change_per_member(self) -> float | None:
        return ratio(self.sales_after_rials - self.sales_before_rials, self.members)

    @property
    def change_variance(self) -> float | None:
        """The sample variance of the per-member change (members without a purchase in
        either window changed by 0); None for fewer than two members."""
        if self.change_sum_squares is None or self.members < 2:
            return None
        total = self.sales_after_rials - self.sales_before_rials
        spread = self.change_sum_squares - total * total / self.members
        return max(0.0, spread / (self.members - 1))


@dataclass(frozen=True)
class Effect:
    treated: GroupOutcome
    control: GroupOutcome
    cost_rials: int

    @property
    def incremental_sales_rials(self) -> int | None:
        treated, control = self.treated.change_per_member, self.control.change_per_member
        if treated is None or control is None:
            return None
        return round((treated - control) * self.treated.members)

    @property
    def roi(self) -> float | None:
        incremental = self.incremental_sales_rials
        if incremental is None or not self.cost_rials:
            return None
        return (incremental - self.cost_rials) / self.cost_rials

    @property
    def incremental_per_member_rials(self) -> float | None:
        """The treated group's change per member less the control group's."""
        treated, control = self.treated.change_per_member, self.control.change_per_member
        if treated is None or control is None:
            return None
        return treated - control

    @property
    def margin_per_member_rials(self) -> float | None:
        """Half the 95 % interval of `incremental_per_member_rials` (Welch's standard
        error of a difference of two means, normal approximation): an effect smaller than
        this could be chance. None when either group has fewer than two members."""
        treated, control = self.treated.change_variance, self.control.change_variance
        if treated is None or control is None:
            return None
        return Z_95 * math.sqrt(treated / self.treated.members
                                + control / self.control.members)


def _as_select(members: Select | Iterable[int]) -> Select:
    if isinstance(members, Select):
        return members
    ids = sorted(set(members))
    return select(Member.id).where(Member.id.in_(ids))


def _outcome(session: Session, members: Select, exposed_at: datetime, window: timedelta,
             branch_id: int | None) -> GroupOutcome:
    group = members.subquery()
    member_id = group.c[0]
    size = session.scalar(select(func.count(distinct(member_id))))
    after = Purchase.created_at >= exposed_at
    conditions = [Purchase.member_id.in_(select(member_id)), counted_purchase(),
                  Purchase.created_at >= exposed_at - window,
                  Purchase.created_at < exposed_at + window]
    if branch_id is not None:
        conditions.append(Purchase.branch_id == branch_id)
    # Per member first, so the spread of the change comes in the same pass.
    per_member = (select(func.sum(case((after, 0), else_=net_sales())).label("before"),
                         func.sum(case((after, net_sales()), else_=0)).label("after"),
                         func.max(case((after, 1), else_=0)).label("came"))
                  .where(*conditions).group_by(Purchase.member_id).subquery())
    change = cast(per_member.c.after - per_member.c.before, Float)
    before_sum, after_sum, buyers, squares = session.execute(
        select(func.coalesce(func.sum(per_member.c.before), 0),
               func.coalesce(func.sum(per_member.c.after), 0),
               func.coalesce(func.sum(per_member.c.came), 0),
               func.coalesce(func.sum(change * change), 0.0))).one()
    return GroupOutcome(int(size or 0), int(buyers or 0), as_int(before_sum), as_int(after_sum),
                        float(squares))


def measure_effect(session: Session, *, treated: Select | Iterable[int], exposed_at: datetime,
                   control: Select | Iterable[int], window_days: int, cost_rials: int,
                   branch_id: int | None = None) -> Effect:
    """Compare `treated` with `control` around `exposed_at` (see the module docstring).

    `treated` and `control` are member ids, or better a one-column SELECT of them (a
    campaign's recipients and hold-out rows), so large groups never travel through
    Python. Windows are `window_days` before and after the exposure; `cost_rials` is what
    the offer or campaign cost (rewards given, messages sent)."""
    assert window_days > 0 and cost_rials >= 0
    window = timedelta(days=window_days)
    return Effect(
        _outcome(session, _as_select(treated), exposed_at, window, branch_id),
        _outcome(session, _as_select(control), exposed_at, window, branch_id),
        cost_rials)


@dataclass(frozen=True)
class OfferEffect:
    offer_id: int
    name: str
    redemptions: int
    effect: Effect


def offer_effects(session: Session, filters: Filters) -> list[OfferEffect]:
    """Every offer redeemed in the period, measured as `measure_effect` would: exposure at
    the period's start, windows of the period's length, cost = discounts + credit + points
    (at the club's point value) the offer gave in the period.

    All offers at once, in one statement over one per-member pass of the two windows
    (rather than two passes per offer): the treated groups and the comparison groups —
    members who bought in the period, in the offer's target tiers, who did not redeem —
    side by side (UNION ALL) over the same materialised per-member sums."""
    period = filters.period
    club = the_club(session)
    point_value = club.point_value_rials if club is not None else 0
    in_period = [OfferRedemption.created_at >= period.start,
                 OfferRedemption.created_at < period.end]
    if filters.branch_id is not None:
        in_period.append(OfferRedemption.purchase_id.in_(
            select(Purchase.id).where(Purchase.branch_id == filters.branch_id)))
    if filters.tier_id is not None:
        in_period.append(OfferRedemption.member_id.in_(
            select(Member.id).where(Member.tier_id == filters.tier_id)))
    used = session.execute(
        select(OfferRedemption.offer_id, func.count(OfferRedemption.id),
               func.coalesce(func.sum(OfferRedemption.discount_rials
                                      + OfferRedemption.credit_rials
                                      + OfferRedemption.points * point_value), 0))
        .where(*in_period).group_by(OfferRedemption.offer_id)).all()
    if not used:
        return []
    per_member = _per_member_windows(filters).cte("per_member").prefix_with("MATERIALIZED")
    treated = (select(OfferRedemption.offer_id, OfferRedemption.member_id)
               .where(*in_period).distinct().cte("treated"))
    offers = {offer.id: offer for offer in session.scalars(
        select(Offer).where(Offer.id.in_([offer_id for offer_id, _, _ in used])))}
    tiers = {tier.code: tier.id for tier in session.scalars(select(Tier))}
    pairs = [select(literal(offer_id, Integer).label("offer_id"),
                    literal(tier_id, Integer).label("tier_id"))
             for offer_id, offer in offers.items()
             for tier_id in ([tiers[code] for code in offer.tier_codes.split(",")
                              if code in tiers] if offer.tier_codes else tiers.values())]
    eligible = (union_all(*pairs) if len(pairs) > 1 else pairs[0]).cte("eligible")

    def outcome_query(group, select_from, offer_id, where=()):
        return (select(literal(group, Integer).label("group"), offer_id.label("offer_id"),
                       func.count(), func.coalesce(func.sum(per_member.c.before), 0),
                       func.coalesce(func.sum(per_member.c.after), 0),
                       func.coalesce(func.sum(per_member.c.came), 0))
                .select_from(select_from).where(*where).group_by(offer_id))

    rows = session.execute(union_all(
        outcome_query(TREATED, treated.outerjoin(
            per_member, per_member.c.member_id == treated.c.member_id), treated.c.offer_id),
        outcome_query(
            CONTROL, per_member.join(Member, Member.id == per_member.c.member_id)
            .join(eligible, eligible.c.tier_id == Member.tier_id),
            eligible.c.offer_id,
            (per_member.c.came == 1, ~exists(select(treated.c.member_id).where(
                treated.c.offer_id == eligible.c.offer_id,
                treated.c.member_id == per_member.c.member_id)))))).all()
    treated_rows = [row[1:] for row in rows if row[0] == TREATED]
    control_rows = [row[1:] for row in rows if row[0] == CONTROL]

    def outcomes(rows):
        return {row[0]: GroupOutcome(int(row[1]), as_int(row[4]), as_int(row[2]),
                                     as_int(row[3])) for row in rows}

    treated_by_offer, control_by_offer = outcomes(treated_rows), outcomes(control_rows)
    empty = GroupOutcome(0, 0, 0, 0)
    results = [OfferEffect(offer_id, offers[offer_id].name, redemptions,
                           Effect(treated_by_offer.get(offer_id, empty),
                                  control_by_offer.get(offer_id, empty), int(cost)))
               for offer_id, redemptions, cost in used]
    results.sort(key=lambda item: (-item.redemptions, item.offer_id))
    return results


def _per_member_windows(filters: Filters):
    """(member, sales before, sales after, came after) over the two windows of the
    period's length either side of its start: from member_month_sales when those are two
    whole Jalali months (the period one, and the month before as long as it), else from
    the purchases."""
    period = filters.period
    before = periods.previous(period)
    if summaries.is_whole_month(period) and before.days == period.days:
        summary = MemberMonthSales
        return _before_and_after(
            filters, summary.member_id, summary.branch_id, summary.month_start >= period.start,
            summary.sales_rials, [summary.month_start >= before.start,
                                  summary.month_start < period.end, summary.purchases > 0])
    window = timedelta(days=period.days)
    return _before_and_after(
        filters, Purchase.member_id, Purchase.branch_id, Purchase.created_at >= period.start,
        net_sales(), [counted_purchase(), Purchase.created_at >= period.start - window,
                      Purchase.created_at < period.start + window])


def _before_and_after(filters: Filters, member_id, branch_id, after, sales, conditions):
    return (select(member_id.label("member_id"),
                   func.sum(case((after, 0), else_=sales)).label("before"),
                   func.sum(case((after, sales), else_=0)).label("after"),
                   func.max(case((after, 1), else_=0)).label("came"))
            .where(*conditions, *branch_and_tier(filters, member_id, branch_id))
            .group_by(member_id))
